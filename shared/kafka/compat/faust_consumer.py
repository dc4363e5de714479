"""Faust's aiokafka consumer, corrected where a rebalance or a record still in flight could make it skip records.

These correct Faust itself (faust-streaming 0.15.3 with aiokafka 0.14, both pinned), so they are on with
every broker. Faust reads with one loop, ``Consumer._drain_messages``, and keeps per partition a read
offset (records below it are dropped as already read), the offsets its agents acknowledged, and the
offset it committed. Where it drops records it fetched (the flow stops for a rebalance, the agents'
queues are cleared), it counts on ``perform_seek`` to move each partition back to its committed offset
and read them again. ``AtLeastOnceConsumer`` corrects three rules that break that, so that a record is
either processed or read again; reading again is ordinary at-least-once (event ids and the aggregator's
de-duplication by raw position keep the results exact). Each of the three is proven on Apache Kafka by
``tests/integration/faust_corrections``, which runs the same scenario against this consumer and against
one with Faust's own code back for that correction alone, and shows the latter losing records. A fourth
correction keeps the consumer alive, a fifth keeps it reading, and a sixth keeps start-up alive through
a Kafka outage.

1. **Partitions never committed are read again from their beginning** (faust-streaming/faust#253,
   reverted by #256; robinhood/faust#115). A poll the read loop sent before a rebalance can come back
   after it with records of the new assignment (aiokafka's ``Fetcher.fetched_records`` waits out a
   reassignment), while Faust's flow is still stopped. Faust drops them and seeks back to the
   committed offsets (the seek #256 put in ``Consumer.getmany`` instead of #253's fix), but aiokafka's
   ``seek_to_committed`` moves only partitions with a committed offset above 0: a partition never
   committed (its records were all still in flight, or it is new to the member) stayed past the
   dropped records, which were never read. Such partitions now restart at their beginning, as a new
   member would start them (``consumer_auto_offset_reset`` is earliest).
2. **The flow stops while perform_seek moves the positions** (faust-streaming/faust#216, fixed by #217
   only for apps without tables; #596, open, for apps with tables: the aggregator has one). After a
   rebalance an app with tables has its flow running (the recovery resumed it to read the changelogs),
   and ``Recovery.on_recovery_completed`` resumes the agents' partitions, seeks them, and only then
   empties the agents' queues (``flow_control.resume``): records the read loop handed on during the seek,
   from the positions the seek had set, were cleared from the queues with the positions already past
   them. The flow now stops for the seek; every caller starts it again afterwards (the recovery) or had
   stopped it (``getmany``).
3. **No commit past an unacknowledged head** (faust-streaming/faust#606, open; the fix proposed in #707 is
   not released). ``_new_offset`` commits past the head when ``min(acked) - committed`` is 1 (a record
   still being processed by another instance of an agent with concurrency > 1, or dropped), and checks no
   head at all on a partition never committed: after a crash that record is never read. Now nothing is
   committed past a head no agent acknowledged, the head of a partition never committed being the first
   record read since the last seek; if the hole stays, the partition is read again from it. A head Kafka
   does not hold (a transaction marker, a compacted record) shows itself then, as the first record read
   again is past it, and is committed past as before. The streamstash agents run with concurrency 1 and
   acknowledge in order, so for them a hole at the head is a record Faust dropped (by a race 1 and 2 do
   not cover): reading it again restores every document of the parser, but not an aggregate, since the
   aggregator keeps the newest raw position per task and takes older ones for duplicates. So 1 and 2 must
   keep holes from arising; 3 makes one visible (log, ``streamstash_consumer_rereads``) instead of
   committing past it. Not covered: while it revokes partitions, Faust forgets their committed offsets
   and acknowledgements before it waits for the agents, so no head is known for the commits it makes
   meanwhile (``on_partitions_revoked``); with concurrency > 1, a crash during that wait can still lose
   a record that was in flight.

One more keeps the consumer alive rather than its records: 4. (no upstream issue found; related:
faust-streaming/faust#446, the same detector crashing at start) Faust's commit livelock detector reads
aiokafka's ``TopicPartitionState.position`` for every assigned partition expecting None when there is no
position yet, but aiokafka 0.14's property asserts one. A partition awaiting its offset reset (just
assigned without a commit, or rewound by 1.) then crashed the consumer with an AssertionError: seen on
Apache Kafka with two aggregators splitting a group. Such a partition is left out of that check until it
has a position (``verify_event_path``).

5. **A partition whose stream buffer drained is read again at once** (Faust's back-pressure,
faust-streaming/faust#53; no issue found for the wait). When an agent's queue fills past
``stream_buffer_maxsize / 1.25``, Faust takes the partition out of its set of active partitions, and puts it
back once the queue has drained to 40%. The read loop's poll in flight meanwhile waits only for the other
active partitions (Faust's ``__assignor-__leader`` topic, which has no records), and a poll with no active
partition at all sleeps: either way until its 1 s timeout, however soon the partition came back, with its
records already fetched. Measured on Apache Kafka (``bench/parser_service.py``): the parser's agent
idled 0.46 s after every 100 records, a third of its time, and ran at 0.70x a bare aiokafka loop. Now the
buffer drop wakes the poll (``internals.wake_fetch_waiters``), and the wait without an active partition ends
at the drop too.

6. **Topic declarations wait while Kafka is away** (no upstream issue found): start-up stays alive. At
start-up Faust's conductor declares its internal topics (the table's changelog, the assignor's leader
topic) before it subscribes; ``_get_controller_node`` then sends to a broker that may be gone, and the
``NodeNotReadyError`` (or ``KafkaConnectionError``, Faust's ``NotReady``) crashed the conductor and with it
the worker: seen on Apache Kafka, an aggregator starting while the broker was killed
(``tests/fault/test_broker_faults.py``). The services' own start-up waits for Kafka before Faust starts, so
only a broker lost in the next second or two hit it. A retriable Kafka error there is now logged and the
declaration tried again, its wait doubling from about 0.5 s to about 5 s (jittered, ``retry_delay``), until
Kafka answers or the app stops (``declaring_through_outages``). Not covered: a broker lost during the
milliseconds of the producer's or the consumer's own bootstrap (aiokafka's ``bootstrap`` raises then); the
worker exits with that error, and its restart (compose's ``restart: unless-stopped``) waits for Kafka before
Faust starts.

Removed after testing on Kafka: putting back the read offset ``perform_seek`` set when the read loop came
back, after a rebalance, with a record of the previous generation (it stored that record's offset as read
after awaiting a commit). That cannot happen: the revocation waits for a commit in flight
(``Consumer.maybe_wait_for_commit_to_finish``) and stops the hand-over to the agents (``suspend_flow``),
and the generation changes only once the revocation has returned. ``tests/integration/faust_corrections``
documents that order on Kafka, so an upgrade that changes it shows.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping
from typing import Any

import faust
from aiokafka import TopicPartition
from aiokafka.errors import IllegalStateError, KafkaError
from faust.exceptions import NotReady
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP, TransportT
from faust.types.tuples import Message

from streamstash import names
from streamstash.kafka.compat.internals import wake_fetch_waiters
from streamstash.runtime.backoff import retry_delay
from streamstash.runtime.slots import StateSlot

log = logging.getLogger(__name__)

# A topic declaration refused because Kafka is away is tried again after about 0.5 s, doubling up to about 5 s
# (`retry_delay`: jittered, so the services of a stack do not all ask the returning broker at once).
DECLARE_RETRY_FIRST_S = 0.25
DECLARE_RETRY_MAX_S = 5.0

# How long an unacknowledged head may stay before the partition is read again. Our agents acknowledge
# in order, so a hole never closes by itself; the grace only spares agents that acknowledge out of order.
HOLE_GRACE_S = 2.0


def agent_topics(app: Any) -> set[str]:
    """The topics the app's agents consume (not table changelogs, which are read, never committed)."""
    return {topic for agent in app.agents.values() for topic in getattr(agent.channel, "topics", ())}


