"""The issue's case end to end: a log file -> collector -> parser -> aggregator -> indexer -> Elasticsearch,
with N from an environment variable (3 and 100); only the aggregates are indexed unless asked."""

from __future__ import annotations

from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from tests.helpers.elastic import all_documents, count, wait_for_count
from tests.helpers.pipelines import write_pipeline
from tests.helpers.processes import stop_all
from tests.helpers.waiting import wait_until
from tests.integration.aggregator.support import create_topics, metric, serving_port, start
from tests.integration.aggregator.tasklog import expected_every, issue_pipeline, task_lines

pytestmark = pytest.mark.integration

LINES = 1500


@pytest.mark.parametrize(("every", "index_events"), [(3, False), (100, True)])
def test_issue_case_end_to_end(
    servers, es: Elasticsearch, tmp_path: Path, log_dir: Path, every: int, index_events: bool
) -> None:
    lines = task_lines(LINES, seed=every, tasks=5)
    log_file = tmp_path / "tasks.log"
    log_file.write_text("\n".join(lines) + "\n")
    pipeline = write_pipeline(
        tmp_path,
        {
            "inputs": [{"type": "file", "paths": [str(log_file)], "start_position": "beginning"}],
            **issue_pipeline(index_events=index_events),
        },
    )
    expected = expected_every(lines, every)
    assert len(expected) >= LINES // every - 5

    create_topics(pipeline, servers.kafka)
    services = start(
        ["collector", "parser", "aggregator", "indexer"], pipeline, servers, log_dir, env={"AGG_EVERY": str(every)}
    )
    try:
        wait_for_count(es, pipeline.aggregate_index, len(expected), timeout=180)
        aggregator_port = serving_port(services[2])
        wait_until(
            lambda: metric(aggregator_port, "streamstash_events_received_total", topic=pipeline.topics.tasks) >= LINES,
            timeout=60,
            message="the aggregator did not fold every line",
        )
        if index_events:
            wait_for_count(es, pipeline.index, LINES, timeout=60)
        indexer_port = serving_port(services[3])
        # Every parsed line has been through the indexer (indexed or skipped as aggregated).
        wait_until(
            lambda: metric(indexer_port, "streamstash_events_received_total", topic=pipeline.topics.parsed) >= LINES,
            timeout=60,
            message="the indexer did not see every parsed line",
        )
    finally:
        stop_all(services)

    documents = {doc["_id"]: doc for doc in all_documents(es, pipeline.aggregate_index)}
    assert set(documents) == set(expected)
    for doc_id, want in expected.items():
        doc = documents[doc_id]
        assert doc["count"] == want.count
        assert doc["elapsedAvg"] == pytest.approx(want.average)
        assert (doc["action"], doc["progress"], doc["task_id"]) == (want.action, want.progress, want.task_id)
        assert doc["aggregated"] is True
        assert doc["@timestamp"] == want.timestamp
        assert "message" not in doc and "tags" not in doc and "elapsed" not in doc
    assert count(es, pipeline.index) == (LINES if index_events else 0)
    reduction = LINES / (len(documents) + count(es, pipeline.index))
    print(f"N={every}: {LINES} lines -> {len(documents)} aggregates; indexed documents reduced {reduction:.1f}x")
