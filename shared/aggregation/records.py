"""The record format of `logs.tasks` (internal to the aggregator) and how task keys map to partitions.

One record carries the events of **many tasks that share a partition**, grouped by task: the
re-key stage sends about one record per partition for each round of parsed records, so Faust's
per-record cost is paid per batch, not per task (with 10,000 distinct tasks a per-task record would
hold about one event). Each event keeps its place in the partition's sequence (``order``), so the
aggregate stage judges lateness event by event exactly as if the events had come one by one:
how events are cut into records never changes a result.

The table partition of a task is the partition its events arrive on, so the mapping from key to
partition must be the same everywhere: Kafka's own (murmur2 of the key bytes).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import msgspec

from streamstash.events.envelope import Event, RecordDecodeError, encoded_size
from streamstash.kafka.partitioner import default_partition


class TaskGroup(msgspec.Struct, array_like=True):
    key: str
    events: list[Event]
    order: list[int] = msgspec.field(default_factory=list)  # place of each event in the record; empty: in turn


class TaskRecord(msgspec.Struct, omit_defaults=True, kw_only=True):
    """The value of a `logs.tasks` record; ``idle_tick`` asks the partition's owner to check idleness."""

    groups: list[TaskGroup] = msgspec.field(default_factory=list)
    idle_tick: bool = False

    def event_count(self) -> int:
        return sum(len(group.events) for group in self.groups)


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(TaskRecord)


def encode_task_record(record: TaskRecord) -> bytes:
    return _encoder.encode(record)


def decode_task_record(data: bytes) -> TaskRecord:
    try:
        return _decoder.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise RecordDecodeError(f"not a logs.tasks record: {exc}") from exc


@functools.lru_cache(maxsize=65536)
def partition_for(key: str, partitions: int) -> int:
    """The partition Kafka's default partitioner picks for ``key`` (the Java client's murmur2)."""
    return default_partition(key.encode(), partitions)


def task_records(
    events: list[Event],
    keys_for: Callable[[Event], list[str]],
    partitions: int,
    max_events: int,
    max_bytes: int | None = None,
) -> dict[int, list[TaskRecord]]:
    """Per partition, records of at most ``max_events`` (event, task) pairs, in the events' order.

    With ``max_bytes``, a record also ends before the estimated size of its events
    (`envelope.encoded_size`) would pass it; a record always holds at least one event.
    """
    sequences: dict[int, list[tuple[str, Event]]] = {}
    for event in events:
        for key in keys_for(event):
            sequences.setdefault(partition_for(key, partitions), []).append((key, event))
    out: dict[int, list[TaskRecord]] = {}
    for partition, sequence in sequences.items():
        records = out[partition] = []
        groups: dict[str, TaskGroup] = {}
        place = size = 0
        for key, event in sequence:
            event_size = encoded_size(event) if max_bytes is not None else 0
            if place and (place >= max_events or (max_bytes is not None and size + event_size > max_bytes)):
                records.append(TaskRecord(groups=list(groups.values())))
                groups, place, size = {}, 0, 0
            group = groups.get(key)
            if group is None:
                group = groups[key] = TaskGroup(key, [], [])
            group.events.append(event)
            group.order.append(place)
            place += 1
            size += event_size
        if groups:
            records.append(TaskRecord(groups=list(groups.values())))
    return out
