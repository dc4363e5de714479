"""Sending sealed batches to ``logs.raw``: in order per source, retried until Kafka takes them.

Batches of one source leave one after another and are acknowledged in order, up to
``IN_FLIGHT_PER_SOURCE`` on their way at once (the file input reads faster than one round trip per
batch allows; the idempotent producer keeps them in order per partition). A failed send is retried with
backoff until it succeeds; only an error retrying cannot fix (the record is too large) gives a batch up,
counted in ``streamstash_events_lost{reason="kafka_rejected"}``.

Every record carries headers: the collector's instance id, a batch id, and the checkpoint ranges its
lines cover; recovery uses them to neither repeat nor skip lines after ``kill -9``.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
from collections import Counter, deque
from collections.abc import Callable

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, MessageSizeTooLargeError

from streamstash import names
from streamstash.kafka.partitioner import default_partition
from streamstash.runtime.backoff import retry_delay
from streamstash.runtime.metrics import ServiceMetrics
from streamstash.services.collector.batches import SealedBatch
from streamstash.services.collector.buffers import Buffers
from streamstash.services.collector.health import KafkaHealth
from streamstash.services.collector.positions import AcknowledgedOffsets

log = logging.getLogger(__name__)

IN_FLIGHT_PER_SOURCE = 4
PERMANENT_ERRORS: tuple[type[Exception], ...] = (MessageSizeTooLargeError,)

Sending = tuple[asyncio.Task[None], SealedBatch]


def partition_for(key: bytes, partitions: list[int]) -> int:
    """Kafka's default partitioner (murmur2 of the key), computed here because recovery must know it."""
    return partitions[default_partition(key, len(partitions))]


class RawPartitions:
    """The partitions of ``logs.raw``, as last asked of Kafka, and the received count labelled by them.

    The received label is the partition a source's batches go to; batches sealed before the first
    partition list came from Kafka are counted once it has.
    """

    def __init__(self, topic: str, metrics: ServiceMetrics) -> None:
        self.topic = topic
        self.metrics = metrics
        self.current: list[int] = []  # emptied when a retry suspects they changed
        self._known: list[int] = []
        self._uncounted: Counter[str] = Counter()

    def learn(self, partitions: list[int]) -> None:
        if not partitions:
            return
        self.current = partitions
        self._known = partitions
        uncounted, self._uncounted = self._uncounted, Counter()
        for key, count in uncounted.items():
            self.count_received(key, count)

    def count_received(self, key: str, count: int) -> None:
        if self._known:
            self.metrics.received(self.topic, partition_for(key.encode(), self._known), count)
        else:
            self._uncounted[key] += count

    async def of(self, producer: AIOKafkaProducer) -> list[int]:
        if not self.current:
            found = await producer.partitions_for(self.topic)
            if not found:
                raise KafkaError(f"no partitions known for {self.topic}")
            self.learn(sorted(found))
        return self.current


