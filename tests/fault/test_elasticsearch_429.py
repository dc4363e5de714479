"""429s: the indexer backs off and retries, and every document ends up there exactly once (nothing
dead-lettered, nothing lost).

Two ways to get them: a real OpenSearch node started with a write thread pool of one thread and one queue
slot, which rejects what concurrent bulks send beyond that (``es_rejected_execution_exception``, item by
item or the whole request); and, in front of the stand-in (which never answers 429), a proxy answering
429 to every `_bulk` for 30 s."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch
from opensearchpy import OpenSearch

from streamstash import names
from streamstash.stack.errors import StackError
from streamstash.stack.opensearch_node import OpenSearchServer
from tests.helpers.elastic import count, wait_for_count
from tests.helpers.es_proxy import RefusingProxy
from tests.helpers.kafka import read_dead_letters
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

pytestmark = [pytest.mark.integration, pytest.mark.fault]

REFUSAL_S = 30
DOCUMENTS = 3_000
PER_RECORD = 100
# One write thread and one queue slot: the third shard-level write in flight at once is rejected.
TINY_WRITE_QUEUE = {"thread_pool.write.size": "1", "thread_pool.write.queue_size": "1"}
BACKLOG = 3_000


def write_rejections(client: OpenSearch) -> int:
    """How many tasks the node's write thread pool rejected since it started."""
    stats = client.nodes.stats(metric="thread_pool")
    return sum(int(node["thread_pool"]["write"]["rejected"]) for node in stats["nodes"].values())


def test_real_429s_from_a_node_with_a_tiny_write_queue_then_everything_indexed_once(
    own_stack: Callable[..., Any], tmp_path: Path, log_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    try:
        OpenSearchServer().check()
    except StackError as exc:
        pytest.skip(f"OpenSearch cannot run here: {exc}")
    _, addresses = own_stack(search="opensearch", search_settings=TINY_WRITE_QUEUE)
    monkeypatch.setenv(names.ENV_ELASTICSEARCH_DISTRIBUTION, addresses.search_distribution)
    client = OpenSearch(addresses.elasticsearch, timeout=30)
    # Eight bulks in flight at once, whatever the 429s: the pressure must not adapt away.
    pipeline = indexer_pipeline(
        tmp_path,
        {
            "bulk": {
                "max_docs": 100,
                "flush_ms": 50,
                "max_in_flight": 8,
                "adaptive_concurrency": False,
                "retry_initial_ms": 20,
                "retry_max_ms": 500,
            }
        },
    )
    create_topics(pipeline, addresses.kafka)
    ids = feed_documents(addresses.kafka, pipeline.topics.parsed, BACKLOG, PER_RECORD)
    indexer = ServiceProcess(names.SERVICE_INDEXER, pipeline.path, addresses.kafka, addresses.elasticsearch, log_dir)
    try:
        wait_for_count(client, pipeline.index, BACKLOG, timeout=180)
        port = indexer.http_port
        wait_until(
            lambda: indexer_sample(port, "streamstash_events_sent_total") == BACKLOG,
            timeout=30,
            message="not every document was acknowledged",
        )
        throttled_items = bulk_items(port, "retry")
        throttled_requests = indexer_sample(port, "streamstash_bulk_errors_total", kind="status_429")
        assert bulk_items(port, "rejected") == 0
        assert indexer.alive(), indexer.log_text()[-2000:]
    finally:
        indexer.stop()
    try:
        rejected_by_node = write_rejections(client)
        assert rejected_by_node > 0, "the node never rejected a write: no 429 was tested"
        assert throttled_items + throttled_requests > 0, "the node rejected writes but the indexer saw no 429"
        assert count(client, pipeline.index) == BACKLOG
        assert set(document_versions(client, pipeline.index)) == set(ids)
    finally:
        client.close()
    read_dead_letters(addresses.kafka, pipeline.topics.dlq, expected=0, timeout=3)
    print(
        f"\nnode rejected {rejected_by_node} writes; indexer retried {throttled_items:.0f} items and "
        f"{throttled_requests:.0f} whole requests"
    )


def test_bulk_429_from_a_proxy_for_30s_then_everything_indexed_once(
    servers, es: Elasticsearch, tmp_path: Path, log_dir: Path
) -> None:
    pipeline = indexer_pipeline(tmp_path, {"bulk": {"max_docs": 500, "flush_ms": 100, "retry_max_ms": 2000}})
    create_topics(pipeline, servers.kafka)
    with RefusingProxy(servers.elasticsearch) as proxy:
        indexer = ServiceProcess(names.SERVICE_INDEXER, pipeline.path, servers.kafka, proxy.url, log_dir)
        try:
            _ = indexer.http_port  # waits until it serves
            # The window opens once the indexer is up: its start-up time on a loaded machine must not eat it.
            proxy.refuse_bulk_for(REFUSAL_S)
            refusal_started = time.monotonic()
            ids = feed_documents(servers.kafka, pipeline.topics.parsed, DOCUMENTS, PER_RECORD)
            wait_until(
                lambda: proxy.refused >= 3 or None,
                timeout=REFUSAL_S,
                message="the indexer never retried a refused bulk",
            )
            while proxy.refusing:
                assert count(es, pipeline.index) == 0 if es.indices.exists(index=pipeline.index) else True
                time.sleep(1)
            assert indexer.alive(), indexer.log_text()[-2000:]
            assert time.monotonic() - refusal_started >= REFUSAL_S
            wait_for_count(es, pipeline.index, DOCUMENTS, timeout=90)
            assert proxy.forwarded_bulks >= 1
        finally:
            indexer.stop()
    assert count(es, pipeline.index) == DOCUMENTS
    assert set(document_versions(es, pipeline.index)) == set(ids)
    read_dead_letters(servers.kafka, pipeline.topics.dlq, expected=0, timeout=3)
