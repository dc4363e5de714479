"""A real indexer start-up, logged at DEBUG, never shows the Elasticsearch password or API key."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamstash import names
from tests.helpers.elastic import SearchClient, count, wait_for_count
from tests.helpers.engines import es_of_each_engine, servers_of_each_engine  # noqa: F401 - runs on each engine
from tests.helpers.processes import ServiceProcess
from tests.helpers.waiting import wait_until
from tests.integration.indexer.support import access_events, create_topics, feed, indexer_pipeline

pytestmark = pytest.mark.integration

PASSWORD = "pw-never-logged-5d1e"
API_KEY = "YXBpLWtleS1uZXZlci1sb2dnZWQ="


@pytest.mark.parametrize("auth", ["basic", "api_key"])
def test_startup_log_holds_no_credentials(servers, es: SearchClient, tmp_path: Path, log_dir: Path, auth: str) -> None:
    # The local stand-in accepts any credentials, and so does the OpenSearch node without its security plugin,
    # so the whole path (template, bulk) runs with them.
    credentials = {"username": "elastic", "password": PASSWORD} if auth == "basic" else {"api_key": API_KEY}
    pipeline = indexer_pipeline(
        tmp_path, {"bulk": {"flush_ms": 100}}, elasticsearch=credentials, logging={"level": "DEBUG"}
    )
    create_topics(pipeline, servers.kafka)
    feed(servers.kafka, pipeline.topics.parsed, [access_events(0, 10)])
    indexer = ServiceProcess(names.SERVICE_INDEXER, pipeline.path, servers.kafka, servers.elasticsearch, log_dir)
    if auth == "api_key" and servers.distribution == "opensearch":
        # OpenSearch has no API keys: the indexer refuses the setting at start, saying so, and sends nothing.
        code = indexer.wait_exit(60)
        indexer.stop()
        assert code != 0
        log = indexer.log_text()
        assert "OpenSearch has none" in log, log[-2000:]
        assert API_KEY not in log
        assert count(es, pipeline.index) == 0
        return
    try:
        wait_for_count(es, pipeline.index, 10, timeout=90)
        wait_until(lambda: "elasticsearch connection" in indexer.log_text(), timeout=30)
    finally:
        indexer.stop()
    log = indexer.log_text()
    assert f'"es_auth":"{auth}"' in log
    assert PASSWORD not in log
    assert API_KEY not in log
