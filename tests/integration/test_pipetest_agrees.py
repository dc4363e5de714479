"""`streamstash test` predicts the real pipeline: the same lines through collector -> parser -> aggregator ->
indexer give the documents, aggregates and dead letters the in-memory run gives."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from elasticsearch import Elasticsearch

from streamstash.aggregation.records import partition_for
from streamstash.config.testcases import PipelineTests
from streamstash.events.timeformats import format_iso8601, parse_iso8601
from streamstash.pipetest.cases import case_events
from streamstash.pipetest.runner import PipelineRun
from tests.helpers.elastic import all_documents, count, wait_for_count
from tests.helpers.kafka import read_dead_letters
from tests.helpers.pipelines import write_pipeline
from tests.helpers.processes import start_services, stop_all

pytestmark = pytest.mark.integration

START = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
ACTIONS = ("resize", "encode", "scan", "upload")


def task_lines() -> list[str]:
    """Four actions over five minutes, every seventh line 70 s late, one line that is not a task. `scan` stops
    after the first minutes: its last window closes only where another action's events share its `logs.tasks`
    partition (with 3 partitions none do, with 1 all do), so the watermark must be the partition's."""
    lines = []
    for index in range(80):
        at = START + timedelta(seconds=4 * index - (70 if index % 7 == 6 else 0))
        action = ACTIONS[index % 4]
        if action == "scan" and index >= 40:
            action = "upload"
        lines.append(f"{format_iso8601(at)} {action}:step{index % 3} elapsed={10 + index}")
        if index == 40:
            lines.append("worker restarted")
    return lines


def canonical(documents: list[dict[str, Any]]) -> list[str]:
    return sorted(json.dumps(document, sort_keys=True) for document in documents)


def without(document: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {key: value for key, value in document.items() if key not in keys}


def test_the_in_memory_run_gives_what_elasticsearch_holds(
    servers, es: Elasticsearch, tmp_path: Path, log_dir: Path
) -> None:
    lines = task_lines()
    log_file = tmp_path / "tasks.log"
    log_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    pipeline = write_pipeline(
        tmp_path,
        {
            "inputs": [{"type": "file", "paths": [str(log_file)], "start_position": "beginning"}],
            "filters": [
                {
                    "grok": {
                        "match": {
                            "message": [
                                "%{TIMESTAMP_ISO8601:origtime} %{WORD:action}:%{WORD:step} elapsed=%{INT:elapsed:int}"
                            ]
                        }
                    }
                },
                {"date": {"match": ["origtime", "ISO8601"]}},
            ],
            "aggregations": [
                {
                    # Its tasks' keys are on partitions 1 and 2 of 3, so scan's on 0 is alone there.
                    "name": "triplets",
                    "when": '[action] != "scan"',
                    "task_id": "%{action}",
                    "metrics": {"n": {"type": "count"}, "elapsedAvg": {"type": "avg", "field": "elapsed"}},
                    "flush": {"every": 3},
                    "keep_fields": ["*"],
                    "index_events": True,
                },
                {
                    "name": "per_minute",
                    "task_id": "%{action}",
                    "metrics": {"n": {"type": "count"}, "slowest": {"type": "max", "field": "elapsed"}},
                    "flush": {"window": {"size": "1m"}, "allowed_lateness": "5s"},
                    "index_events": True,
                },
            ],
        },
    )

    # In memory, the way `streamstash test` runs a case of these lines.
    [case] = PipelineTests.model_validate(yaml.safe_load(json.dumps([{"name": "all", "lines": lines}]))).cases
    clock = parse_iso8601(case.received_at)
    assert clock is not None
    produced = PipelineRun(pipeline.config, clock, seed=case.name).feed(case_events(pipeline.config, case))
    assert len(produced.documents) == 80 and len(produced.dead_letters) == 1
    late = [item for item in produced.aggregates if item["flush_reason"] == "late"]
    windows = [item for item in produced.aggregates if item["flush_reason"] == "window"]
    assert late and windows, produced.aggregates  # the case exercises lateness and the watermark
    assert partition_for("per_minute|scan", 3) not in {
        partition_for(f"triplets|{a}", 3) for a in ACTIONS if a != "scan"
    }
    last_scan = max(item["window_start"] for item in windows if item["task_id"] == "scan")
    assert last_scan < max(item["window_start"] for item in windows)  # scan's last window stays open

    services = start_services(
        ["collector", "parser", "aggregator", "indexer"], pipeline.path, servers.kafka, servers.elasticsearch, log_dir
    )
    try:
        wait_for_count(es, pipeline.index, len(produced.documents), timeout=120)
        wait_for_count(es, pipeline.aggregate_index, len(produced.aggregates), timeout=120)
        letters = read_dead_letters(servers.kafka, pipeline.topics.dlq, expected=1)
    finally:
        stop_all(services)

    assert count(es, pipeline.index) == len(produced.documents)
    assert count(es, pipeline.aggregate_index) == len(produced.aggregates)
    indexed = [without(document, "_id", "source") for document in all_documents(es, pipeline.index)]
    assert canonical(indexed) == canonical(produced.documents)
    aggregates = [without(document, "_id", "source") for document in all_documents(es, pipeline.aggregate_index)]
    assert canonical(aggregates) == canonical(produced.aggregates)
    # The collector stamps the undated line with the time it read it; the rest is the same.
    [letter] = letters
    [expected] = produced.dead_letters
    assert (letter.reason, letter.event.message, letter.event.tags) == (
        expected["reason"],
        expected["event"]["message"],
        expected["event"]["tags"],
    )
