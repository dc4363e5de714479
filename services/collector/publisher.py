"""Micro-batching publisher: events per source key become one Kafka record, acknowledged in order.

A batch is sealed when it reaches ``max_events`` or ``max_bytes`` or has waited ``linger_ms``.
Batches of one source are sent one after another (the next waits for the previous ack), so a
source's checkpoint only ever moves forward over lines Kafka holds, in order. A failed send is
retried with backoff until it succeeds. Checkpoints are saved at most once per ``checkpoint_interval_s``
(a few times a second by default), not after every batch: whatever was acknowledged after the last
save is found again by ``recovery.py``.

Buffering while Kafka is slow or away: sealed batches wait in memory up to ``buffer_max_events``
events. Beyond that, lines of files simply wait (the file input stops reading: the file is its
own buffer), and lines that cannot be read again (TCP, UDP, stdin, ...) are written to the disk
spill (``spill.py``) and read back when their turn comes; once the spill is full as well, those
inputs are paused too (UDP then drops and counts). While Kafka does not answer, anything is
spilled, or inputs are paused, the collector is not ready (/readyz), logs a WARNING with the
figures every few seconds and shows them in ``streamstash_buffer_fill{buffer="memory"|"spill"}``.

Every record carries headers: the collector's instance id, a batch id, and the checkpoint ranges
its lines cover; recovery uses them to neither repeat nor skip lines after ``kill -9``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections import Counter, deque
from dataclasses import dataclass, field

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, MessageSizeTooLargeError
from aiokafka.partitioner import murmur2

from streamstash import names
from streamstash.config.common import BatchSettings
from streamstash.events.envelope import Batch, Event, encode
from streamstash.runtime.backoff import retry_delay
from streamstash.runtime.metrics import ServiceMetrics
from streamstash.services.collector.checkpoints import CheckpointStore
from streamstash.services.collector.inputs.base import Acknowledge, Advance
from streamstash.services.collector.spill import Spill, SpillMeta, SpillRef

log = logging.getLogger(__name__)

STALL_S = 5.0  # a send unanswered this long means Kafka is not keeping up (or away)
REPORT_EVERY_S = 5.0
DRAIN_TIMEOUT_S = 15.0
# Saving positions after every acknowledgement costs a file replace each; recovery finds whatever
# was acknowledged after the last save in logs.raw, so saving a few times a second is enough.
DEFAULT_CHECKPOINT_INTERVAL_S = 0.5
# Batches of one source on their way at once: the file input reads faster than one round trip per
# batch allows. They leave and are acknowledged in order (idempotent producer: in order per partition).
IN_FLIGHT_PER_SOURCE = 4
PERMANENT_ERRORS: tuple[type[Exception], ...] = (MessageSizeTooLargeError,)


@dataclass(slots=True)
class PendingBatch:
    events: list[Event] = field(default_factory=list)
    acks: list[Acknowledge] = field(default_factory=list)
    advances: dict[str, list[Advance]] = field(default_factory=dict)  # checkpoint key -> [first, last]
    size: int = 0
    started: float = field(default_factory=time.monotonic)


@dataclass(eq=False, slots=True)
class SealedBatch:
    key: str
    count: int
    sequence: int
    batch_id: str
    acks: list[Acknowledge]
    positions: dict[str, list]  # checkpoint key -> [start, end, path]
    value: bytes | None  # None once spilled
    spilled: SpillRef | None = None
    sent_at: float | None = None
    registrations: list[tuple[int, int]] = field(default_factory=list)  # (partition, lower bound of its offset)
    handed_over: asyncio.Event = field(default_factory=asyncio.Event)  # producer.send was called (or gave up)


def partition_for(key: bytes, partitions: list[int]) -> int:
    """Kafka's default partitioner (murmur2 of the key), computed here because recovery must know it."""
    return partitions[(murmur2(key) & 0x7FFFFFFF) % len(partitions)]


