"""Faust's aiokafka consumer, corrected where a rebalance could make it skip records for good.

These correct Faust itself (faust-streaming 0.15.3, pinned), so they are on with every broker. Faust
reads with one loop, ``Consumer._drain_messages``, and keeps per partition a read offset (records below
it are dropped as already read), the offsets its agents acknowledged, and the offset it committed. Four
of its rules lose records around a rebalance; ``AtLeastOnceConsumer`` corrects each, so that a record is
either processed or read again. Reading again is ordinary at-least-once: event ids and the aggregator's
de-duplication by raw position keep the results exact.

1. (no upstream issue found; related: robinhood/faust#115, "the first message read after a rebalance
   is potentially dropped") A partition never committed is not moved back by ``seek_to_committed``
   (aiokafka moves only partitions with a committed offset above 0), so records Faust dropped when a
   rebalance caught them in flight were skipped. Such partitions now restart at their beginning, where a new
   member starts them (``consumer_auto_offset_reset`` is earliest).
2. (related: robinhood/faust#559, a read offset reset to a stale value across a rebalance) The read
   loop awaits a commit between taking a record of the old generation and storing its
   offset as read. When a whole rebalance happens during that commit, the stored offset overwrites
   the one ``perform_seek`` just set, and the records from the committed offset up to it are dropped
   as already read when they come again. The offset of a record from an older generation is put back
   to what ``perform_seek`` set (``getmany``).
3. (faust-streaming/faust#216, fixed by #217 only for apps without tables; the aggregator has one)
   After recovery Faust resumes the agents' partitions and then awaits ``perform_seek`` with the flow
   running, and empties its queues only afterwards: records handed on during the seek set the read
   offset past the committed one, those still queued were dropped, and their offsets were then dropped
   as already read when they came again (after a restart: the first record of a partition). The flow
   now stops for the seek (``perform_seek``); Faust starts it again right after.
4. (faust-streaming/faust#606, open; the fix proposed in #707 is not released) A commit went past a
   record the agent never acknowledged when it was the only one missing at the
   head: ``_new_offset`` tests ``min(acked) - committed > 1`` where the committed offset is the next
   one to read. Now nothing is committed past an unacknowledged head; if the hole stays, the
   partition is read again from the committed offset. A head that Kafka does not hold (a transaction
   marker, a compacted record) shows itself then, as the first record read again is past it, and is
   committed past as before. Reading again after later records were handled restores every document
   of the parser, but not an aggregate: the aggregator keeps the newest raw position per task and
   takes older ones for duplicates. So 1-3 must keep holes from arising; 4 makes one visible (log,
   ``streamstash_consumer_rereads``) instead of committing past it.

One more keeps the consumer alive rather than its records: 5. (no upstream issue found; related:
faust-streaming/faust#446, the same detector crashing at start) Faust's commit livelock detector reads
aiokafka's ``TopicPartitionState.position`` for every assigned partition expecting None when there is no
position yet, but aiokafka 0.14's property asserts one. A partition awaiting its offset reset (just
assigned without a commit, or rewound by 1.) then crashed the consumer with an AssertionError: seen on
Apache Kafka with two aggregators splitting a group. Such a partition is left out of that check until it
has a position (``verify_event_path``).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping, MutableMapping
from typing import Any

import faust
from aiokafka import TopicPartition
from aiokafka.errors import IllegalStateError
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP, TransportT
from faust.types.tuples import Message

from streamstash import names
from streamstash.runtime.slots import StateSlot

log = logging.getLogger(__name__)

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
        self._sought_read_offsets: dict[TP, int | None] = {}
        self.holes = HoleTracker()
        self.rereads: Counter[tuple[str, str]] = Counter()  # (topic, reason); the lag timer exports them

    # 1. never-committed partitions restart at their beginning
    async def seek_to_committed(self) -> Mapping[TP, int]:
        committed = await super().seek_to_committed()
        if self.app.conf.consumer_auto_offset_reset == "earliest":
            await rewind_never_committed(committed, agent_topics(self.app), self._thread.seek_to_beginning)
        return committed

    # 3. no record is handed on while perform_seek moves the positions
    async def perform_seek(self) -> None:
        # Every caller resumes the flow afterwards (Recovery._resume_streams) or had stopped it (getmany).
        self.stop_flow()
        await super().perform_seek()
        self._sought_read_offsets = dict(self._read_offset)
        self.holes.forget_all()

    # 5. the livelock check leaves out partitions that have no position yet
    def verify_event_path(self, now: float, tp: TP) -> None:
        if not has_position(self._thread, tp):
            return None
        return super().verify_event_path(now, tp)

    # 2. a record of an older generation leaves the read offset perform_seek set
    async def getmany(self, timeout: float) -> AsyncIterator[tuple[TP, Message]]:
        if self.holes.has_pending():
            await self._read_holes_again()
        async for tp, message in super().getmany(timeout):
            self.holes.observe_read(tp, message.offset)
            yield tp, message
            # The read loop stored this record's offset as read before asking for the next one.
            if message.generation_id != self.app.consumer_generation_id:
                restore_read_offset(self._read_offset, self._sought_read_offsets, tp, message.offset)
                self.rereads[(tp.topic, names.REREAD_STALE_READ_OFFSET)] += 1

    # 4. no commit past an unacknowledged head
    def _new_offset(self, tp: TP) -> int | None:
        acked = self._acked.get(tp)
        committed = self._committed_offset.get(tp)
        if acked and committed is not None and self.holes.blocks(tp, committed, min(acked), time.monotonic()):
            return None
        return super()._new_offset(tp)

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


def restore_read_offset(
    read_offset: MutableMapping[TP, int | None], sought: Mapping[TP, int | None], tp: TP, stale_offset: int
) -> None:
    """Put back the read offset ``perform_seek`` set for ``tp``, which a stale record overwrote."""
    if tp in sought:
        read_offset[tp] = sought[tp]
    else:
        read_offset.pop(tp, None)
    log.info(
        "a record read before the rebalance leaves the read offset as the seek set it",
        extra={"partition": partition_name(tp), "stale_offset": stale_offset, "read_offset": sought.get(tp)},
    )


class HoleTracker:
    """Unacknowledged heads of partitions: how long they stayed, which to read again, which Kafka lacks."""

    def __init__(self, grace_s: float = HOLE_GRACE_S) -> None:
        self.grace_s = grace_s
        self.first_seen: dict[TP, tuple[int, float]] = {}  # head offset, when first seen missing
        self.pending: dict[TP, int] = {}  # to be sought to this offset by the next getmany
        self.verifying: dict[TP, int] = {}  # sought there: the first record read decides
        self.absent: dict[TP, int] = {}  # Kafka holds no record at this offset

    def blocks(self, tp: TP, committed: int, lowest_acked: int, now: float) -> bool:
        """True if a commit of ``tp`` now would go past ``committed``, which no agent acknowledged."""
        if lowest_acked <= committed or self.absent.get(tp) == committed:
            self.first_seen.pop(tp, None)
            return False
        head, since = self.first_seen.setdefault(tp, (committed, now))
        if head != committed:
            self.first_seen[tp] = (committed, now)
        elif now - since >= self.grace_s and tp not in self.pending and tp not in self.verifying:
            self.pending[tp] = committed
            log.warning(
                "a record was never handed to the agent: reading the partition again from it",
                extra={"partition": partition_name(tp), "offset": committed, "lowest_acknowledged": lowest_acked},
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
        expected = self.verifying.pop(tp, None) if self.verifying else None
        if expected is not None and offset > expected:
            self.absent[tp] = expected
            log.warning(
                "Kafka holds no record at the partition's committed offset: committing past it",
                extra={"partition": partition_name(tp), "offset": expected, "next_record": offset},
            )

    def forget_all(self) -> None:
        self.first_seen.clear()
        self.pending.clear()
        self.verifying.clear()
        self.absent.clear()


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
        return transport
