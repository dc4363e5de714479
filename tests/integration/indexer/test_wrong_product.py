"""An indexer told the wrong product stops at start and says what to set, instead of retrying for ever or
sending every document to the DLQ (the Elasticsearch client's product check fails every request)."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamstash import names
from tests.helpers.elastic import SearchClient, count
from tests.helpers.engines import es_of_each_engine, servers_of_each_engine  # noqa: F401 - runs on each engine
from tests.helpers.kafka import read_dead_letters
from tests.helpers.processes import ServiceProcess
from tests.integration.indexer.support import access_events, create_topics, feed, indexer_pipeline

pytestmark = pytest.mark.integration


def test_the_other_distribution_stops_the_indexer_with_what_to_set(
    servers, es: SearchClient, tmp_path: Path, log_dir: Path
) -> None:
    wrong = "elasticsearch" if servers.distribution == "opensearch" else "opensearch"
    pipeline = indexer_pipeline(tmp_path, {"bulk": {"flush_ms": 100}})
    create_topics(pipeline, servers.kafka)
    feed(servers.kafka, pipeline.topics.parsed, [access_events(0, 10)])
    indexer = ServiceProcess(
        names.SERVICE_INDEXER,
        pipeline.path,
        servers.kafka,
        servers.elasticsearch,
        log_dir,
        extra_env={names.ENV_ELASTICSEARCH_DISTRIBUTION: wrong},
    )
    code = indexer.wait_exit(90)
    indexer.stop()
    log = indexer.log_text()
    assert code == 2, log[-2000:]
    assert f"set `elasticsearch.distribution: {servers.distribution}`" in log, log[-2000:]
    assert count(es, pipeline.index) == 0
    read_dead_letters(servers.kafka, pipeline.topics.dlq, expected=0, timeout=3)
