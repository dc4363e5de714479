"""Where a latency line's time goes, stage by stage, from the records' own timestamps in logs.raw and logs.parsed.

Both producers stamp each record when they send it (Kafka's CreateTime, wall clock in ms), so for a marked
line: written -> in logs.raw is the collector (file poll, batching, linger), logs.raw -> logs.parsed the
parser (fetch, parse, send), and logs.parsed -> searchable the indexer with Elasticsearch's refresh and the
benchmark's own poll.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from streamstash.events.envelope import Event, decode_batch
from streamstash.kafka.compat.internals import force_metadata_update

_MARK_IN_LINE = re.compile(r'" \d{3} (\d+) "')


async def read_topic(kafka: str, topic: str) -> list[ConsumerRecord]:
    """Every record ``topic`` holds now (explicit seeks: aiokafka's seek_to_beginning can lose to the reset
    assign() starts, see tests/integration/collector/support.py)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka, group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        await force_metadata_update(consumer)  # one without a subscription knows no topic until it asks
        known = consumer.partitions_for_topic(topic)
        if not known:
            raise RuntimeError(f"{topic} is not in the broker's metadata")
        partitions = [TopicPartition(topic, p) for p in sorted(known)]
        consumer.assign(partitions)
        begins, ends = await consumer.beginning_offsets(partitions), await consumer.end_offsets(partitions)
        for tp in partitions:
            consumer.seek(tp, begins[tp])
        records: list[ConsumerRecord] = []
        remaining = {tp for tp in partitions if ends[tp] > begins[tp]}
        while remaining:
            for tp, found in (await consumer.getmany(*remaining, timeout_ms=1000)).items():
                records.extend(record for record in found if record.offset < ends[tp])
            remaining = {tp for tp in remaining if await consumer.position(tp) < ends[tp]}
        return records
    finally:
        await consumer.stop()


def _sent_at(records: list[ConsumerRecord], mark_of: Callable[[Event], int | None]) -> dict[int, float]:
    sent: dict[int, float] = {}
    for record in records:
        for event in decode_batch(record.value).events:
            mark = mark_of(event)
            if mark is not None:
                sent.setdefault(mark, record.timestamp / 1000)
    return sent


def _raw_mark(event: Event) -> int | None:
    found = _MARK_IN_LINE.search(event.message or "")
    return int(found.group(1)) if found else None


def _parsed_mark(event: Event) -> int | None:
    value = event.fields.get("bytes")
    return value if isinstance(value, int) else None


async def stages(
    kafka: str, raw_topic: str, parsed_topic: str, written_at: dict[int, float], seen_at: dict[int, float]
) -> dict[str, list[float]]:
    """Seconds per stage for every mark seen in all three places."""
    in_raw = _sent_at(await read_topic(kafka, raw_topic), _raw_mark)
    in_parsed = _sent_at(await read_topic(kafka, parsed_topic), _parsed_mark)
    marks = [mark for mark in seen_at if mark in in_raw and mark in in_parsed and mark in written_at]
    return {
        "written -> logs.raw (collector)": [in_raw[m] - written_at[m] for m in marks],
        "logs.raw -> logs.parsed (parser)": [in_parsed[m] - in_raw[m] for m in marks],
        "logs.parsed -> searchable (indexer)": [seen_at[m] - in_parsed[m] for m in marks],
    }


def summary(values: list[float]) -> str:
    if not values:
        return "no marks found"
    ordered = sorted(values)
    p50 = ordered[len(ordered) // 2]
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"p50 {p50 * 1000:6,.0f} ms, p99 {p99 * 1000:6,.0f} ms ({len(ordered):,} marks)"