def partition_name(tp: TP) -> str:
    return f"{tp.topic}:{tp.partition}"


class AtLeastOnceConsumer(faust_aiokafka.Consumer):
    """See the module's docstring for what this changes in Faust's consumer and why."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.buffer_drained = asyncio.Event()
        self.holes = HoleTracker()
        self.rereads: Counter[tuple[str, str]] = Counter()  # (topic, reason); the lag timer exports them

    # 1. never-committed partitions restart at their beginning
    async def seek_to_committed(self) -> Mapping[TP, int]:
        committed = await super().seek_to_committed()
        if self.app.conf.consumer_auto_offset_reset == "earliest":
            await rewind_never_committed(committed, agent_topics(self.app), self._thread.seek_to_beginning)
        return committed

    # 2. no record is handed on while perform_seek moves the positions
    async def perform_seek(self) -> None:
        self.stop_flow()
        await super().perform_seek()
        self.holes.forget_all()  # every position is where the seek put it

    # 3. no commit past an unacknowledged head
    async def on_partitions_revoked(self, revoked: set[TP]) -> None:
        # Faust forgets the committed offsets and acknowledgements of revoked partitions before it waits
        # for the agents and commits what they finish: a head from before would block those commits.
        self.holes.forget(revoked)
        await super().on_partitions_revoked(revoked)

    def _new_offset(self, tp: TP) -> int | None:
        acked = self._acked.get(tp)
        if acked:
            committed = self._committed_offset.get(tp)
            head = committed if committed is not None else self.holes.first_read.get(tp)
            if head is not None and self.holes.blocks(tp, head, min(acked), time.monotonic()):
                return None
        return super()._new_offset(tp)

    # 4. the livelock check leaves out partitions that have no position yet
    def verify_event_path(self, now: float, tp: TP) -> None:
        if not has_position(self._thread, tp):
            return None
        return super().verify_event_path(now, tp)

    # 5. a partition whose stream buffer drained is read again at once
    def on_buffer_drop(self, tp: TP) -> None:
        resumed = tp in self._buffered_partitions
        super().on_buffer_drop(tp)
        if resumed:
            self.buffer_drained.set()
            wake_fetch_waiters(self._thread)

    async def _wait_next_records(self, timeout: float) -> tuple[Any, set[TP] | None]:
        if self.flow_active and not self.app.client_only and not self._get_active_partitions():
            self.buffer_drained.clear()  # Faust sleeps here for the timeout; the wait also ends at a stop
            await self.wait_first(self.buffer_drained.wait(), timeout=timeout)
            if not self._get_active_partitions():
                return {}, set()
        return await super()._wait_next_records(timeout)

    async def getmany(self, timeout: float) -> AsyncIterator[tuple[TP, Message]]:
        if self.holes.has_pending():
            await self._read_holes_again()
        async for tp, message in super().getmany(timeout):
            self.holes.observe_read(tp, message.offset)
            yield tp, message

    async def _read_holes_again(self) -> None:
        if self.app.rebalancing:
            return
        try:
            assigned = self.assignment()
        except Exception:  # noqa: BLE001 - not started or stopping: the next getmany tries again
            return
        for tp, offset in self.holes.take_pending(assigned):
            await self.seek(tp, offset)
            self.rereads[(tp.topic, names.REREAD_UNACKNOWLEDGED_HEAD)] += 1


def has_position(thread: Any, tp: TP) -> bool:
    """True if aiokafka knows where it reads ``tp`` next (False while the partition awaits its reset)."""
    try:
        assignment = thread._ensure_consumer()._fetcher._subscriptions.subscription.assignment
        state = assignment.state_value(TopicPartition(tp.topic, tp.partition))
    except Exception:  # noqa: BLE001 - not started, or revoked meanwhile: nothing to verify
        return False
    return state is not None and bool(state.has_valid_position)


class HoleTracker:
    """Unacknowledged heads of partitions: how long they stayed, which to read again, which Kafka lacks."""

    def __init__(self, grace_s: float = HOLE_GRACE_S) -> None:
        self.grace_s = grace_s
        self.first_read: dict[TP, int] = {}  # since the last seek: the head of a partition never committed
        self.first_seen: dict[TP, tuple[int, float]] = {}  # head offset, when first seen missing
        self.pending: dict[TP, int] = {}  # to be sought to this offset by the next getmany
        self.verifying: dict[TP, int] = {}  # sought there: the first record read decides
        self.absent: dict[TP, int] = {}  # Kafka holds no record at this offset

    def blocks(self, tp: TP, head: int, lowest_acked: int, now: float) -> bool:
        """True if a commit of ``tp`` now would go past ``head``, which no agent acknowledged."""
        if lowest_acked <= head or self.absent.get(tp) == head:
            self.first_seen.pop(tp, None)
            return False
        seen, since = self.first_seen.setdefault(tp, (head, now))
        if seen != head:
            self.first_seen[tp] = (head, now)
        elif now - since >= self.grace_s and tp not in self.pending and tp not in self.verifying:
            self.pending[tp] = head
            log.warning(
                "a record was never acknowledged by the agent: reading the partition again from it",
                extra={"partition": partition_name(tp), "offset": head, "lowest_acknowledged": lowest_acked},
            )
        return True

    def has_pending(self) -> bool:
        return bool(self.pending)

    def take_pending(self, assigned: Collection[TP]) -> list[tuple[TP, int]]:
        taken = [(tp, offset) for tp, offset in self.pending.items() if tp in assigned]
        self.pending.clear()
        for tp, offset in taken:
            self.verifying[tp] = offset
            self.first_seen.pop(tp, None)
        return taken

    def observe_read(self, tp: TP, offset: int) -> None:
        self.first_read.setdefault(tp, offset)
        expected = self.verifying.pop(tp, None) if self.verifying else None
        if expected is not None and offset > expected:
            self.absent[tp] = expected
            log.warning(
                "Kafka holds no record at the partition's head: committing past it",
                extra={"partition": partition_name(tp), "offset": expected, "next_record": offset},
            )

    def forget(self, tps: Collection[TP]) -> None:
        for state in (self.first_read, self.first_seen, self.pending, self.verifying, self.absent):
            for tp in tps:
                state.pop(tp, None)

    def forget_all(self) -> None:
        for state in (self.first_read, self.first_seen, self.pending, self.verifying, self.absent):
            state.clear()


async def rewind_never_committed(
    committed: Mapping[TP, int | None], consumed: Collection[str], seek_to_beginning: Callable[..., Awaitable[Any]]
) -> list[TP]:
    """Seek the partitions of ``consumed`` topics without a committed offset to their beginning.

    Only the agents' topics: table changelogs are positioned by Faust's recovery, never committed.
    """
    never_committed = sorted(
        (tp for tp, offset in committed.items() if tp.topic in consumed and not offset),
        key=lambda tp: (tp.topic, tp.partition),
    )
    if not never_committed:
        return []
    try:
        await seek_to_beginning(*never_committed)
    except IllegalStateError as exc:
        # Revoked meanwhile: the assignment that follows ends in another perform_seek.
        log.info(
            "rewind skipped: partitions no longer assigned",
            extra={"partitions": [partition_name(tp) for tp in never_committed], "error": str(exc)},
        )
        return []
    log.info(
        "rewound partitions never committed to their beginning",
        extra={"partitions": [partition_name(tp) for tp in never_committed]},
    )
    return never_committed


class AtLeastOnceApp(faust.App):
    """A Faust app whose Kafka transport makes ``AtLeastOnceConsumer`` consumers (for this app only)."""

    state_slot: StateSlot | None = None  # the instance's state slot (make_app), locked for the process's life

    def _new_transport(self) -> TransportT:
        transport = super()._new_transport()
        if isinstance(transport, faust_aiokafka.Transport):
            transport.Consumer = AtLeastOnceConsumer  # type: ignore[misc]  # per instance, not Faust's class
            transport._create_topic = declaring_through_outages(transport._create_topic)  # type: ignore[method-assign,assignment]
        return transport


def declaring_through_outages(create_topic: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
    """Faust's topic declaration (``Transport._create_topic``, for the producer and the consumer alike), with
    Kafka's being away waited out instead of raised: correction 6."""

    async def create(owner: Any, client: Any, topic: str, *args: Any, **kwargs: Any) -> None:
        attempt = 0
        while True:
            try:
                await create_topic(owner, client, topic, *args, **kwargs)
                return
            except (KafkaError, NotReady) as exc:
                if isinstance(exc, KafkaError) and not exc.retriable:
                    raise
                if owner.should_stop:
                    return  # stopping: what a declaration cut short by the stop does too
                attempt += 1
                delay = retry_delay(attempt, DECLARE_RETRY_FIRST_S, DECLARE_RETRY_MAX_S)
                log.warning(
                    "kafka is away: topic declaration will be tried again",
                    extra={"topic": topic, "error": repr(exc), "retry_in_s": round(delay, 2)},
                )
                await owner.sleep(delay)

    return create
