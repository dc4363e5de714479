"""kill -9 mid-stream, restart: every document indexed exactly once in effect.

Offsets are committed only behind documents Elasticsearch acknowledged, so the restarted indexer
re-reads whatever the killed one had not committed; document ids are deterministic, so each
re-read document overwrites itself (version 2, `updated`) instead of adding a duplicate.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from streamstash import names
from tests.helpers.elastic import SearchClient, count, wait_for_count
from tests.helpers.engines import es_of_each_engine, opensearch_by_default, servers_of_each_engine  # noqa: F401 - runs on each engine
from tests.helpers.processes import ServiceProcess
from tests.helpers.waiting import wait_until
from tests.integration.indexer.support import (
    bulk_items,
    create_topics,
    document_versions,
    feed_documents,
    indexer_pipeline,
    indexer_sample,
)

pytestmark = pytest.mark.integration

DOCUMENTS = 20_000
PER_RECORD = 100
KILL_AFTER = 3_000  # documents acknowledged before the kill


def stable_count(es: SearchClient, index: str) -> int:
    """The count once requests the killed process had sent are all applied (two equal reads 1 s apart)."""
    previous = [-1]

    def settled() -> int | None:
        current = count(es, index)
        if current == previous[0]:
            return current or None
        previous[0] = current
        time.sleep(1)
        return None

    return wait_until(settled, timeout=30, interval=0.1, message="count kept changing after the kill")


@opensearch_by_default
def test_kill9_and_restart_index_every_document_exactly_once(
    servers, es: SearchClient, tmp_path: Path, log_dir: Path
) -> None:
    # Static membership: the restarted indexer takes the killed one's place in the group at once. (Without
    # it a real broker reassigns after the session timeout; the local stand-in never expires the dead member.)
    pipeline = indexer_pipeline(
        tmp_path, {"bulk": {"max_docs": 500, "flush_ms": 100, "max_in_flight": 4}, "group_instance_id": "indexer-0"}
    )
    create_topics(pipeline, servers.kafka)
    ids = feed_documents(servers.kafka, pipeline.topics.parsed, DOCUMENTS, PER_RECORD)
    assert len(set(ids)) == DOCUMENTS

    first = ServiceProcess(
        names.SERVICE_INDEXER, pipeline.path, servers.kafka, servers.elasticsearch, log_dir, name="indexer-killed"
    )
    try:
        port = first.http_port
        wait_until(
            lambda: indexer_sample(port, "streamstash_events_sent_total") >= KILL_AFTER,
            timeout=90,
            interval=0.05,
            message="the first indexer never got going",
        )
        failed_before_kill = indexer_sample(port, "streamstash_bulk_errors_total")
    finally:
        first.kill9()
    indexed_before_restart = stable_count(es, pipeline.index)
    assert KILL_AFTER <= indexed_before_restart < DOCUMENTS, "the kill did not land mid-stream"

    second = ServiceProcess(
        names.SERVICE_INDEXER, pipeline.path, servers.kafka, servers.elasticsearch, log_dir, name="indexer-restarted"
    )
    missing = DOCUMENTS - indexed_before_restart
    try:
        wait_for_count(es, pipeline.index, DOCUMENTS, timeout=300)  # minutes only on a crowded machine
        port = second.http_port
        # The restarted indexer wrote at least everything that was missing ...
        wait_until(
            lambda: bulk_items(port, "created") + bulk_items(port, "updated") >= missing,
            timeout=60,
            message="the restarted indexer did not write the missing documents",
        )
        created, overwritten = bulk_items(port, "created"), bulk_items(port, "updated")
        failed_requests = indexer_sample(port, "streamstash_bulk_errors_total")
        assert bulk_items(port, "rejected") == 0
    finally:
        second.stop()

    assert count(es, pipeline.index) == DOCUMENTS
    versions = document_versions(es, pipeline.index)
    assert set(versions) == set(ids)  # no duplicate, none missing
    overwrites = sum(version - 1 for version in versions.values())
    if failed_requests == 0 and failed_before_kill == 0:
        # ... created exactly what was missing, and each re-read document overwrote itself once.
        assert created == missing
        assert overwrites == overwritten
    else:
        # A request that timed out may still have been applied; its retry then counts as `updated`.
        assert created <= missing
        assert overwrites >= overwritten
    assert max(versions.values()) <= 2 + failed_requests + failed_before_kill
    print(
        f"\nkilled after {indexed_before_restart} documents; restart created {created:.0f}, "
        f"overwrote {overwritten:.0f} (failed requests: {failed_requests:.0f})"
    )
