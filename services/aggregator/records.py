"""The record format of `logs.tasks` (internal to the aggregator) and how task keys map to partitions.

One record carries the events of **many tasks that share a partition**, grouped by task: the
re-key stage sends at most one record per partition for each parsed record, so Faust's per-record
cost is paid per batch, not per task (with 10,000 distinct tasks a per-task record would hold about
one event). The table partition of a task is the partition its events arrive on, so the mapping
from key to partition must be the same everywhere: Kafka's own (murmur2 of the key bytes).
"""

from __future__ import annotations

import msgspec
from aiokafka.partitioner import murmur2

from streamstash.envelope import Event


class TaskGroup(msgspec.Struct, array_like=True):
    key: str
    events: list[Event]


class TaskRecord(msgspec.Struct, omit_defaults=True, kw_only=True):
    """The value of a `logs.tasks` record; ``idle_tick`` asks the partition's owner to check idleness."""

    groups: list[TaskGroup] = msgspec.field(default_factory=list)
    idle_tick: bool = False


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(TaskRecord)


def encode_task_record(record: TaskRecord) -> bytes:
    return _encoder.encode(record)


def decode_task_record(data: bytes) -> TaskRecord:
    return _decoder.decode(data)


def partition_for(key: str, partitions: int) -> int:
    """The partition Kafka's default partitioner picks for ``key`` (the Java client's murmur2)."""
    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions


def split_by_partition(grouped: dict[str, list[Event]], partitions: int) -> dict[int, TaskRecord]:
    records: dict[int, TaskRecord] = {}
    for key, events in grouped.items():
        partition = partition_for(key, partitions)
        record = records.get(partition)
        if record is None:
            record = records[partition] = TaskRecord()
        record.groups.append(TaskGroup(key, events))
    return records
