"""Building parsed events and running records through the aggregator logic in memory."""

from __future__ import annotations

from typing import Any

import orjson

from streamstash.aggregation.folding import TaskAggregator
from streamstash.aggregation.processor import RecordProcessor
from streamstash.aggregation.records import TaskGroup, task_records
from streamstash.aggregation.routing import TaskRouter
from streamstash.config import parse_pipeline
from streamstash.events.envelope import Event, Source, format_timestamp

BASE_MS = 1_795_255_200_000  # 2026-11-21T10:00:00Z


def make_processor(aggregations: str) -> RecordProcessor:
    config = parse_pipeline("aggregations:\n" + aggregations, env={})
    return RecordProcessor(TaskAggregator(TaskRouter(config.aggregations)))


def task_event(position: int, at_ms: int, offset: int = 0, raw_partition: int = 0, **fields: Any) -> Event:
    return Event(
        message=f"line {position}",
        timestamp=format_timestamp(at_ms / 1000),
        source=Source(kind="file"),
        tags=["t"],
        fields=fields,
        id=f"logs.raw:{raw_partition}:{offset}:{position}",
    )


class MemoryTable:
    """The Faust table as the logic sees it: bytes in, bytes out."""

    def __init__(self) -> None:
        self.data: dict[bytes, bytes] = {}

    def get(self, key: bytes) -> bytes | None:
        return self.data.get(key)

    def apply(self, writes: dict[bytes, bytes]) -> None:
        self.data.update(writes)

    def state(self, key: str) -> dict:
        return orjson.loads(self.data[key.encode()])


def groups_of(processor: RecordProcessor, events: list[Event]) -> list[TaskGroup]:
    """The task groups of one `logs.tasks` record holding ``events`` (all on one partition here)."""
    records = task_records(events, processor.aggregator.router.keys_for, partitions=1, max_events=len(events) + 1)
    return [group for record in records.get(0, []) for group in record.groups]


def run(processor: RecordProcessor, table: MemoryTable, events: list[Event], partition: int = 0) -> list[Event]:
    """One record through the processor (the way the aggregate agent does it); returns the aggregates."""
    outcome = processor.process(partition, groups_of(processor, events), table.get)
    table.apply(outcome.writes)
    return outcome.emitted
