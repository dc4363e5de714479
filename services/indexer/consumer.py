"""The indexer loop: Kafka records -> bulk requests (several in flight) -> contiguous commits.

Guarantee: an offset is committed only when every document of every record up to it is in
Elasticsearch or (rejected for good) in the DLQ. Document ids are deterministic, so what a crash
makes us read again overwrites itself (or answers 409 on ``create``): the effect is exactly once.

While Elasticsearch is away the bulk requests in flight keep retrying, the buffer fills, and the
consumer *pauses* its partitions but keeps polling (aiokafka leaves the group when `getmany` is not
called within ``max_poll_interval_ms``), so the group membership survives an outage of any length;
when Elasticsearch answers again the requests go through, consumption resumes and catches up.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import IllegalStateError, KafkaError
from aiokafka.structs import ConsumerRecord

from streamstash import names
from streamstash.config.indexer import BulkSettings
from streamstash.events.envelope import DeadLetter, DeadLetterBatch, Event, encode
from streamstash.runtime.metrics import ServiceMetrics
from streamstash.search.engine import SearchEngine
from streamstash.services.indexer.bulk import BulkOutcome, BulkWriter
from streamstash.services.indexer.commits import CommitTracker, PendingRecord
from streamstash.services.indexer.concurrency import AdaptiveConcurrency
from streamstash.services.indexer.documents import Action, DocumentBuilder
from streamstash.services.indexer.metrics import IndexerMetrics
from streamstash.services.indexer.pipeline import BulkAccumulator, decode_record, rejection_letter

log = logging.getLogger(__name__)

MAX_POLL_WAIT_S = 0.25  # also how often settled work is looked at for committing
COMMIT_INTERVAL_S = 0.5
LAG_INTERVAL_S = 1.0
PROBE_INTERVAL_S = 5.0  # how often an idle indexer checks that Elasticsearch answers (readiness)
# Records of up to 1,000 events each (the collector's `batch.max_events`, kept by the parser): two make about
# one bulk request (max_docs' default 2,000). A poll is decoded whole before the loop looks at back-pressure
# again, so this bounds what a poll adds to the buffer: 50 records of 500 (25,000 documents, 12 requests'
# worth) made a burst of live objects that cost a third of the loop's CPU in the collector and in page
# faults, and 150 MB (tracemalloc peak, bench/indexer_cpu.py) against 15 MB with 4. Another poll costs
# microseconds.
RECORDS_PER_POLL = 2
DEAD_LETTERS_PER_RECORD = 500
# Pause consumption when this many full requests wait beyond those in flight; resume below one.
PAUSE_AT_WAITING_REQUESTS = 2


class DeadLetterSink:
    """Sends dead letters to the DLQ topic and waits for Kafka's acknowledgement."""

    def __init__(self, producer: AIOKafkaProducer, topic: str) -> None:
        self.producer = producer
        self.topic = topic

    async def send(self, letters: list[DeadLetter]) -> None:
        for start in range(0, len(letters), DEAD_LETTERS_PER_RECORD):
            chunk = letters[start : start + DEAD_LETTERS_PER_RECORD]
            await self.producer.send_and_wait(self.topic, encode(DeadLetterBatch(letters=chunk)))


class _Observer:
    """Feeds each bulk request's fate to the metrics and the concurrency controller."""

    def __init__(self, loop: IndexerLoop) -> None:
        self.loop = loop

    def request_done(self, latency_s: float, documents: int, throttled: bool) -> None:
        loop = self.loop
        loop.indexer_metrics.bulk_seconds.observe(latency_s)
        loop.indexer_metrics.bulk_requests.inc()
        loop.indexer_metrics.elasticsearch_up.set(1)
        loop.controller.on_response(latency_s, throttled, loop.clock())

    def request_failed(self, kind: str, documents: int) -> None:
        loop = self.loop
        loop.indexer_metrics.bulk_error(kind)
        if kind == "connection":
            loop.indexer_metrics.elasticsearch_up.set(0)
            loop.controller.on_unreachable(loop.clock())

    def items_retried(self, documents: int, reason: str) -> None:
        pass  # counted per topic from the outcome


