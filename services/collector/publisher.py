"""The publisher: inputs' events -> micro-batches -> `logs.raw`, acknowledged in order, checkpoints after.

It puts together what each part does: ``batches.py`` (events per source key become one Kafka record),
``buffers.py`` (memory, then the disk spill, then paused inputs while Kafka is slow or away),
``sending.py`` (ordered sends per source, retried until Kafka takes them), ``positions.py`` (what Kafka
acknowledged, saved with the checkpoints) and ``health.py`` (readiness and the WARNINGs while Kafka
does not keep up).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid

from aiokafka import AIOKafkaProducer
from prometheus_client import Counter

from streamstash import names
from streamstash.config.common import BatchSettings
from streamstash.events.envelope import Event
from streamstash.runtime.metrics import ServiceMetrics
from streamstash.services.collector.batches import Batcher, SealedBatch
from streamstash.services.collector.buffers import Buffers
from streamstash.services.collector.checkpoints import CheckpointStore
from streamstash.services.collector.health import KafkaHealth
from streamstash.services.collector.inputs.base import Acknowledge, Advance, SenderKeeps
from streamstash.services.collector.positions import DEFAULT_CHECKPOINT_INTERVAL_S, AcknowledgedOffsets
from streamstash.services.collector.sending import OrderedSender, partition_for
from streamstash.services.collector.spill import Spill, SpillMeta, SpillRef

__all__ = ["DEFAULT_CHECKPOINT_INTERVAL_S", "Publisher", "partition_for"]

log = logging.getLogger(__name__)

DRAIN_TIMEOUT_S = 15.0
# With no batch open the monitor looks only this often (checkpoints, health), or at linger/2 if that is
# longer: each wake-up costs ~0.2 ms of CPU on a small VM, and at linger/2 (50 ms by default) an idle
# collector spent 4 of its 6.6 ms/s on them.
IDLE_TICK_S = 0.5


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
        self.topic = topic
        self.batch = batch
        self.metrics = metrics
        self.checkpoints = checkpoints
        self.spill = spill
        self.checkpoint_interval_s = checkpoint_interval_s
        instance = (checkpoints.instance if checkpoints is not None else uuid.uuid4().hex).encode()
        self.batcher = Batcher(batch)
        self.buffers = Buffers(buffer_max_events, spill, metrics, self._figures)
        self.offsets = AcknowledgedOffsets(topic, checkpoints, checkpoint_interval_s)
        self.health = KafkaHealth(self._figures)
        self.sender = OrderedSender(topic, instance, metrics, self.buffers, self.offsets, self.health, self._settled)
        self.sender.producer = producer
        self._left_behind: list[tuple[SpillMeta, SpillRef]] = []
        self._monitor_task: asyncio.Task[None] | None = None
        # The standard counters are labelled by topic and partition; which input the events came from
        # is this one's label.
        self.input_events = Counter(
            "streamstash_collector_input_events",
            "Events each kind of input handed over (file, docker, tcp, udp, stdin), counted as batches are sealed.",
            ["input"],
            registry=metrics.registry,
        )
        # Series exist from the start, so a dashboard (and a test) sees 0 rather than nothing.
        metrics.failed(topic, names.REASON_KAFKA_SEND_RETRY, 0)
        for reason in (names.REASON_BUFFER_FULL, names.REASON_KAFKA_REJECTED, names.REASON_STOPPED_UNSENT):
            metrics.lost(topic, reason, 0)

    @property
    def producer(self) -> AIOKafkaProducer | None:
        return self.sender.producer

    @property
    def memory_events(self) -> int:
        return self.buffers.memory_events

    @property
    def blocked(self) -> bool:
        """Inputs that cannot be read again (network, stdin) are paused: memory and spill are full."""
        return self.buffers.paused_inputs > 0

    @property
    def ready(self) -> bool:
        return (
            self.sender.recovered.is_set()
            and self.health.healthy
            and not self.blocked
            and not self.buffers.spilled_events
        )

    # ---- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        if self.spill is not None:
            self._left_behind = self.spill.load()
            if self._left_behind:
                self.batcher.sequence = max(meta.sequence for meta, _ in self._left_behind) + 1
                log.warning(
                    "spilled batches left by the previous run, sent first",
                    extra={
                        "batches": len(self._left_behind),
                        "events": self.spill.events,
                        "bytes": self.spill.bytes_used,
                    },
                )
        self.buffers.report()
        self._monitor_task = asyncio.create_task(self._monitor(), name="publisher-monitor")

    def begin(
        self, producer: AIOKafkaProducer, end_offsets: dict[int, int], already_in_kafka: set[str]
    ) -> list[asyncio.Task[None]]:
        """Recovery is done: start sending, the previous run's spill first; returns those sends."""
        self.sender.producer = producer
        self.offsets.start_after(end_offsets)
        self.sender.partitions.learn(sorted(end_offsets))
        replays: list[asyncio.Task[None]] = []
        for meta, ref in self._left_behind:
            if meta.batch_id in already_in_kafka:
                assert self.spill is not None
                self.spill.release(ref, meta.count)
                continue
            acks = [self.offsets.replayed_ack(meta.positions)] if meta.positions else []
            sealed = SealedBatch(meta.key, meta.count, meta.sequence, meta.batch_id, acks, meta.positions, None, ref)
            replays.append(self.sender.chain(sealed))
        self._left_behind = []
        self.offsets.save()
        self.sender.recovered.set()
        self.buffers.report()
        return replays

    # ---- taking events ---------------------------------------------------------------------------

    async def emit(self, key: str, event: Event, ack: Acknowledge | None) -> None:
        if self.buffers.full:
            # Lines that can be had again (a file's, a Beat's that keeps them) wait for room, never spilled.
            await self.buffers.wait_for_room(replayable=type(ack) is Advance or isinstance(ack, SenderKeeps))
        full = self.batcher.add(key, event, ack)
        self.buffers.took()
        if full:
            self._seal(key)

    def flush(self, key: str) -> None:
        """Seal ``key``'s pending batch now rather than after the linger: its sender waits for the acknowledgement."""
        self._seal(key)

    def _seal(self, key: str) -> None:
        sealed = self.batcher.seal(key)
        if sealed is None:
            return
        self.sender.partitions.count_received(key, sealed.count)
        self.input_events.labels(key.split(":", 1)[0]).inc(sealed.count)  # source keys start with the kind
        if self.buffers.should_spill(sealed):
            self.buffers.spill_batch(sealed)
        self.sender.chain(sealed)
        self.buffers.report()

    def _settled(self, batch: SealedBatch) -> None:
        """Kafka acknowledged ``batch`` (or refused it for good): its sources move on."""
        for ack in batch.acks:
            try:
                ack()
            except Exception:  # an input's hook must not stall every later batch of every source
                log.exception("acknowledgement hook failed", extra={"source": batch.key})
        self.offsets.save(force=False)
        self.health.acknowledged()
        self.buffers.release(batch)

    def scan_from(self) -> dict[int, int]:
        return self.offsets.scan_from()

    # ---- linger and health -------------------------------------------------------------------------

    def _figures(self) -> dict[str, object]:
        spill = self.spill
        return {
            "topic": self.topic,
            "memory_events": self.buffers.memory_events,
            "memory_limit": self.buffers.memory_limit,
            "spill_events": spill.events if spill else 0,
            "spill_bytes": spill.bytes_used if spill else 0,
            "spill_limit_bytes": spill.max_bytes if spill else 0,
            "batches_waiting": len(self.sender.unacked),
            "kafka_healthy": self.health.healthy,
            "inputs_paused": self.blocked,
        }

    async def _monitor(self) -> None:
        linger = self.batch.linger_ms / 1000
        tick = max(linger / 2, 0.005)
        opened = self.batcher.opened
        while True:
            if self.batcher.pending:
                await asyncio.sleep(tick)
            else:  # idle: until a batch opens, or the idle tick
                opened.clear()
                # asyncio.timeout, not wait_for: Python 3.11's wait_for can swallow the cancel that stops
                # this task (python/cpython#86296), and stop() then waited for it forever.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(max(tick, IDLE_TICK_S)):
                        await opened.wait()
                    continue  # a batch opened: ticks resume at linger/2, as while one is open
            try:
                self._tick(linger)
            except Exception:  # the linger flush must go on whatever one tick ran into
                log.exception("publisher monitor tick failed")

    def _tick(self, linger: float) -> None:
        now = time.monotonic()
        for key in self.batcher.lingering(now, linger):
            self._seal(key)
        self.offsets.save(force=False)
        self.health.check(now, self.sender.in_flight, troubled=self.blocked or self.buffers.spilled_events > 0)

    # ---- stopping ----------------------------------------------------------------------------------

    async def drain(self) -> None:
        """Send everything pending and wait for every acknowledgement."""
        for key in list(self.batcher.pending):
            self._seal(key)
        await self.sender.drain()

    async def stop(self, timeout: float = DRAIN_TIMEOUT_S) -> bool:
        """Drain for up to ``timeout``; what Kafka did not take by then is spilled for the next run.

        Returns whether Kafka took everything.
        """
        if self._monitor_task is not None:
            self._monitor_task.cancel()
            await asyncio.gather(self._monitor_task, return_exceptions=True)
        drained = True
        try:
            await asyncio.wait_for(self.drain(), timeout)
        except TimeoutError:
            drained = False
            await self.sender.cancel()
            self._spill_unacked()
        if self.spill is not None:
            self.spill.close()
        if self.checkpoints is not None:
            self.offsets.save()
        return drained

    def _spill_unacked(self) -> None:
        resent = [batch for batch in self.sender.unacked.values() if batch.kept_by_sender]
        if resent:
            log.warning(
                "stopping before Kafka took everything: batches left to their senders to send again",
                extra={"topic": self.topic, "batches": len(resent), "events": sum(batch.count for batch in resent)},
            )
        left = [batch for batch in self.sender.unacked.values() if batch.value is not None and not batch.kept_by_sender]
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
            self.buffers.spill_batch(batch)
        log.warning(
            "stopping before Kafka took everything: batches spilled for the next run",
            extra={"topic": self.topic, "batches": len(left), "events": events},
        )
