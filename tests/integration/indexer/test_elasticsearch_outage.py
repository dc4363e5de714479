"""The search engine away for 20 s mid-stream: the indexer pauses, stays in its group, is not ready,
then catches up when the engine is back, losing and duplicating nothing.

How the outage is made. OpenSearch: the node itself is stopped (SIGTERM) and started again 20 s later on
the same port with the same data; it recovers its indices from disk before it answers. The stand-in
(noida-db) serves Kafka and Elasticsearch from one process, so its Elasticsearch cannot be stopped alone:
the indexer reaches it through a TCP proxy (:class:`CuttableProxy`) that the test cuts (listening socket
closed, open connections reset: what a stopped Elasticsearch looks like from the indexer) and restores 20 s
later; the test reads the stand-in directly, around the proxy. Kafka stays up in both.
"""

from __future__ import annotations

import contextlib
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from streamstash import names
from tests.conftest import Servers
from tests.helpers.elastic import SearchClient, count, wait_for_count
from tests.helpers.engines import es_of_each_engine, opensearch_by_default, servers_of_each_engine  # noqa: F401 - runs on each engine
from tests.helpers.kafka import read_dead_letters
from tests.helpers.processes import ServiceProcess
from tests.helpers.waiting import wait_until
from tests.integration.indexer.support import (
    CuttableProxy,
    create_topics,
    document_versions,
    feed_documents,
    host_port,
    indexer_pipeline,
    indexer_sample,
)

pytestmark = pytest.mark.integration

OUTAGE_S = 20
BEFORE = 4_000
DURING = 6_000
PER_RECORD = 100


def ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as response:
            return bool(json.loads(response.read())["ready"])
    except urllib.error.HTTPError as exc:
        if exc.code == 503:
            return False
        raise


class Outage:
    """Takes the search engine away from the indexer and brings it back; ``url`` is where the indexer
    reaches it; ``readable`` says whether the test can read the engine meanwhile."""

    def __init__(self, servers: Servers, proxy: CuttableProxy | None) -> None:
        self.servers = servers
        self.proxy = proxy
        self.readable = proxy is not None

    @property
    def url(self) -> str:
        return self.proxy.url if self.proxy is not None else self.servers.elasticsearch

    def begin(self) -> None:
        if self.proxy is not None:
            self.proxy.cut()
        else:
            assert self.servers.stack is not None
            self.servers.stack.stop_search()

    def end(self) -> None:
        if self.proxy is not None:
            self.proxy.restore()
        else:
            assert self.servers.stack is not None
            self.servers.stack.start_search()


@contextlib.contextmanager
def outage_of(servers: Servers) -> Iterator[Outage]:
    if servers.search == "opensearch":
        outage = Outage(servers, None)
        try:
            yield outage
        finally:
            outage.end()  # whatever happened, the session's node runs again for the tests after this one
        return
    with CuttableProxy(*host_port(servers.elasticsearch)) as proxy:
        yield Outage(servers, proxy)


@opensearch_by_default
def test_elasticsearch_down_for_20s_pauses_then_catches_up_with_nothing_lost(
    servers, es: SearchClient, tmp_path: Path, log_dir: Path
) -> None:
    pipeline = indexer_pipeline(
        tmp_path, {"bulk": {"max_docs": 500, "flush_ms": 100, "max_in_flight": 4, "retry_max_ms": 2000}}
    )
    create_topics(pipeline, servers.kafka)
    with outage_of(servers) as outage:
        indexer = ServiceProcess(names.SERVICE_INDEXER, pipeline.path, servers.kafka, outage.url, log_dir)
        try:
            port = indexer.http_port
            ids = feed_documents(servers.kafka, pipeline.topics.parsed, BEFORE, PER_RECORD)
            wait_for_count(es, pipeline.index, BEFORE, timeout=90)
            wait_until(lambda: ready(port), timeout=30, message="indexer not ready before the outage")

            outage.begin()
            outage_started = time.monotonic()
            ids += feed_documents(
                servers.kafka, pipeline.topics.parsed, DURING, PER_RECORD, first_record=BEFORE // PER_RECORD
            )
            wait_until(lambda: not ready(port), timeout=OUTAGE_S, message="still ready with Elasticsearch away")
            wait_until(
                lambda: indexer_sample(port, "streamstash_consumer_paused") == 1,
                timeout=OUTAGE_S,
                message="consumption never paused",
            )
            wait_until(
                lambda: indexer_sample(port, "streamstash_consumer_lag") > 0,
                timeout=OUTAGE_S,
                message="consumer lag not reported while paused",
            )
            remaining = OUTAGE_S - (time.monotonic() - outage_started)
            if remaining > 0:
                time.sleep(remaining)  # the outage itself: how long Elasticsearch stays away
            if outage.readable:
                assert count(es, pipeline.index) == BEFORE, "documents arrived although the path was cut"
            assert indexer_sample(port, "streamstash_events_sent_total") == BEFORE, "acknowledged while away"
            assert indexer.alive()
            errors = indexer_sample(port, "streamstash_bulk_errors_total", kind="connection")
            assert errors >= 2, "bulk requests were not retried during the outage"

            outage.end()
            wait_for_count(es, pipeline.index, BEFORE + DURING, timeout=120)
            wait_until(lambda: ready(port), timeout=30, message="not ready again after Elasticsearch returned")
            wait_until(
                lambda: indexer_sample(port, "streamstash_consumer_paused") == 0,
                timeout=30,
                message="consumption never resumed",
            )
            assert indexer_sample(port, "streamstash_events_sent_total") == BEFORE + DURING
            wait_until(
                lambda: indexer_sample(port, "streamstash_consumer_lag") == 0,
                timeout=30,
                message="consumer lag not back to zero after catching up",
            )
            assert "partitions revoked" not in indexer.log_text(), "the outage cost the group membership"
        finally:
            indexer.stop()

    assert count(es, pipeline.index) == BEFORE + DURING
    assert set(document_versions(es, pipeline.index)) == set(ids)
    read_dead_letters(servers.kafka, pipeline.topics.dlq, expected=0, timeout=3)