class OrderedSender:
    def __init__(
        self,
        topic: str,
        instance: bytes,
        metrics: ServiceMetrics,
        buffers: Buffers,
        offsets: AcknowledgedOffsets,
        health: KafkaHealth,
        acknowledged: Callable[[SealedBatch], None],
    ) -> None:
        self.topic = topic
        self.instance = instance
        self.metrics = metrics
        self.buffers = buffers
        self.offsets = offsets
        self.health = health
        self.on_acknowledged = acknowledged
        self.producer: AIOKafkaProducer | None = None
        self.partitions = RawPartitions(topic, metrics)
        self.recovered = asyncio.Event()
        self.unacked: dict[int, SealedBatch] = {}  # by sequence
        self.sending: dict[str, asyncio.Task[None]] = {}  # last send task per source key
        self._pending: set[asyncio.Task[None]] = set()  # every send task not finished, of every source
        self.in_flight: set[SealedBatch] = set()  # sent at least once, not acknowledged yet
        self._recent: dict[str, deque[Sending]] = {}  # per source key

    def chain(self, batch: SealedBatch) -> asyncio.Task[None]:
        """Send ``batch`` after the batches of its source sealed before it."""
        self.unacked[batch.sequence] = batch
        key = batch.key
        recent = self._recent.setdefault(key, deque(maxlen=IN_FLIGHT_PER_SOURCE))
        previous = recent[-1] if recent else None
        window = recent[0][0] if len(recent) == IN_FLIGHT_PER_SOURCE else None
        task = asyncio.create_task(self._send_after(previous, window, batch), name=f"send:{key}")
        recent.append((task, batch))
        self.sending[key] = task
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)
        task.add_done_callback(functools.partial(self._forget, key))
        return task

    def _forget(self, key: str, task: asyncio.Task[None]) -> None:
        if self.sending.get(key) is task:
            del self.sending[key]
            self._recent.pop(key, None)

    async def _send_after(
        self, previous: Sending | None, window: asyncio.Task[None] | None, batch: SealedBatch
    ) -> None:
        try:
            await self._send_in_order(previous, window, batch)
        finally:
            batch.handed_over.set()  # never leave a successor waiting, whatever happened here

    async def _send_in_order(
        self, previous: Sending | None, window: asyncio.Task[None] | None, batch: SealedBatch
    ) -> None:
        # Only order matters in these waits: a predecessor that failed must not take this batch with it.
        if window is not None:
            await asyncio.gather(asyncio.shield(window), return_exceptions=True)
        if previous is not None:
            waiter = asyncio.ensure_future(previous[1].handed_over.wait())
            await asyncio.wait([waiter, previous[0]], return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
        await self.recovered.wait()
        value = self.buffers.read(batch)
        key = batch.key.encode()
        headers = [(names.HEADER_COLLECTOR, self.instance), (names.HEADER_BATCH_ID, batch.batch_id.encode())]
        if batch.positions:
            headers.append((names.HEADER_POSITIONS, json.dumps(batch.positions).encode()))
        attempt = 0
        while True:
            try:
                assert self.producer is not None
                partition = partition_for(key, await self.partitions.of(self.producer))
                self.in_flight.add(batch)
                self.offsets.register(batch, partition)
                batch.sent_at = time.monotonic()
                delivery = await self.producer.send(self.topic, value, key=key, partition=partition, headers=headers)
                batch.handed_over.set()
                metadata = await delivery
                break
            except PERMANENT_ERRORS as exc:
                # Retrying cannot help; the lines are counted and logged, and the source moves on.
                log.error(
                    "kafka rejected a batch",
                    extra={
                        "topic": self.topic,
                        "source": batch.key,
                        "events": batch.count,
                        "bytes": len(value),
                        "error": repr(exc),
                    },
                )
                self.metrics.lost(self.topic, names.REASON_KAFKA_REJECTED, batch.count)
                metadata = None
                break
            except Exception as exc:
                batch.handed_over.set()
                attempt += 1
                delay = retry_delay(attempt)
                if not isinstance(exc, KafkaError | OSError) and attempt == 1:
                    log.error(
                        "unexpected error sending a batch, retrying",
                        exc_info=exc,
                        extra={"topic": self.topic, "source": batch.key, "events": batch.count},
                    )
                self.health.send_failed(exc, batch, attempt, delay)
                self.metrics.failed(self.topic, names.REASON_KAFKA_SEND_RETRY, batch.count)
                if attempt > 1:
                    self.partitions.current = []  # partitions may have changed: ask again
                await asyncio.sleep(delay)
        if previous is not None:
            await asyncio.gather(asyncio.shield(previous[0]), return_exceptions=True)  # acknowledged in order
        self._acknowledged(batch, metadata.partition if metadata else None, metadata.offset if metadata else None)

    def _acknowledged(self, batch: SealedBatch, partition: int | None, offset: int | None) -> None:
        self.in_flight.discard(batch)
        self.offsets.acknowledged(batch, partition, offset)
        if partition is not None:
            self.metrics.sent(self.topic, partition, batch.count)
            if batch.sent_at is not None:  # send to acknowledgement
                self.metrics.observe_batch("publish", time.monotonic() - batch.sent_at)
        self.on_acknowledged(batch)
        self.unacked.pop(batch.sequence, None)

    async def drain(self) -> None:
        while self.sending:
            await asyncio.gather(*list(self.sending.values()), return_exceptions=True)

    async def cancel(self) -> None:
        # All of them, not only the last of each source: an earlier send left running would outlive the stop
        # that spilled its batch, and could still hand it to Kafka.
        tasks = list(self._pending)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
