"""The foundation's promise: the tutorial log through collector -> parser -> aggregator -> indexer -> ES."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from streamstash.events.timeformats import format_iso8601, make_parser, zone_named
from tests.helpers.elastic import all_documents, count, wait_for_count
from tests.helpers.kafka import read_dead_letters
from tests.helpers.metrics import assert_service_metrics
from tests.helpers.pipelines import write_pipeline
from tests.helpers.processes import start_services, stop_all

pytestmark = pytest.mark.integration

TUTORIAL_LOG = Path(__file__).resolve().parents[2] / "examples" / "data" / "logstash-tutorial.log"
ACCESS_LINE = re.compile(
    r'^(?P<clientip>\S+) \S+ \S+ \[(?P<timestamp>[^\]]+)\] "(?P<verb>\S+) (?P<request>\S+) [^"]*" '
    r'(?P<response>\d+) (?P<bytes>\d+|-) "[^"]*" "(?P<agent>[^"]*)"$'
)


def expected_documents() -> dict[int, dict]:
    """What each line should become, computed independently of the grok engine, keyed by byte offset."""
    expected = {}
    offset = 0
    to_utc = make_parser("dd/MMM/yyyy:HH:mm:ss Z", zone_named("UTC"))
    for raw in TUTORIAL_LOG.read_bytes().splitlines(keepends=True):
        match = ACCESS_LINE.match(raw.decode().rstrip("\n"))
        if match:
            fields = match.groupdict()
            expected[offset] = {
                "clientip": fields["clientip"],
                "verb": fields["verb"],
                "request": fields["request"],
                "response": int(fields["response"]),
                "bytes": None if fields["bytes"] == "-" else int(fields["bytes"]),
                "agent": f'"{fields["agent"]}"',
                "@timestamp": format_iso8601(to_utc(fields["timestamp"])),
            }
        offset += len(raw)
    return expected


def test_tutorial_log_end_to_end(servers, es: Elasticsearch, tmp_path: Path, log_dir: Path) -> None:
    log_file = tmp_path / "access.log"
    shutil.copy(TUTORIAL_LOG, log_file)
    pipeline = write_pipeline(
        tmp_path,
        {
            "inputs": [{"type": "file", "paths": [str(log_file)], "start_position": "beginning"}],
            "filters": [
                {"grok": {"match": {"message": ["%{COMBINEDAPACHELOG}"]}}},
                {"mutate": {"convert": {"response": "integer", "bytes": "integer"}}},
                {"date": {"match": ["timestamp", "dd/MMM/yyyy:HH:mm:ss Z"]}},
            ],
            "aggregations": [
                {
                    "name": "per_status",
                    "task_id": "%{response}",
                    "metrics": {"count": {"type": "count"}, "bytesSum": {"type": "sum", "field": "bytes"}},
                    "flush": {"every": 49},
                    "index_events": True,
                }
            ],
        },
    )
    expected = expected_documents()
    assert len(expected) == 100

    services = start_services(
        ["collector", "parser", "aggregator", "indexer"], pipeline.path, servers.kafka, servers.elasticsearch, log_dir
    )
    try:
        wait_for_count(es, pipeline.index, 100, timeout=120)
        wait_for_count(es, pipeline.aggregate_index, 2, timeout=60)
        metric_ports = {process.service: process.http_port for process in services}
        assert_service_metrics(metric_ports["collector"], "collector", sent=101)
        assert_service_metrics(metric_ports["parser"], "parser", received=101, sent=100, failed=1)
        assert_service_metrics(metric_ports["indexer"], "indexer", sent=102)
    finally:
        stop_all(services)

    documents = all_documents(es, pipeline.index)
    assert count(es, pipeline.index) == 100
    assert len({doc["_id"] for doc in documents}) == 100
    for doc in documents:
        want = expected[doc["source"]["offset"]]
        for field in ("clientip", "verb", "request", "response", "agent", "@timestamp"):
            assert doc[field] == want[field], (field, doc)
        if want["bytes"] is None:
            assert "bytes" not in doc, doc
        else:
            assert doc["bytes"] == want["bytes"]
        assert doc["source"]["path"] == str(log_file)

    aggregates = all_documents(es, pipeline.aggregate_index)
    two_hundreds = [agg for agg in aggregates if agg["task_id"] == "200"]
    assert [agg["count"] for agg in two_hundreds] == [49, 49]
    assert all(agg["aggregated"] is True for agg in aggregates)

    letters = read_dead_letters(servers.kafka, pipeline.topics.dlq, expected=1)
    assert letters[0].event.message == ""
    assert "grok" in letters[0].reason
    assert "_grokparsefailure" in letters[0].event.tags
