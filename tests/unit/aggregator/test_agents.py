"""The aggregator's Faust wiring in memory: its two agents under `test_context()`, a `memory://` table,
channels for topics. What the process tests cannot look at: the records between the agents, the order
of sends and table writes, and the idle tick."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from faust.types import TP

from streamstash import names
from streamstash.aggregation.records import decode_task_record, partition_for
from streamstash.aggregation.state import max_time_key
from streamstash.config import parse_pipeline
from streamstash.events.envelope import (
    Batch,
    Event,
    Source,
    decode_batch,
    decode_dead_letters,
    encode,
    format_timestamp,
)
from streamstash.runtime.metrics import ServiceMetrics
from streamstash.services.aggregator.app import Aggregator, Endpoints, wire
from streamstash.services.aggregator.topics import service_topics
from tests.helpers.faust_memory import UNUSED_BROKER, Outbox, memory_app
from tests.helpers.metrics import counted

PARTITIONS = 4
PIPELINE = """
state_dir: {state}
kafka: {{bootstrap_servers: "{broker}", partitions: {partitions}}}
aggregations:
  - name: users
    task_id: "%{{user}}"
    metrics: {{count: {{type: count}}}}
    flush: {{every: {every}, idle_flush: 1m}}
"""


class Wired:
    def __init__(self, aggregator: Aggregator, endpoints: Endpoints) -> None:
        self.aggregator = aggregator
        self.tasks = Outbox(endpoints.tasks)
        self.aggregated = Outbox(endpoints.aggregated)
        self.dlq = Outbox(endpoints.dlq)
        self.durable_calls: list[dict[bytes, bytes]] = []  # the table as it was at each durability barrier
        self.now = 1000.0

    def counter(self, kind: str, **labels: str) -> float:
        return counted(self.aggregator.metrics, kind, **labels)


@pytest.fixture
def wired(tmp_path: Path) -> Iterator[Wired]:
    text = PIPELINE.format(state=tmp_path, broker=UNUSED_BROKER, partitions=PARTITIONS, every=2)
    config = parse_pipeline(text, env={})
    with memory_app(config, names.SERVICE_AGGREGATOR) as app:
        holder: list[Wired] = []

        async def durable() -> None:
            holder[0].durable_calls.append(dict(holder[0].aggregator.table.items()))

        endpoints = Endpoints(app.channel(), app.channel(), app.channel(), app.channel(), durable)
        aggregator = wire(app, config, endpoints, ServiceMetrics(names.SERVICE_AGGREGATOR))
        holder.append(Wired(aggregator, endpoints))
        aggregator.partitions.clock = lambda: holder[0].now
        aggregator.partitions.assigned(range(PARTITIONS))
        yield holder[0]


def parsed_record(users: str, offset: int) -> bytes:
    events = [
        Event(
            message=f"{user} did something",
            timestamp=format_timestamp(1_800_000_000 + position),
            source=Source(kind=names.SOURCE_FILE),
            fields={"user": user},
            id=f"logs.raw:0:{offset}:{position}",
        )
        for position, user in enumerate(users)
    ]
    return encode(Batch(events=events))


async def test_rekey_sends_each_task_to_its_partition_and_aggregate_emits_before_writing_state(wired: Wired) -> None:
    agg = wired.aggregator
    async with agg.rekey.test_context() as rekey:
        await rekey.put(parsed_record("abab", offset=7), partition=0)
        first = await wired.tasks.take()
        second = await wired.tasks.take()
    records = {event.message.partition: decode_task_record(event.value) for event in (first, second)}
    assert records == {
        partition_for("users|a", PARTITIONS): records[partition_for("users|a", PARTITIONS)],
        partition_for("users|b", PARTITIONS): records[partition_for("users|b", PARTITIONS)],
    }
    for partition, record in records.items():
        (group,) = record.groups
        assert partition == partition_for(group.key, PARTITIONS)
        assert [event.id for event in group.events] == (
            ["logs.raw:0:7:0", "logs.raw:0:7:2"] if group.key == "users|a" else ["logs.raw:0:7:1", "logs.raw:0:7:3"]
        )
        assert wired.counter("sent", topic="logs.tasks", partition=str(partition)) == 2
    assert wired.counter("received", partition="0") == 4

    handled: list[bytes] = []
    async with agg.aggregate.test_context() as aggregate:
        for partition, record in sorted(records.items()):
            event = first if first.message.partition == partition else second
            await aggregate.put(event.value, partition=partition)
            (aggregate_event,) = decode_batch((await wired.aggregated.take()).value).events
            task = record.groups[0].key.split("|")[1]
            assert aggregate_event.id == f"users:{task}:1"
            assert aggregate_event.fields["count"] == 2 and aggregate_event.fields["flush_reason"] == "every"
            handled.append(record.groups[0].key.encode())
    # Each record's barrier came after its aggregate was sent and before the table held the state that
    # produced it, with the previous record's state written.
    assert [sorted(key for key in table if not key.startswith(b"\x00")) for table in wired.durable_calls] == [
        [],
        [handled[0]],
    ]
    table = dict(agg.table.items())
    assert set(table) == {b"users|a", b"users|b"} | {max_time_key(partition) for partition in records}
    assert orjson.loads(table[b"users|a"]) == {"seen": {"logs.raw:0": [7, 2]}, "seq": 1, "open": {}}
    assert wired.counter("sent", topic="logs.aggregated") == 2


async def test_both_agents_dead_letter_undecodable_records_with_their_bytes(wired: Wired) -> None:
    agg = wired.aggregator
    garbage = b"\x00\xffnot json"
    async with agg.rekey.test_context() as rekey:
        await rekey.put(garbage, partition=1)
        rekey_letter = decode_dead_letters((await wired.dlq.take()).value).letters[0]
    async with agg.aggregate.test_context() as aggregate:
        await aggregate.put(garbage, partition=2)
        aggregate_letter = decode_dead_letters((await wired.dlq.take()).value).letters[0]
    for letter, partition in ((rekey_letter, 1), (aggregate_letter, 2)):
        assert letter.stage == names.SERVICE_AGGREGATOR
        assert letter.origin is not None and letter.origin.endswith(f":{partition}:0")
        assert base64.b64decode(letter.event.raw_b64 or "") == garbage
    assert wired.counter("failed", reason=names.REASON_DEAD_LETTER) == 2
    assert wired.tasks.empty() and wired.aggregated.empty()


async def test_a_quiet_partition_is_ticked_and_its_open_tasks_flushed_as_idle(wired: Wired) -> None:
    agg = wired.aggregator
    async with agg.rekey.test_context() as rekey:
        await rekey.put(parsed_record("c", offset=3), partition=0)
        record = await wired.tasks.take()
    partition = record.message.partition
    async with agg.aggregate.test_context() as aggregate:
        await aggregate.put(record.value, partition=partition)  # one event of two: the task stays open
        assert wired.aggregated.empty()
        wired.now += 30
        await agg.tick_idle_partitions()
        assert wired.tasks.empty(), "ticked before the partition was quiet for idle_flush"
        wired.now += 31
        await agg.tick_idle_partitions()
        tick = await wired.tasks.take()
        assert tick.message.partition == partition and decode_task_record(tick.value).idle_tick
        await aggregate.put(tick.value, partition=partition)
        (flushed,) = decode_batch((await wired.aggregated.take()).value).events
    assert flushed.fields["flush_reason"] == "idle" and names.TAG_AGGREGATE_IDLE in flushed.tags
    assert flushed.fields["count"] == 1
    await agg.tick_idle_partitions()
    assert wired.tasks.empty(), "nothing open any more: no tick"


async def test_after_a_rebalance_the_open_task_index_is_rebuilt_from_the_table(wired: Wired) -> None:
    agg = wired.aggregator
    async with agg.rekey.test_context() as rekey:
        await rekey.put(parsed_record("d", offset=4), partition=0)
        record = await wired.tasks.take()
    partition = record.message.partition
    async with agg.aggregate.test_context() as aggregate:
        await aggregate.put(record.value, partition=partition)
        # A rebalance, as Faust signals it: the in-memory index is forgotten, the tasks partitions owned kept.
        assigned = {TP("logs.tasks", number) for number in range(PARTITIONS)} | {TP("logs.parsed", 0)}
        await agg.app.on_partitions_revoked.send(assigned)
        await agg.app.on_partitions_assigned.send(assigned)
        assert agg.partitions.owned == set(range(PARTITIONS))
        assert not agg.partitions.processor.has(partition)
        wired.now += 61
        await agg.tick_idle_partitions()
        assert wired.tasks.empty(), "no index yet, so nothing known to be open"
        await aggregate.put(record.value, partition=partition)  # the same record again: a duplicate
        assert agg.partitions.processor.partitions[partition].open_keys == {"users|d"}
        assert wired.aggregated.empty(), "the redelivered event was folded once"
    assert wired.counter("dropped", reason=names.REASON_DUPLICATE_DELIVERY) == 1


def test_the_changelog_created_before_the_worker_is_the_one_faust_writes(wired: Wired) -> None:
    agg = wired.aggregator
    config = parse_pipeline(
        PIPELINE.format(state="/unused", broker=UNUSED_BROKER, partitions=PARTITIONS, every=2), env={}
    )
    topics = service_topics(config)
    assert list(topics) == [agg.table.changelog_topic.get_topic_name()]
    assert topics[agg.table.changelog_topic.get_topic_name()]["cleanup.policy"] == "compact"
