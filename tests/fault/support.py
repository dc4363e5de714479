"""What the fault tests share: the issue's task log through the whole pipeline, and the exactness checks."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

from elasticsearch import Elasticsearch

from tests.helpers.elastic import all_documents, count
from tests.helpers.metrics import scrape
from tests.helpers.processes import ServiceProcess
from tests.integration.aggregator.tasklog import expected_every, issue_pipeline, task_lines

EVERY = 50
ALL_SERVICES = ["collector", "parser", "aggregator", "indexer"]


def task_pipeline_body(log_file: Path) -> dict:
    body = issue_pipeline(every=str(EVERY), index_events=True)
    body["inputs"] = [{"type": "file", "paths": [str(log_file)], "start_position": "beginning"}]
    return body


def lines_for(total: int, seed: int) -> list[str]:
    return task_lines(total, seed=seed)


def append(log_file: Path, lines: list[str]) -> None:
    with log_file.open("a", encoding="utf-8") as out:
        out.writelines(line + "\n" for line in lines)


def assert_exactly_once(es: Elasticsearch, index: str, lines: list[str]) -> None:
    """Every input line is one document: count equals input, ids unique, each line's id= present once."""
    documents = all_documents(es, index, size=max(10_000, len(lines) + 100))
    assert count(es, index) == len(lines)
    assert len({doc["_id"] for doc in documents}) == len(lines)
    offsets = sorted(doc["source"]["offset"] for doc in documents)
    expected_offsets, offset = [], 0
    for line in lines:
        expected_offsets.append(offset)
        offset += len(line.encode()) + 1
    assert offsets == expected_offsets


def assert_nothing_lost(processes: Iterable[ServiceProcess]) -> None:
    """No service counted a loss: each declares `streamstash_events_lost`, and every series of it is 0."""
    for process in processes:
        samples = scrape(process.http_port)
        assert "family:streamstash_events_lost" in samples, f"{process.name} does not export streamstash_events_lost"
        lost = {labels: value for labels, value in samples.get("streamstash_events_lost_total", {}).items() if value}
        assert not lost, f"{process.name} lost events: {lost}"


def assert_aggregates_exact(es: Elasticsearch, index: str, lines: list[str]) -> None:
    """The aggregates, per task in order, equal a straight computation over the input lines."""
    want: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for expected in expected_every(lines, EVERY).values():
        want[expected.task_id].append((expected.count, round(expected.average, 6)))
    got: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for doc in all_documents(es, index):
        got[doc["task_id"]].append((doc["count"], round(doc["elapsedAvg"], 6)))
    assert {task: sorted(values) for task, values in got.items()} == {
        task: sorted(values) for task, values in want.items()
    }
