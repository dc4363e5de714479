"""Micro-batching publisher: events per source key become one Kafka record, acknowledged in order.

A batch is flushed when it reaches ``max_events`` or ``max_bytes`` or has waited ``linger_ms``.
Batches of one source are sent one after another (the next waits for the previous ack) so the
input's checkpoint only ever moves forward over lines Kafka holds. A failed send is retried with
backoff until it succeeds; meanwhile the in-memory buffer fills and ``emit`` blocks the inputs.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass, field

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from streamstash.config.common import BatchSettings
from streamstash.envelope import Batch, Event, encode, encoded_size
from streamstash.metrics import ServiceMetrics
from streamstash.services.collector.inputs.base import Acknowledge

log = logging.getLogger(__name__)

MAX_BACKOFF_S = 10.0


@dataclass
class PendingBatch:
    events: list[Event] = field(default_factory=list)
    acks: list[Acknowledge] = field(default_factory=list)
    size: int = 0
    started: float = field(default_factory=time.monotonic)


class Publisher:
    def __init__(
        self,
        producer: AIOKafkaProducer,
        topic: str,
        batch: BatchSettings,
        metrics: ServiceMetrics,
        buffer_max_events: int,
        on_acked: Acknowledge | None = None,
    ) -> None:
        self.producer = producer
        self.topic = topic
        self.batch = batch
        self.metrics = metrics
        self.on_acked = on_acked
        self.pending: dict[str, PendingBatch] = {}
        self.sending: dict[str, asyncio.Task[None]] = {}  # last send task per source key
        self.buffered = 0
        self._room = asyncio.Semaphore(buffer_max_events)
        self._linger_task: asyncio.Task[None] | None = None
        self.kafka_healthy = True

    async def start(self) -> None:
        self._linger_task = asyncio.create_task(self._linger_loop(), name="publisher-linger")

    async def emit(self, key: str, event: Event, ack: Acknowledge | None) -> None:
        await self._room.acquire()  # backpressure: inputs wait while the buffer is full
        self.buffered += 1
        self.metrics.buffer_fill.labels(self.metrics.service, "publisher").set(self.buffered)
        batch = self.pending.get(key)
        if batch is None:
            batch = self.pending[key] = PendingBatch()
        batch.events.append(event)
        if ack is not None:
            batch.acks.append(ack)
        batch.size += encoded_size(event)
        if len(batch.events) >= self.batch.max_events or batch.size >= self.batch.max_bytes:
            self._flush(key)

    def _flush(self, key: str) -> None:
        batch = self.pending.pop(key, None)
        if batch is None or not batch.events:
            return
        previous = self.sending.get(key)
        task = asyncio.create_task(self._send_after(previous, key, batch), name=f"send:{key}")
        self.sending[key] = task
        task.add_done_callback(lambda done, key=key: self._forget(key, done))

    def _forget(self, key: str, task: asyncio.Task[None]) -> None:
        if self.sending.get(key) is task:
            del self.sending[key]

    async def _send_after(self, previous: asyncio.Task[None] | None, key: str, batch: PendingBatch) -> None:
        if previous is not None:
            await asyncio.shield(previous)
        value = encode(Batch(events=batch.events))
        attempt = 0
        while True:
            try:
                metadata = await (await self.producer.send(self.topic, value, key=key.encode()))
                break
            except KafkaError as exc:
                attempt += 1
                self.kafka_healthy = False
                delay = min(MAX_BACKOFF_S, 0.2 * 2**attempt) * (0.5 + random.random() / 2)
                log.warning("kafka send failed, retrying", extra={"topic": self.topic, "source": key,
                            "events": len(batch.events), "attempt": attempt, "error": repr(exc),
                            "retry_in_s": round(delay, 2)})
                self.metrics.failed(self.topic, "kafka_send_retry", len(batch.events))
                await asyncio.sleep(delay)
        self.kafka_healthy = True
        for ack in batch.acks:
            ack()
        if self.on_acked is not None:
            self.on_acked()
        self.metrics.sent(self.topic, metadata.partition, len(batch.events))
        self.buffered -= len(batch.events)
        self.metrics.buffer_fill.labels(self.metrics.service, "publisher").set(self.buffered)
        for _ in batch.events:
            self._room.release()

    async def _linger_loop(self) -> None:
        linger = self.batch.linger_ms / 1000
        while True:
            await asyncio.sleep(max(linger / 2, 0.005))
            now = time.monotonic()
            for key in [key for key, batch in self.pending.items() if now - batch.started >= linger]:
                self._flush(key)

    async def drain(self) -> None:
        """Send everything pending and wait for every acknowledgement."""
        for key in list(self.pending):
            self._flush(key)
        while self.sending:
            await asyncio.gather(*list(self.sending.values()), return_exceptions=True)

    async def stop(self) -> None:
        if self._linger_task is not None:
            self._linger_task.cancel()
            await asyncio.gather(self._linger_task, return_exceptions=True)
        await self.drain()