class Publisher:
    def __init__(
        self,
        producer: AIOKafkaProducer | None,
        topic: str,
        batch: BatchSettings,
        metrics: ServiceMetrics,
        buffer_max_events: int,
        checkpoints: CheckpointStore | None = None,
        spill: Spill | None = None,
        checkpoint_interval_s: float = DEFAULT_CHECKPOINT_INTERVAL_S,
    ) -> None:
        self.producer = producer
        self.topic = topic
        self.batch = batch
        self.metrics = metrics
        self.memory_limit = buffer_max_events
        self.checkpoints = checkpoints
        self.spill = spill
        self.checkpoint_interval_s = checkpoint_interval_s
        self.instance = (checkpoints.instance if checkpoints is not None else uuid.uuid4().hex).encode()
        self.pending: dict[str, PendingBatch] = {}
        self.sending: dict[str, asyncio.Task[None]] = {}  # last send task per source key
        self._recent: dict[str, deque[tuple[asyncio.Task[None], SealedBatch]]] = {}  # per source key
        self.unacked: dict[int, SealedBatch] = {}  # by sequence
        self.memory_events = 0
        self.kafka_healthy = True
        self._paused_inputs = 0
        self._last_pause_log = 0.0
        self._sequence = 0
        self._room = asyncio.Event()
        self._recovered = asyncio.Event()
        self._partitions: list[int] = []
        # The received label is the partition a source's batches go to; batches sealed before the first
        # partition list came from Kafka are counted once it has (see _count_received).
        self._known_partitions: list[int] = []
        self._uncounted: Counter[str] = Counter()
        self._acked_next: dict[int, int] = {}  # partition -> offset after our highest acknowledged record
        self._inflight: dict[int, list[int]] = {}  # partition -> lower bounds of records sent, not yet acked
        self._sent: set[SealedBatch] = set()  # sent at least once, not acknowledged yet
        self._left_behind: list[tuple[SpillMeta, SpillRef]] = []
        self._monitor_task: asyncio.Task[None] | None = None
        self._last_report = 0.0
        self._last_save = 0.0
        # Series exist from the start, so a dashboard (and a test) sees 0 rather than nothing.
        metrics.failed(topic, names.REASON_KAFKA_SEND_RETRY, 0)
        for reason in (names.REASON_BUFFER_FULL, names.REASON_KAFKA_REJECTED, names.REASON_STOPPED_UNSENT):
            metrics.lost(topic, reason, 0)
        gauge = metrics.buffer_fill
        self._memory_gauge = gauge.labels(metrics.service, "memory")
        self._spill_gauge = gauge.labels(metrics.service, "spill")

    # ---- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        if self.spill is not None:
            self._left_behind = self.spill.load()
            if self._left_behind:
                self._sequence = max(meta.sequence for meta, _ in self._left_behind) + 1
                log.warning(
                    "spilled batches left by the previous run, sent first",
                    extra={
                        "batches": len(self._left_behind),
                        "events": self.spill.events,
                        "bytes": self.spill.bytes_used,
                    },
                )
        self._report_fill()
        self._monitor_task = asyncio.create_task(self._monitor(), name="publisher-monitor")

    def begin(
        self, producer: AIOKafkaProducer, end_offsets: dict[int, int], already_in_kafka: set[str]
    ) -> list[asyncio.Task[None]]:
        """Recovery is done: start sending, the previous run's spill first; returns those sends."""
        self.producer = producer
        for partition, offset in end_offsets.items():
            self._acked_next[partition] = max(self._acked_next.get(partition, 0), offset)
        self._partitions = sorted(end_offsets)
        self._learn_partitions(self._partitions)
        replays: list[asyncio.Task[None]] = []
        for meta, ref in self._left_behind:
            if meta.batch_id in already_in_kafka:
                assert self.spill is not None
                self.spill.release(ref, meta.count)
                continue
            sealed = SealedBatch(
                meta.key,
                meta.count,
                meta.sequence,
                meta.batch_id,
                [self._replayed_ack(meta.positions)] if meta.positions else [],
                meta.positions,
                None,
                ref,
            )
            replays.append(self._chain(sealed))
        self._left_behind = []
        self._save_offsets()
        self._recovered.set()
        self._report_fill()
        return replays

    def _replayed_ack(self, positions: dict[str, list]) -> Acknowledge:
        checkpoints = self.checkpoints

        def acknowledge() -> None:
            if checkpoints is not None:
                for checkpoint_key, (_start, end, path) in positions.items():
                    checkpoints.advance(checkpoint_key, path, end)

        return acknowledge

    @property
    def ready(self) -> bool:
        spilled = self.spill is not None and self.spill.events > 0
        return self._recovered.is_set() and self.kafka_healthy and not self.blocked and not spilled

    # ---- taking events ---------------------------------------------------------------------------

    async def emit(self, key: str, event: Event, ack: Acknowledge | None) -> None:
        replayable = type(ack) is Advance
        if self.memory_events >= self.memory_limit:
            await self._wait_for_room(replayable)
        batch = self.pending.get(key)
        if batch is None:
            batch = self.pending[key] = PendingBatch()
        batch.events.append(event)
        if ack is not None:
            if replayable:
                ends = batch.advances.get(ack.key)  # type: ignore[attr-defined]
                if ends is None:
                    batch.advances[ack.key] = [ack, ack]  # type: ignore[attr-defined]
                else:
                    ends[1] = ack
            else:
                batch.acks.append(ack)
        batch.size += len(event.message or "") * 2 + 256  # envelope.encoded_size, inlined: once per line
        self.memory_events += 1
        if len(batch.events) >= self.batch.max_events or batch.size >= self.batch.max_bytes:
            self._seal(key)

    @property
    def blocked(self) -> bool:
        """Inputs that cannot be read again (network, stdin) are paused: memory and spill are full."""
        return self._paused_inputs > 0

    async def _wait_for_room(self, replayable: bool) -> None:
        # Lines of files wait for memory and are never spilled: the file is their buffer, and
        # copying it to disk again would only slow a backlog down. Other lines go to the spill.
        if replayable:
            while self.memory_events >= self.memory_limit:
                self._room.clear()
                await self._room.wait()
            return
        if self.memory_events < self.memory_limit or (self.spill is not None and self.spill.has_room()):
            return
        self._paused_inputs += 1
        if self._paused_inputs == 1 and time.monotonic() - self._last_pause_log >= REPORT_EVERY_S:
            self._last_pause_log = time.monotonic()
            log.warning("buffers full, inputs paused until Kafka catches up", extra=self._figures())
        try:
            while self.memory_events >= self.memory_limit and not (self.spill is not None and self.spill.has_room()):
                self._room.clear()
                await self._room.wait()
        finally:
            self._paused_inputs -= 1

    def _seal(self, key: str) -> None:
        pending = self.pending.pop(key, None)
        if pending is None or not pending.events:
            return
        acks = pending.acks
        positions: dict[str, list] = {}
        for checkpoint_key, (first, last) in pending.advances.items():
            positions[checkpoint_key] = [first.start, last.end, last.path]
            acks.append(last)  # the last range's acknowledgement moves the checkpoint over all of them
        count = len(pending.events)
        sealed = SealedBatch(
            key, count, self._sequence, uuid.uuid4().hex, acks, positions, encode(Batch(events=pending.events))
        )
        self._sequence += 1
        self._count_received(key, count)
        if self.spill is not None and self.memory_events > self.memory_limit and not positions:
            self._spill(sealed)
        self._chain(sealed)
        self._report_fill()

    def _spill(self, sealed: SealedBatch) -> None:
        assert self.spill is not None and sealed.value is not None
        if self.spill.events == 0 and self.memory_events > self.memory_limit:
            log.warning("memory buffer full, spilling batches to disk", extra=self._figures())
        sealed.spilled = self.spill.append(
            SpillMeta(sealed.key, sealed.batch_id, sealed.sequence, sealed.count, sealed.positions), sealed.value
        )
        sealed.value = None
        self.memory_events -= sealed.count

    def _chain(self, sealed: SealedBatch) -> asyncio.Task[None]:
        self.unacked[sealed.sequence] = sealed
        key = sealed.key
        recent = self._recent.setdefault(key, deque(maxlen=IN_FLIGHT_PER_SOURCE))
        previous = recent[-1] if recent else None
        window = recent[0][0] if len(recent) == IN_FLIGHT_PER_SOURCE else None
        task = asyncio.create_task(self._send_after(previous, window, sealed), name=f"send:{key}")
        recent.append((task, sealed))
        self.sending[key] = task
        task.add_done_callback(lambda done, key=key: self._forget(key, done))
        return task

    def _forget(self, key: str, task: asyncio.Task[None]) -> None:
        if self.sending.get(key) is task:
            del self.sending[key]
            self._recent.pop(key, None)

    # ---- sending -----------------------------------------------------------------------------------

    async def _send_after(
        self,
        previous: tuple[asyncio.Task[None], SealedBatch] | None,
        window: asyncio.Task[None] | None,
        batch: SealedBatch,
    ) -> None:
        try:
            await self._send_in_order(previous, window, batch)
        finally:
            batch.handed_over.set()  # never leave a successor waiting, whatever happened here

    async def _send_in_order(
        self,
        previous: tuple[asyncio.Task[None], SealedBatch] | None,
        window: asyncio.Task[None] | None,
        batch: SealedBatch,
    ) -> None:
        # Only order matters in these waits: a predecessor that failed must not take this batch with it.
        if window is not None:
            await asyncio.gather(asyncio.shield(window), return_exceptions=True)
        if previous is not None:
            waiter = asyncio.ensure_future(previous[1].handed_over.wait())
            await asyncio.wait([waiter, previous[0]], return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
        await self._recovered.wait()
        value = batch.value
        if value is None:
            assert self.spill is not None and batch.spilled is not None
            value = self.spill.read(batch.spilled)
        key = batch.key.encode()
        headers = [(names.HEADER_COLLECTOR, self.instance), (names.HEADER_BATCH_ID, batch.batch_id.encode())]
        if batch.positions:
            headers.append((names.HEADER_POSITIONS, json.dumps(batch.positions).encode()))
        attempt = 0
        while True:
            try:
                partition = partition_for(key, await self._partition_list())
                self._register(batch, partition)
                batch.sent_at = time.monotonic()
                assert self.producer is not None
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
            except Exception as exc:  # noqa: BLE001 - anything else would lose the batch: retry, loudly
                batch.handed_over.set()
                attempt += 1
                delay = retry_delay(attempt)
                if not isinstance(exc, KafkaError | OSError) and attempt == 1:
                    log.error(
                        "unexpected error sending a batch, retrying",
                        exc_info=exc,
                        extra={"topic": self.topic, "source": batch.key, "events": batch.count},
                    )
                self._kafka_trouble(exc, batch, attempt, delay)
                self.metrics.failed(self.topic, names.REASON_KAFKA_SEND_RETRY, batch.count)
                if attempt > 1:
                    self._partitions = []  # partitions may have changed: ask again
                await asyncio.sleep(delay)
        if previous is not None:
            await asyncio.gather(asyncio.shield(previous[0]), return_exceptions=True)  # acknowledged in order
        self._acknowledged(batch, metadata.partition if metadata else None, metadata.offset if metadata else None)

    async def _partition_list(self) -> list[int]:
        if not self._partitions:
            found = await self.producer.partitions_for(self.topic)
            if not found:
                raise KafkaError(f"no partitions known for {self.topic}")
            self._partitions = sorted(found)
            self._learn_partitions(self._partitions)
        return self._partitions

    def _count_received(self, key: str, count: int) -> None:
        if self._known_partitions:
            self.metrics.received(self.topic, partition_for(key.encode(), self._known_partitions), count)
        else:
            self._uncounted[key] += count

    def _learn_partitions(self, partitions: list[int]) -> None:
        if not partitions:
            return
        self._known_partitions = partitions
        uncounted, self._uncounted = self._uncounted, Counter()
        for key, count in uncounted.items():
            self._count_received(key, count)

    def _register(self, batch: SealedBatch, partition: int) -> None:
        self._sent.add(batch)
        if any(registered == partition for registered, _ in batch.registrations):
            return
        lower_bound = self._acked_next.get(partition, 0)
        batch.registrations.append((partition, lower_bound))
        self._inflight.setdefault(partition, []).append(lower_bound)

    def _acknowledged(self, batch: SealedBatch, partition: int | None, offset: int | None) -> None:
        self._sent.discard(batch)
        for registered, lower_bound in batch.registrations:
            self._inflight[registered].remove(lower_bound)
        if partition is not None and offset is not None:
            self._acked_next[partition] = max(self._acked_next.get(partition, 0), offset + 1)
            self.metrics.sent(self.topic, partition, batch.count)
            if batch.sent_at is not None:  # send to acknowledgement
                self.metrics.observe_batch("publish", time.monotonic() - batch.sent_at)
        for ack in batch.acks:
            try:
                ack()
            except Exception:  # an input's hook must not stall every later batch of every source
                log.exception("acknowledgement hook failed", extra={"source": batch.key})
        self._save_offsets(force=False)
        if not self.kafka_healthy:
            self.kafka_healthy = True
            log.info("kafka reachable again", extra=self._figures())
        if batch.spilled is not None and self.spill is not None:
            self.spill.release(batch.spilled, batch.count)
        else:
            self.memory_events -= batch.count
        self.unacked.pop(batch.sequence, None)
        self._room.set()
        self._report_fill()

    def scan_from(self) -> dict[int, int]:
        """Per partition, an offset at or before every record of ours whose position may be unsaved."""
        offsets = dict(self._acked_next)
        for partition, bounds in self._inflight.items():
            if bounds:
                offsets[partition] = min(bounds)
        return offsets

    def _save_offsets(self, force: bool = True) -> None:
        if self.checkpoints is None:
            return
        now = time.monotonic()
        if force or now - self._last_save >= self.checkpoint_interval_s:
            self._last_save = now
            self.checkpoints.set_kafka_offsets(self.topic, self.scan_from())
            self.checkpoints.save()

    # ---- reporting ---------------------------------------------------------------------------------

    def _figures(self) -> dict[str, object]:
        return {
            "topic": self.topic,
            "memory_events": self.memory_events,
            "memory_limit": self.memory_limit,
            "spill_events": self.spill.events if self.spill else 0,
            "spill_bytes": self.spill.bytes_used if self.spill else 0,
            "spill_limit_bytes": self.spill.max_bytes if self.spill else 0,
            "batches_waiting": len(self.unacked),
            "kafka_healthy": self.kafka_healthy,
            "inputs_paused": self.blocked,
        }

    def _kafka_trouble(self, exc: BaseException, batch: SealedBatch, attempt: int, delay: float) -> None:
        if self.kafka_healthy:
            self.kafka_healthy = False
            self._last_report = time.monotonic()
            log.warning(
                "kafka send failed, buffering and retrying",
                extra={
                    **self._figures(),
                    "source": batch.key,
                    "attempt": attempt,
                    "error": repr(exc),
                    "retry_in_s": round(delay, 2),
                },
            )

    def _report_fill(self) -> None:
        self._memory_gauge.set(self.memory_events)
        self._spill_gauge.set(self.spill.events if self.spill else 0)

    async def _monitor(self) -> None:
        linger = self.batch.linger_ms / 1000
        while True:
            await asyncio.sleep(max(linger / 2, 0.005))
            try:
                self._tick(linger)
            except Exception:  # the linger flush must go on whatever one tick ran into
                log.exception("publisher monitor tick failed")

    def _tick(self, linger: float) -> None:
        now = time.monotonic()
        for key in [key for key, batch in self.pending.items() if now - batch.started >= linger]:
            self._seal(key)
        self._save_offsets(force=False)
        if self.kafka_healthy and any(
            batch.sent_at is not None and now - batch.sent_at > STALL_S for batch in self._sent
        ):
            self.kafka_healthy = False
            self._last_report = now
            log.warning("kafka does not acknowledge, buffering", extra=self._figures())
        troubled = not self.kafka_healthy or self.blocked or (self.spill is not None and self.spill.events > 0)
        if troubled and now - self._last_report >= REPORT_EVERY_S:
            self._last_report = now
            log.warning("buffering while kafka is unreachable or behind", extra=self._figures())

    async def drain(self) -> None:
        """Send everything pending and wait for every acknowledgement."""
        for key in list(self.pending):
            self._seal(key)
        while self.sending:
            await asyncio.gather(*list(self.sending.values()), return_exceptions=True)

    async def stop(self, timeout: float = DRAIN_TIMEOUT_S) -> None:
        """Drain for up to ``timeout``; what Kafka did not take by then is spilled for the next run."""
        if self._monitor_task is not None:
            self._monitor_task.cancel()
            await asyncio.gather(self._monitor_task, return_exceptions=True)
        try:
            await asyncio.wait_for(self.drain(), timeout)
        except TimeoutError:
            tasks = list(self.sending.values())
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self._spill_unacked()
        if self.spill is not None:
            self.spill.close()
        if self.checkpoints is not None:
            self._save_offsets()

    def _spill_unacked(self) -> None:
        left = [batch for batch in self.unacked.values() if batch.value is not None]
        if not left:
            return
        events = sum(batch.count for batch in left)
        if self.spill is None:
            log.error(
                "stopping with batches Kafka did not take and no spill: their lines are lost unless re-read from files",
                extra={"topic": self.topic, "batches": len(left), "events": events},
            )
            self.metrics.lost(self.topic, names.REASON_STOPPED_UNSENT, events)
            return
        for batch in sorted(left, key=lambda b: b.sequence):
            self._spill(batch)
        log.warning(
            "stopping before Kafka took everything: batches spilled for the next run",
            extra={"topic": self.topic, "batches": len(left), "events": events},
        )
