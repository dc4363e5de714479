"""Reading and writing topics directly, for assertions and for feeding services.

Each takes the bootstrap servers of a plaintext Kafka, or the `KafkaSettings` of a secured one.
"""

from __future__ import annotations

import asyncio
import time
from typing import TypeAlias

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition

from streamstash.config.common import KafkaSettings
from streamstash.events.envelope import Batch, DeadLetter, Event, decode_batch, decode_dead_letters, encode
from streamstash.kafka.compat.internals import force_metadata_update
from streamstash.kafka.security import client_security

Kafka: TypeAlias = str | KafkaSettings


def _client_options(kafka: Kafka) -> dict[str, object]:
    if isinstance(kafka, str):
        return {"bootstrap_servers": kafka}
    return {"bootstrap_servers": kafka.bootstrap_servers, **client_security(kafka)}


def read_dead_letters(bootstrap: Kafka, topic: str, expected: int, timeout: float = 30) -> list[DeadLetter]:
    """The dead letters ``topic`` holds once there are ``expected`` of them (or ``timeout`` passed)."""
    deadline = time.monotonic() + timeout
    while True:
        letters = [
            letter
            for record in asyncio.run(asyncio.wait_for(read_to_end(bootstrap, topic), timeout))
            for letter in decode_dead_letters(record.value).letters
        ]
        if len(letters) >= expected or time.monotonic() >= deadline:
            break
        time.sleep(0.2)
    assert len(letters) == expected, f"{topic}: {len(letters)} dead letters, expected {expected}"
    return letters


def read_events(bootstrap: Kafka, topic: str, timeout: float = 30) -> list[Event]:
    """Every event ``topic`` holds at the call, each partition in offset order.

    Up to the end offsets, never for a fixed time: a timed read could come back short on a loaded machine
    and pass for the whole topic, and it paid its whole timeout on every call.
    """
    records = asyncio.run(asyncio.wait_for(read_to_end(bootstrap, topic), timeout))
    return [event for record in records for event in decode_batch(record.value).events]


def produce_batches(bootstrap: Kafka, topic: str, batches: list[tuple[bytes, Batch | bytes]]) -> None:
    async def send() -> None:
        producer = AIOKafkaProducer(acks="all", **_client_options(bootstrap))
        await producer.start()
        try:
            for key, value in batches:
                payload = value if isinstance(value, bytes) else encode(value)
                await producer.send_and_wait(topic, payload, key=key)
        finally:
            await producer.stop()

    asyncio.run(send())


async def read_to_end(kafka: Kafka, topic: str) -> list[ConsumerRecord]:
    """Every record ``topic`` holds at the call, each partition in offset order, read up to the end offsets;
    a read that got fewer records than the offsets span fails (the topics read so have no gaps)."""
    # earliest: see the explicit seeks below for why the reset strategy must agree with them.
    consumer = AIOKafkaConsumer(
        enable_auto_commit=False, group_id=None, auto_offset_reset="earliest", **_client_options(kafka)
    )
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic)
        deadline = asyncio.get_running_loop().time() + 10
        # The topic exists (tests create it first), but a loaded broker may not list it in its metadata yet:
        # an empty answer here would read as "logs.raw holds nothing".
        while not partitions:
            if asyncio.get_running_loop().time() >= deadline:
                raise AssertionError(f"{topic} is not in the broker's metadata")
            await force_metadata_update(consumer)
            partitions = consumer.partitions_for_topic(topic)
            if not partitions:
                await asyncio.sleep(0.1)
        assignment = [TopicPartition(topic, partition) for partition in sorted(partitions)]
        consumer.assign(assignment)
        begins = await consumer.beginning_offsets(assignment)
        ends = await consumer.end_offsets(assignment)
        # An explicit seek, never seek_to_beginning: assign() starts a reset with the default strategy, and
        # aiokafka 0.14 applies that ListOffsets answer to a partition still awaiting *a* reset, whichever
        # was asked last (Fetcher._update_fetch_positions). A seek_to_beginning landing while it is in
        # flight was then undone, the position sat at the end and this read returned nothing for the
        # partition. Kafka's Java client had the same race (KAFKA-7703).
        for tp in assignment:
            consumer.seek(tp, begins[tp])
        records: dict[TopicPartition, list[ConsumerRecord]] = {tp: [] for tp in assignment}
        remaining = {tp for tp in assignment if ends[tp] > begins[tp]}
        while remaining:
            batches = await consumer.getmany(*remaining, timeout_ms=500)
            for tp, found in batches.items():
                records[tp].extend(record for record in found if record.offset < ends[tp])
            for tp in list(remaining):
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
        # Our topics are written by idempotent, non-transactional producers and never compacted: their offsets
        # have no gaps, so a read that got fewer records than the offsets span skipped some, and must not pass
        # for the whole topic.
        short = {
            tp.partition: (begins[tp], ends[tp], len(records[tp]))
            for tp in assignment
            if len(records[tp]) != ends[tp] - begins[tp]
        }
        assert not short, f"{topic}: short read, per partition (first offset, end offset, records read): {short}"
        return [record for tp in assignment for record in records[tp]]
    finally:
        await consumer.stop()
