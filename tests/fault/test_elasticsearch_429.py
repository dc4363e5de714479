"""Elasticsearch answering 429 to every `_bulk` for 30 s: the indexer backs off and retries, and once
Elasticsearch accepts again every document is there exactly once (nothing dead-lettered, nothing lost)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from streamstash import names
from tests.helpers.elastic import count, wait_for_count
from tests.helpers.es_proxy import RefusingProxy
from tests.helpers.kafka import read_dead_letters
from tests.helpers.processes import ServiceProcess
from tests.helpers.waiting import wait_until
from tests.integration.indexer.support import create_topics, document_versions, feed_documents, indexer_pipeline

pytestmark = [pytest.mark.integration, pytest.mark.fault]

REFUSAL_S = 30
DOCUMENTS = 3_000
PER_RECORD = 100


def test_bulk_429_for_30s_then_everything_indexed_once(
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
