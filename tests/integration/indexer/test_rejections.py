"""Documents the search engine refuses for good go to the DLQ with its reason; the rest is indexed and committed.

On OpenSearch the conflict is a real one: the template maps `response` as an integer and the node refuses "abc"."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamstash import names
from tests.helpers.elastic import SearchClient, all_documents, count, wait_for_count
from tests.helpers.engines import MAPPING_ERROR, es_of_each_engine, servers_of_each_engine  # noqa: F401 - runs on each engine
from tests.helpers.kafka import read_dead_letters
from tests.helpers.metrics import assert_service_metrics
from tests.helpers.processes import ServiceProcess
from tests.helpers.waiting import wait_until
from tests.integration.indexer.support import (
    access_events,
    bulk_items,
    committed_offsets,
    create_topics,
    end_offsets,
    feed,
    indexer_pipeline,
)

pytestmark = pytest.mark.integration

PARTITIONS = 3


def test_mapping_conflicts_go_to_the_dlq_with_the_reason_and_the_batch_commits(
    servers, es: SearchClient, tmp_path: Path, log_dir: Path
) -> None:
    pipeline = indexer_pipeline(tmp_path, {"bulk": {"max_docs": 50, "flush_ms": 100}}, partitions=PARTITIONS)
    create_topics(pipeline, servers.kafka)
    records = [access_events(record, 40, start_offset=record * 40) for record in range(6)]
    # The template maps `response` as an integer; "abc" cannot be one.
    bad_ids = set()
    for record, position in ((1, 5), (1, 6), (4, 39)):
        event = records[record][position]
        event.fields["response"] = "abc"
        bad_ids.add(event.id)
    feed(servers.kafka, pipeline.topics.parsed, records)
    good = 6 * 40 - len(bad_ids)

    indexer = ServiceProcess(names.SERVICE_INDEXER, pipeline.path, servers.kafka, servers.elasticsearch, log_dir)
    try:
        wait_for_count(es, pipeline.index, good, timeout=90)
        letters = read_dead_letters(servers.kafka, pipeline.topics.dlq, expected=len(bad_ids))
        port = indexer.http_port
        # Committed only after the DLQ held the rejected ones: every partition up to its end.
        ends = end_offsets(servers.kafka, pipeline.topics.parsed, PARTITIONS)
        group = f"{pipeline.prefix}-{names.SERVICE_INDEXER}"
        wait_until(
            lambda: committed_offsets(servers.kafka, group, pipeline.topics.parsed, PARTITIONS) == ends,
            timeout=30,
            message="offsets not committed to the end",
        )
        assert_service_metrics(port, names.SERVICE_INDEXER, received=240, sent=good)
        assert bulk_items(port, "rejected") == len(bad_ids)
        assert bulk_items(port, "created") == good
    finally:
        indexer.stop()

    assert {letter.event.id for letter in letters} == bad_ids
    for letter in letters:
        assert letter.stage == names.SERVICE_INDEXER
        assert "failed to parse field [response]" in letter.reason, letter.reason
        assert letter.reason.startswith(f"elasticsearch rejected: {MAPPING_ERROR[servers.search]}"), letter.reason
        assert names.TAG_INDEX_REJECTED in letter.event.tags
        assert letter.event.fields["response"] == "abc"
    assert count(es, pipeline.index) == good
    stored = all_documents(es, pipeline.index)
    assert not bad_ids & {doc["_id"] for doc in stored}
    assert all(isinstance(doc["response"], int) for doc in stored)
