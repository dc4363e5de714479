"""ECS v8 field names in the search engine, and a data stream written with `create` and replayed: 409 counts as
indexed. On OpenSearch the data stream is a real one (the template declares it; the node makes the backing index)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from streamstash import names
from streamstash.config import load_pipeline
from tests.helpers.elastic import SearchClient, all_documents, body, count, wait_for_count
from tests.helpers.engines import es_of_each_engine, servers_of_each_engine  # noqa: F401 - runs on each engine
from tests.helpers.kafka import read_dead_letters
from tests.helpers.processes import ServiceProcess
from tests.helpers.waiting import wait_until
from tests.integration.indexer.support import (
    access_events,
    bulk_items,
    create_topics,
    feed,
    indexer_pipeline,
    indexer_sample,
)

pytestmark = pytest.mark.integration

RECORDS = 3
PER_RECORD = 100


def test_ecs_names_and_create_replay_counts_409_as_already_indexed(
    servers, es: SearchClient, tmp_path: Path, log_dir: Path
) -> None:
    pipeline = indexer_pipeline(tmp_path, {"ecs_compatibility": "v8", "data_stream": True, "bulk": {"flush_ms": 100}})
    assert pipeline.config.outputs.elasticsearch.op_type == "create"
    create_topics(pipeline, servers.kafka)
    feed(
        servers.kafka,
        pipeline.topics.parsed,
        [access_events(record, PER_RECORD, start_offset=record * PER_RECORD) for record in range(RECORDS)],
    )
    total = RECORDS * PER_RECORD

    first = ServiceProcess(
        names.SERVICE_INDEXER, pipeline.path, servers.kafka, servers.elasticsearch, log_dir, name="indexer-first"
    )
    try:
        wait_for_count(es, pipeline.index, total, timeout=90)
        port = first.http_port
        wait_until(lambda: bulk_items(port, "created") == total, timeout=30)
    finally:
        first.stop()

    document = next(doc for doc in all_documents(es, pipeline.index) if doc["_id"] == "logs.raw:0:1:7")
    assert document["http"]["response"]["status_code"] == 200 + (107 % 3)
    assert document["http"]["response"]["body"]["bytes"] == 1107
    assert document["http"]["request"]["method"] == "GET"
    assert document["url"]["original"] == "/page/107"
    assert document["source"] == {"address": "10.0.107.2"}
    assert document["log"] == {"file": {"path": "/var/log/access.log"}, "offset": 107}
    assert document["input"] == {"type": "file"}
    for classic in ("response", "bytes", "verb", "request", "clientip"):
        assert classic not in document
    if servers.search == "opensearch":  # the stand-in has no data streams; the node made a real one
        streams = body(es.indices.get_data_stream(name=pipeline.index))["data_streams"]
        assert [stream["name"] for stream in streams] == [pipeline.index]
        assert streams[0]["indices"][0]["index_name"].startswith(f".ds-{pipeline.index}-")
    mapping = body(es.indices.get_mapping(index=pipeline.index))
    properties = next(iter(mapping.values()))["mappings"]["properties"]
    assert properties["http"]["properties"]["response"]["properties"]["status_code"]["type"] == "long"

    # A second consumer group reads everything again: every `create` answers 409, which is success.
    replay = tmp_path / "replay.yml"
    document_tree = yaml.safe_load(pipeline.path.read_text())
    document_tree["kafka"]["consumer_group_prefix"] = f"{pipeline.prefix}-replay"
    replay.write_text(yaml.safe_dump(document_tree, sort_keys=False))
    load_pipeline(replay, env={})
    second = ServiceProcess(
        names.SERVICE_INDEXER, replay, servers.kafka, servers.elasticsearch, log_dir, name="indexer-replay"
    )
    try:
        port = second.http_port
        wait_until(
            lambda: bulk_items(port, "already_indexed") == total,
            timeout=90,
            message="replayed creates were not counted as already indexed",
        )
        assert bulk_items(port, "created") == 0
        assert bulk_items(port, "rejected") == 0
        wait_until(
            lambda: indexer_sample(port, "streamstash_events_sent_total") == total,
            timeout=30,
            message="replayed documents were not counted as sent",
        )
    finally:
        second.stop()
    assert count(es, pipeline.index) == total
    read_dead_letters(servers.kafka, pipeline.topics.dlq, expected=0, timeout=3)
