"""What the operations tests (scaling, shutdown, observability, status) feed the pipeline and expect back.

Access-log lines whose request path names an aggregation task (``/item/<n % tasks>``) and whose byte
count is a function of the line number, so the expected documents and aggregates are plain arithmetic,
independent of grok and of the aggregator. Lines are written round-robin over tasks; a total that is a
multiple of ``tasks * every`` puts every event of every task into an emitted aggregate, whatever order
the partitions are processed in.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from aiokafka import AIOKafkaProducer
from elasticsearch import Elasticsearch

from streamstash.config import load_pipeline
from streamstash.events.envelope import Batch, Event, Source, encode
from tests.helpers.elastic import all_documents, count
from tests.helpers.metrics import scrape, total
from tests.helpers.pipelines import TestPipeline, write_pipeline

AGGREGATION = "per_item"
FILTERS: list[dict[str, Any]] = [
    {"grok": {"match": {"message": ["%{COMBINEDAPACHELOG}"]}}},
    {"mutate": {"convert": {"response": "integer", "bytes": "integer"}}},
    {"date": {"match": ["timestamp", "dd/MMM/yyyy:HH:mm:ss Z"]}},
]


def aggregations(every: int) -> list[dict[str, Any]]:
    return [
        {
            "name": AGGREGATION,
            "task_id": "%{request}",
            "flush": {"every": every},
            "index_events": True,
            "metrics": {"count": {"type": "count"}, "bytesSum": {"type": "sum", "field": "bytes"}},
        }
    ]


def access_pipeline(
    directory: Path, log_files: list[Path], every: int, partitions: int = 3, **settings: Any
) -> TestPipeline:
    """The access-log pipeline these tests share: tail ``log_files`` (created empty), FILTERS, the
    per-request aggregation flushed every ``every`` events, plus any other top-level ``settings``."""
    for log_file in log_files:
        log_file.touch()
    return write_pipeline(
        directory,
        {
            "inputs": [
                {
                    "type": "file",
                    "paths": [str(path) for path in log_files],
                    "start_position": "beginning",
                    "poll_interval_ms": 50,
                }
            ],
            "filters": FILTERS,
            "aggregations": aggregations(every),
            **settings,
        },
        partitions=partitions,
    )


def task_of(number: int, tasks: int) -> str:
    return f"/item/{number % tasks}"


def size_of(number: int) -> int:
    return (number * 7) % 5000


def access_line(number: int, tasks: int) -> str:
    return (
        f"10.0.{number % 250}.{number % 199} - - [01/May/2024:10:{number // 60 % 60:02d}:{number % 60:02d} +0000] "
        f'"GET {task_of(number, tasks)} HTTP/1.1" 200 {size_of(number)} "-" "ops-test/{number}"\n'
    )


def write_lines(paths: list[Path], start: int, count: int, tasks: int) -> None:
    """Lines ``start..start+count``, line n appended to ``paths[n % len(paths)]``."""
    chunks: dict[Path, list[str]] = defaultdict(list)
    for number in range(start, start + count):
        chunks[paths[number % len(paths)]].append(access_line(number, tasks))
    for path, lines in chunks.items():
        with path.open("a", encoding="utf-8") as out:
            out.write("".join(lines))


class LineWriter(threading.Thread):
    """Appends lines at a steady rate, like a busy web server, until ``finish`` (which rounds the
    total up to a multiple, so every task ends on a full aggregate)."""

    def __init__(self, paths: list[Path], tasks: int, lines_per_second: int) -> None:
        super().__init__(daemon=True)
        self.paths = paths
        self.tasks = tasks
        self.chunk = max(1, lines_per_second // 10)
        self.written = 0
        self._halt = threading.Event()
        self._multiple = 1

    def run(self) -> None:
        while not self._halt.is_set():
            write_lines(self.paths, self.written, self.chunk, self.tasks)
            self.written += self.chunk
            self._halt.wait(0.1)
        rest = -self.written % self._multiple
        write_lines(self.paths, self.written, rest, self.tasks)
        self.written += rest

    def finish(self, multiple: int = 1) -> int:
        if not self._halt.is_set():
            self._multiple = multiple
            self._halt.set()
        if self.is_alive():
            self.join(30)
        return self.written


class RawFlood(threading.Thread):
    """Sends records of ``per_record`` lines straight to the raw topic, as a collector would, one every
    ``interval_s`` (keys spread them over the partitions), until ``finish``; numbering goes on from ``first``."""

    def __init__(
        self, kafka: str, topic: str, first: int, tasks: int, per_record: int, interval_s: float = 0.05
    ) -> None:
        super().__init__(daemon=True)
        self.kafka, self.topic, self.first = kafka, topic, first
        self.tasks, self.per_record, self.interval_s = tasks, per_record, interval_s
        self.sent = 0  # lines
        self._halt = threading.Event()

    def run(self) -> None:
        asyncio.run(self._send())

    async def _send(self) -> None:
        producer = AIOKafkaProducer(bootstrap_servers=self.kafka, acks="all")
        await producer.start()
        try:
            record = 0
            while not self._halt.is_set():
                start = self.first + self.sent
                events = [
                    Event(
                        message=access_line(number, self.tasks).rstrip("\n"),
                        source=Source(kind="file", host="flood", path="/flood.log", offset=number),
                    )
                    for number in range(start, start + self.per_record)
                ]
                await producer.send_and_wait(self.topic, encode(Batch(events=events)), key=f"flood-{record}".encode())
                self.sent += self.per_record
                record += 1
                await asyncio.sleep(self.interval_s)
        finally:
            await producer.stop()

    def finish(self) -> int:
        self._halt.set()
        if self.is_alive():
            self.join(30)
        return self.sent


@dataclass(frozen=True)
class TaskTotals:
    events: int
    bytes: int


def expected_totals(lines: int, tasks: int) -> dict[str, TaskTotals]:
    events: dict[str, int] = defaultdict(int)
    sizes: dict[str, int] = defaultdict(int)
    for number in range(lines):
        events[task_of(number, tasks)] += 1
        sizes[task_of(number, tasks)] += size_of(number)
    return {task: TaskTotals(events[task], sizes[task]) for task in events}


def assert_aggregates_exact(es: Elasticsearch, index: str, lines: int, tasks: int, every: int) -> None:
    """Every aggregate counts ``every`` events, and per task they add up to the straight computation."""
    assert lines % (tasks * every) == 0, "the input must fill every task's last aggregate"
    expected = expected_totals(lines, tasks)
    aggregates = all_documents(es, index)
    assert count(es, index) == lines // every, f"{count(es, index)} aggregates, expected {lines // every}"
    got: dict[str, list[dict]] = defaultdict(list)
    for aggregate in aggregates:
        assert aggregate["aggregation"] == AGGREGATION
        assert aggregate["count"] == every, aggregate
        got[aggregate["task_id"]].append(aggregate)
    assert set(got) == set(expected)
    for task, want in expected.items():
        assert sum(a["count"] for a in got[task]) == want.events, task
        assert sum(a["bytesSum"] for a in got[task]) == want.bytes, task


def received(port: int, service: str) -> float:
    return total(scrape(port), "streamstash_events_received_total", service=service)


def with_setting(pipeline: TestPipeline, path: tuple[str, ...], value: Any) -> TestPipeline:
    """The pipeline file with one nested setting added (write_pipeline merges only top-level sections)."""
    document = yaml.safe_load(pipeline.path.read_text())
    section = document
    for key in path[:-1]:
        section = section.setdefault(key, {})
    section[path[-1]] = value
    pipeline.path.write_text(yaml.safe_dump(document, sort_keys=False))
    return dataclasses.replace(pipeline, config=load_pipeline(pipeline.path, env={}))