class IndexerLoop:
    def __init__(
        self,
        consumer: AIOKafkaConsumer,
        client: SearchEngine,
        dead_letters: DeadLetterSink,
        builders: dict[str, DocumentBuilder],
        skip: Callable[[Event], bool] | None,
        bulk: BulkSettings,
        metrics: ServiceMetrics,
        writer_factory: Callable[[Any], BulkWriter],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.consumer = consumer
        self.client = client
        self.dead_letters = dead_letters
        self.builders = builders
        self.skip = skip
        self.bulk = bulk
        self.metrics = metrics
        self.indexer_metrics = IndexerMetrics(metrics)
        self.clock = clock
        self.controller = AdaptiveConcurrency(max_limit=bulk.max_in_flight, adaptive=bulk.adaptive_concurrency)
        self.writer = writer_factory(_Observer(self))
        self.tracker: CommitTracker[TopicPartition] = CommitTracker()
        self.accumulator = BulkAccumulator(bulk.max_docs, bulk.max_bytes, bulk.flush_ms / 1000)
        self._bulk_tasks: set[asyncio.Task[None]] = set()
        self._other_tasks: set[asyncio.Task[None]] = set()
        self._failure: BaseException | None = None
        self._paused = False
        self._started = False
        self._generation = 0  # bumped by each revocation
        self._last_commit = 0.0
        self._last_lag = 0.0
        self._last_probe = 0.0
        self.indexer_metrics.in_flight_limit.set(self.controller.limit)
        # Known label sets start at zero, so dashboards and alerts see the series before the first event.
        for topic in builders:
            for reason in (names.REASON_REJECTED, names.REASON_UNDECODABLE, names.REASON_BULK_RETRY):
                metrics.failed(topic, reason, 0)
            metrics.dropped(topic, names.REASON_CONSUMED, 0)

    # ---- readiness --------------------------------------------------------------------------------

    def ready(self) -> bool:
        """Consuming, and Elasticsearch answered the last request (false during an outage)."""
        return self._started and self.writer.available

    # ---- the loop ---------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        self._started = True
        try:
            while not stop.is_set():
                self._raise_failure()
                self._apply_backpressure()
                await self._wait_while_requests_are_full()
                records = await self.consumer.getmany(timeout_ms=self._poll_timeout_ms(), max_records=RECORDS_PER_POLL)
                now = self.clock()
                generation = self._generation
                for tp, messages in records.items():
                    for message in messages:
                        if self._generation != generation:
                            break  # a rebalance forgot these partitions meanwhile: the rest is read again
                        self._take(tp, message, now)
                        # Decoding a record is CPU work; let heartbeats and finished requests run between records.
                        await asyncio.sleep(0)
                self._dispatch(now)
                if now - self._last_commit >= COMMIT_INTERVAL_S:
                    await self.commit()
                if now - self._last_lag >= LAG_INTERVAL_S:
                    await self._observe_backlog(now)
                self._probe_when_idle(now)
        finally:
            self._started = False
            await self.drain(self.bulk.drain_timeout_s)

    def _take(self, tp: TopicPartition, message: ConsumerRecord, now: float) -> None:
        decoded = decode_record(message, self.builders[tp.topic], self.skip)
        parts = len(decoded.actions) + (1 if decoded.letters else 0)
        record = self.tracker.add(tp, message.offset, parts)
        if decoded.events:
            self.metrics.received(tp.topic, tp.partition, decoded.events)
        if decoded.skipped:
            self.metrics.dropped(tp.topic, names.REASON_CONSUMED, decoded.skipped)
        if decoded.letters:
            self.metrics.failed(tp.topic, names.REASON_UNDECODABLE, len(decoded.letters))
            self._spawn(self._send_letters(decoded.letters, [record]), self._other_tasks)
        for action in decoded.actions:
            action.record = record
        self.accumulator.add(decoded.actions, now)

    def _dispatch(self, now: float, force: bool = False) -> None:
        while self.accumulator and (force or self.accumulator.due(now)):
            if len(self._bulk_tasks) >= self.controller.limit:
                if self.accumulator.full():
                    self.controller.on_saturated()
                return
            self._spawn(self._write(self.accumulator.take()), self._bulk_tasks)
            self.indexer_metrics.in_flight.set(len(self._bulk_tasks))

    async def _write(self, chunk: list[Action]) -> None:
        with self.metrics.time_batch("index"):  # retries and dead letters included
            outcome = await self.writer.write(chunk)
            await self._settle(outcome)

    async def _settle(self, outcome: BulkOutcome) -> None:
        if outcome.rejected:
            # The DLQ must hold them before their records may commit.
            await self.dead_letters.send([rejection_letter(action, reason) for action, reason in outcome.rejected])
            for topic, count in Counter(action.topic for action, _ in outcome.rejected).items():
                self.metrics.failed(topic, names.REASON_REJECTED, count)
            log.warning(
                "documents rejected by elasticsearch, sent to the DLQ",
                extra={"documents": len(outcome.rejected), "first_reason": outcome.rejected[0][1][:300]},
            )
        # Counted per record and per partition (Counter counts an iterable in C), not settled one action at a
        # time: a request's 2,000 actions come from a handful of records.
        parts = Counter(action.record for action in outcome.settled)
        parts.update(action.record for action, _ in outcome.rejected)
        for record, count in parts.items():
            if record is not None:
                record.settle(count)
        sent = Counter((action.topic, action.partition) for action in outcome.settled)
        for (topic, partition), count in sent.items():
            self.metrics.sent(topic, partition, count)
        for result, count in outcome.results.items():
            self.indexer_metrics.items(result.value, count)
        for topic, count in outcome.retried.items():
            self.metrics.failed(topic, names.REASON_BULK_RETRY, count)

    async def _send_letters(self, letters: list[DeadLetter], records: Iterable[PendingRecord]) -> None:
        await self.dead_letters.send(letters)
        for record in records:
            record.settle()

    def _spawn(self, coroutine: Any, group: set[asyncio.Task[None]]) -> None:
        task = asyncio.create_task(coroutine)
        group.add(task)

        def done(finished: asyncio.Task[None]) -> None:
            group.discard(finished)
            self.indexer_metrics.in_flight.set(len(self._bulk_tasks))
            if not finished.cancelled() and finished.exception() is not None and self._failure is None:
                self._failure = finished.exception()

        task.add_done_callback(done)

    def _raise_failure(self) -> None:
        """A bulk or DLQ task failed in a way retries cannot fix (e.g. Kafka refused the DLQ record):
        stop, without committing past it; a restart re-reads the unsettled records."""
        if self._failure is not None:
            raise self._failure

    # ---- back-pressure, commits, backlog ----------------------------------------------------------------

    async def _wait_while_requests_are_full(self) -> None:
        """A due request waits for one in flight to finish: until then there is nothing to do, and polling
        at once again would spin (a paused consumer's getmany returns at once) for as long as Elasticsearch
        takes to answer."""
        if self._bulk_tasks and len(self._bulk_tasks) >= self.controller.limit and self.accumulator.due(self.clock()):
            await asyncio.wait(set(self._bulk_tasks), timeout=MAX_POLL_WAIT_S, return_when=asyncio.FIRST_COMPLETED)

    def _poll_timeout_ms(self) -> int:
        wait = MAX_POLL_WAIT_S
        deadline = self.accumulator.deadline()
        if deadline is not None:
            wait = min(wait, max(0.0, deadline - self.clock()))
        return max(1, int(wait * 1000))

    def _apply_backpressure(self) -> None:
        waiting = max(len(self.accumulator) / self.bulk.max_docs, self.accumulator.bytes / self.bulk.max_bytes)
        assigned = self.consumer.assignment()
        if not self._paused and waiting >= PAUSE_AT_WAITING_REQUESTS:
            self.consumer.pause(*assigned)
            self._paused = True
            self.indexer_metrics.paused.set(1)
            log.info(
                "consumption paused: bulk requests are backing up",
                extra={
                    "waiting_documents": len(self.accumulator),
                    "in_flight": len(self._bulk_tasks),
                    "elasticsearch_available": self.writer.available,
                },
            )
        elif self._paused and waiting < 1:
            self.consumer.resume(*assigned)
            self._paused = False
            self.indexer_metrics.paused.set(0)
            log.info("consumption resumed", extra={"waiting_documents": len(self.accumulator)})
        elif self._paused:
            # Partitions assigned while paused must not start flowing.
            self.consumer.pause(*assigned)

    async def commit(self) -> None:
        self._last_commit = self.clock()
        offsets = self.tracker.committable()
        self.indexer_metrics.unsettled_records.set(self.tracker.unsettled())
        assigned = self.consumer.assignment()
        offsets = {tp: offset for tp, offset in offsets.items() if tp in assigned}
        if not offsets:
            return
        try:
            await self.consumer.commit(offsets)
        except (KafkaError, IllegalStateError) as exc:
            # Most often a rebalance in progress: the records will be read again (idempotent ids).
            log.warning("offset commit failed; will retry", extra={"error": repr(exc), "partitions": len(offsets)})
            return
        self.tracker.mark_committed(offsets)

    async def _observe_backlog(self, now: float) -> None:
        """Lag per partition: records not in Elasticsearch yet, i.e. not fetched plus fetched but unsettled.

        That is the end minus the offset this instance may commit, as Kafka's tools count lag; the fetch
        position alone hid the documents waiting in the indexer's own buffer.
        """
        self._last_lag = now
        unfetched_total = 0
        for tp in self.consumer.assignment():
            try:
                highwater = self.consumer.highwater(tp)
                if highwater is None:
                    continue
                position = await self.consumer.position(tp)
            except (IllegalStateError, AssertionError):
                continue  # revoked meanwhile
            unfetched = max(0, highwater - position)
            lag = unfetched + self.tracker.unsettled_in(tp)
            self.metrics.consumer_lag.labels(self.metrics.service, tp.topic, str(tp.partition)).set(lag)
            unfetched_total += unfetched
        limit = self.controller.on_backlog(unfetched_total + self.tracker.unsettled(), now)
        self.indexer_metrics.in_flight_limit.set(limit)

    def _probe_when_idle(self, now: float) -> None:
        """Keep readiness true to life when no bulk request is telling us whether Elasticsearch answers."""
        if self._bulk_tasks or now - self._last_probe < PROBE_INTERVAL_S:
            return
        last = self.writer.last_success
        if last is not None and now - last < PROBE_INTERVAL_S:
            return
        self._last_probe = now

        async def probe() -> None:
            up = await self.client.ping()
            if not self._bulk_tasks:
                self.writer.available = up
                self.indexer_metrics.elasticsearch_up.set(1 if up else 0)

        self._spawn(probe(), self._other_tasks)

    # ---- stopping and rebalancing -----------------------------------------------------------------------

    async def drain(self, timeout_s: float) -> None:
        """Send what is buffered, wait for what is in flight (at most ``timeout_s``), commit."""
        deadline = self.clock() + timeout_s
        while self.clock() < deadline:
            self._dispatch(self.clock(), force=True)
            pending = self._bulk_tasks | self._other_tasks
            if not pending and not self.accumulator:
                break
            if pending:
                await asyncio.wait(
                    pending, timeout=max(0.0, deadline - self.clock()), return_when=asyncio.FIRST_COMPLETED
                )
        leftover = self._bulk_tasks | self._other_tasks
        if leftover or self.accumulator:
            log.warning(
                "stopping with work unfinished; it will be read again",
                extra={
                    "in_flight": len(self._bulk_tasks),
                    "waiting_documents": len(self.accumulator),
                    "unsettled_records": self.tracker.unsettled(),
                },
            )
        for task in leftover:
            task.cancel()
        if leftover:
            await asyncio.gather(*leftover, return_exceptions=True)
        await self.commit()

    def rebalance_listener(self, on_assigned: Callable[[], None] | None = None) -> ConsumerRebalanceListener:
        """`on_assigned` runs after every assignment (the group member id is known by then)."""
        return _Rebalance(self, on_assigned)

    async def on_revoked(self, revoked: set[TopicPartition]) -> None:
        if not revoked:
            return
        self._generation += 1
        await self.drain(self.bulk.drain_timeout_s)
        # Work cancelled by the drain on partitions we keep would never settle: re-read it instead.
        kept_unsettled = {tp for tp in self.tracker.partitions() if self.tracker.unsettled_in(tp)} - revoked
        self.tracker.forget(revoked | kept_unsettled)
        dropped = self.accumulator.drop({(tp.topic, tp.partition) for tp in revoked | kept_unsettled})
        if kept_unsettled:
            await self.consumer.seek_to_committed(*kept_unsettled)
        for tp in revoked:
            self.metrics.forget_lag(tp.topic, tp.partition)  # another instance may report it from now on
        log.info("partitions revoked", extra={"partitions": len(revoked), "dropped_documents": dropped})


class _Rebalance(ConsumerRebalanceListener):
    def __init__(self, loop: IndexerLoop, on_assigned: Callable[[], None] | None) -> None:
        self.loop = loop
        self.on_assigned = on_assigned

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self.loop.on_revoked(set(revoked))

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        log.info("partitions assigned", extra={"partitions": len(assigned)})
        if self.on_assigned is not None:
            self.on_assigned()
