"""Reading and writing topics directly, for assertions and for feeding services.

Each takes the bootstrap servers of a plaintext Kafka, or the `KafkaSettings` of a secured one.
"""

from __future__ import annotations

import asyncio
from typing import TypeAlias

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from streamstash.config.common import KafkaSettings
from streamstash.events.envelope import Batch, DeadLetter, Event, decode_batch, decode_dead_letters, encode
from streamstash.kafka.security import client_security

Kafka: TypeAlias = str | KafkaSettings


def _client_options(kafka: Kafka) -> dict[str, object]:
    if isinstance(kafka, str):
        return {"bootstrap_servers": kafka}
    return {"bootstrap_servers": kafka.bootstrap_servers, **client_security(kafka)}


async def _read(bootstrap: Kafka, topic: str, expected: int, timeout: float) -> list[bytes]:
    consumer = AIOKafkaConsumer(
        topic, auto_offset_reset="earliest", enable_auto_commit=False, group_id=None, **_client_options(bootstrap)
    )
    await consumer.start()
    values: list[bytes] = []
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            for messages in batches.values():
                values.extend(message.value for message in messages)
            if expected and len(values) >= expected:
                break
    finally:
        await consumer.stop()
    return values


def read_dead_letters(bootstrap: Kafka, topic: str, expected: int, timeout: float = 30) -> list[DeadLetter]:
    letters: list[DeadLetter] = []
    for value in asyncio.run(_read(bootstrap, topic, 0, timeout=3)) or []:
        letters.extend(decode_dead_letters(value).letters)
    deadline_reads = 0
    while len(letters) < expected and deadline_reads < timeout / 3:
        letters = [
            letter
            for value in asyncio.run(_read(bootstrap, topic, 0, timeout=3))
            for letter in decode_dead_letters(value).letters
        ]
        deadline_reads += 1
    assert len(letters) == expected, f"{topic}: {len(letters)} dead letters, expected {expected}"
    return letters


def read_events(bootstrap: Kafka, topic: str, timeout: float = 3) -> list[Event]:
    return [event for value in asyncio.run(_read(bootstrap, topic, 0, timeout)) for event in decode_batch(value).events]


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
