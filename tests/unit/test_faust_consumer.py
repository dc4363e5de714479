"""The Faust consumer's corrections (faust_consumer.py): after a rebalance every record is processed or read again.

1. partitions of the agents' topics never committed are read again from their beginning;
2. no record is handed on while perform_seek moves the positions;
3. no commit goes past a record no agent acknowledged (the first record read, on a partition never
   committed), and such a partition is read again;
6. a topic declaration Kafka refused while away is tried again.

tests/integration/faust_corrections proves each on Apache Kafka.
"""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from types import SimpleNamespace
from unittest import mock

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import (
    IllegalStateError,
    KafkaConnectionError,
    NodeNotReadyError,
    TopicAuthorizationFailedError,
)
from faust.exceptions import NotReady
from faust.tables.recovery import Recovery
from faust.transport.consumer import Consumer as FaustConsumer
from intervaltree import IntervalTree

from streamstash import names
from streamstash.kafka.compat import AtLeastOnceApp as StreamApp
from streamstash.kafka.compat.faust_consumer import (
    AtLeastOnceConsumer,
    HoleTracker,
    declaring_through_outages,
    rewind_never_committed,
)
from streamstash.kafka.compat.internals import coordination_error
from streamstash.kafka.faust_app import export_rereads
from streamstash.runtime import backoff
from streamstash.runtime.metrics import ServiceMetrics

RAW = "logs.raw"
CHANGELOG = "app-task-state-changelog"


def recording_seek(calls: list[tuple[TopicPartition, ...]], error: Exception | None = None):
    async def seek_to_beginning(*partitions: TopicPartition) -> bool:
        if error is not None:
            raise error
        calls.append(partitions)
        return True

    return seek_to_beginning


def test_only_never_committed_partitions_of_consumed_topics_are_rewound() -> None:
    committed = {
        TopicPartition(RAW, 2): None,
        TopicPartition(RAW, 0): 17,
        TopicPartition(RAW, 1): 0,
        TopicPartition(CHANGELOG, 0): None,
        TopicPartition("app-__assignor-__leader", 0): None,
    }
    calls: list[tuple[TopicPartition, ...]] = []
    rewound = asyncio.run(rewind_never_committed(committed, {RAW}, recording_seek(calls)))
    assert rewound == [TopicPartition(RAW, 1), TopicPartition(RAW, 2)]
    assert calls == [(TopicPartition(RAW, 1), TopicPartition(RAW, 2))]


def test_nothing_is_sought_when_every_consumed_partition_was_committed() -> None:
    calls: list[tuple[TopicPartition, ...]] = []
    rewound = asyncio.run(
        rewind_never_committed(
            {TopicPartition(RAW, 0): 5, TopicPartition(CHANGELOG, 0): None}, {RAW}, recording_seek(calls)
        )
    )
    assert rewound == []
    assert calls == []


def test_a_partition_revoked_meanwhile_is_left_to_the_next_assignment() -> None:
    seek = recording_seek([], error=IllegalStateError("not assigned"))
    assert asyncio.run(rewind_never_committed({TopicPartition(RAW, 0): None}, {RAW}, seek)) == []


def fake_consumer(
    committed: dict[TopicPartition, int | None], reset: str, calls: list[tuple[TopicPartition, ...]]
) -> AtLeastOnceConsumer:
    consumer = AtLeastOnceConsumer.__new__(AtLeastOnceConsumer)  # no transport or thread: only the seek is exercised
    agent = SimpleNamespace(channel=SimpleNamespace(topics=(RAW,)))
    consumer.app = SimpleNamespace(conf=SimpleNamespace(consumer_auto_offset_reset=reset), agents={"parse": agent})

    async def seek_to_committed() -> dict[TopicPartition, int | None]:
        return committed

    consumer._thread = SimpleNamespace(seek_to_committed=seek_to_committed, seek_to_beginning=recording_seek(calls))
    return consumer


def test_faust_seek_to_committed_also_rewinds_never_committed_partitions() -> None:
    committed = {TopicPartition(RAW, 0): None, TopicPartition(RAW, 1): 4, TopicPartition(CHANGELOG, 0): None}
    calls: list[tuple[TopicPartition, ...]] = []
    assert asyncio.run(fake_consumer(committed, "earliest", calls).seek_to_committed()) == committed
    assert calls == [(TopicPartition(RAW, 0),)]


def test_no_rewind_unless_new_members_start_at_the_beginning() -> None:
    calls: list[tuple[TopicPartition, ...]] = []
    asyncio.run(fake_consumer({TopicPartition(RAW, 0): None}, "latest", calls).seek_to_committed())
    assert calls == []


def test_the_apps_kafka_transport_makes_at_least_once_consumers() -> None:
    app = StreamApp("rewind-test", broker="kafka://127.0.0.1:9", web_enabled=False)
    assert app.transport.Consumer is AtLeastOnceConsumer
    assert type(app.transport).Consumer is not AtLeastOnceConsumer  # Faust's own class is left as it is


@pytest.mark.parametrize("offset", [None, 0])
def test_aiokafka_still_leaves_partitions_without_a_positive_commit_where_they_are(offset: int | None) -> None:
    # The premise of the rewind: if this fails, aiokafka now seeks such partitions itself and the
    # rewind is redundant (still harmless).
    tp = TopicPartition(RAW, 0)
    consumer = AIOKafkaConsumer.__new__(AIOKafkaConsumer)
    consumer._subscription = mock.Mock(assigned_partitions=mock.Mock(return_value={tp}))
    consumer._fetcher = mock.Mock()
    consumer.committed = mock.AsyncMock(return_value=offset)
    assert asyncio.run(consumer.seek_to_committed(tp)) == {tp: offset}
    consumer._fetcher.seek_to.assert_not_called()


PARSED = TopicPartition(RAW, 1)
OTHER = TopicPartition(RAW, 2)


def stub_consumer() -> AtLeastOnceConsumer:
    consumer = AtLeastOnceConsumer.__new__(AtLeastOnceConsumer)
    consumer.app = SimpleNamespace(rebalancing=False)
    consumer._read_offset = defaultdict(lambda: None)
    consumer.holes = HoleTracker()
    consumer.rereads = Counter()
    consumer.flow_active = True
    consumer.can_resume_flow = asyncio.Event()
    consumer.can_resume_flow.set()
    consumer.suspend_flow = asyncio.Event()
    return consumer


def record(offset: int) -> SimpleNamespace:
    return SimpleNamespace(offset=offset)


async def faust_getmany(records: list[SimpleNamespace]):
    for message in records:
        yield PARSED, message


# 2. the flow stops while perform_seek moves the positions ---------------------------------------------


def test_no_record_is_handed_on_while_perform_seek_moves_the_positions() -> None:
    consumer = stub_consumer()
    flow_during_seek: list[bool] = []

    async def seek() -> None:
        flow_during_seek.append(consumer.flow_active)
        consumer._read_offset[PARSED] = 6

    async def perform() -> None:
        with mock.patch.object(FaustConsumer, "perform_seek", lambda self: seek()):
            await consumer.perform_seek()

    asyncio.run(perform())
    assert flow_during_seek == [False]
    assert consumer.suspend_flow.is_set() and not consumer.can_resume_flow.is_set()


# 3. no commit past an unacknowledged head -----------------------------------------------------------


def commit_consumer(committed: int | None, acked: list[int], grace_s: float = 0.0) -> AtLeastOnceConsumer:
    consumer = stub_consumer()
    consumer.holes = HoleTracker(grace_s=grace_s)
    consumer._committed_offset = defaultdict(lambda: None, {PARSED: committed})
    consumer._acked = defaultdict(list, {PARSED: list(acked)})
    consumer._acked_index = defaultdict(set, {PARSED: set(acked)})
    consumer._gap = defaultdict(IntervalTree)
    return consumer


def test_faust_alone_commits_past_a_single_missing_head() -> None:
    # The premise: if Faust stops doing this, the correction is redundant (still harmless).
    consumer = commit_consumer(64, [65, 66])
    assert FaustConsumer._new_offset(consumer, PARSED) == 67


def test_faust_alone_checks_no_head_on_a_partition_never_committed() -> None:
    # faust-streaming/faust#606 on a fresh partition: record 0 still in flight, 1..4 acknowledged.
    consumer = commit_consumer(None, [1, 2, 3, 4])
    assert FaustConsumer._new_offset(consumer, PARSED) == 5


def test_the_first_record_read_is_the_head_of_a_partition_never_committed() -> None:
    consumer = commit_consumer(None, [1, 2, 3, 4], grace_s=60.0)
    for offset in range(5):
        consumer.holes.observe_read(PARSED, offset)
    assert consumer._new_offset(PARSED) is None
    consumer._acked[PARSED].insert(0, 0)
    consumer._acked_index[PARSED].add(0)
    assert consumer._new_offset(PARSED) == 5


def test_a_seek_makes_the_next_record_read_the_head() -> None:
    consumer = commit_consumer(None, [8, 9], grace_s=60.0)
    consumer.holes.observe_read(PARSED, 3)
    consumer.holes.forget_all()  # perform_seek
    consumer.holes.observe_read(PARSED, 8)
    consumer.holes.observe_read(PARSED, 9)
    assert consumer.holes.first_read == {PARSED: 8}
    assert consumer._new_offset(PARSED) == 10


def test_a_revocation_forgets_the_heads_of_the_revoked_partitions() -> None:
    # Faust pops the committed offset and the acknowledgements of revoked partitions before it waits for
    # the agents; what they finish then (acked [1]) must still be committed, as Faust alone does.
    consumer = commit_consumer(None, [1], grace_s=60.0)
    consumer.holes.observe_read(PARSED, 0)
    consumer.holes.observe_read(OTHER, 5)

    async def revoke(revoked: set[TopicPartition]) -> None:
        with mock.patch.object(FaustConsumer, "on_partitions_revoked", mock.AsyncMock()):
            await consumer.on_partitions_revoked(revoked)

    asyncio.run(revoke({PARSED}))
    assert consumer.holes.first_read == {OTHER: 5}
    assert consumer._new_offset(PARSED) == 2


def test_nothing_is_committed_past_a_record_no_agent_acknowledged() -> None:
    consumer = commit_consumer(64, [65, 66], grace_s=60.0)
    assert consumer._new_offset(PARSED) is None
    assert not consumer.holes.has_pending(), "within the grace the agent may still acknowledge it"
    consumer._acked[PARSED].insert(0, 64)
    consumer._acked_index[PARSED].add(64)
    assert consumer._new_offset(PARSED) == 67


def test_a_hole_that_stays_is_read_again_from_the_committed_offset() -> None:
    consumer = commit_consumer(64, [65, 66])
    assert consumer._new_offset(PARSED) is None
    assert consumer._new_offset(PARSED) is None  # past the grace (0 s here)
    assert consumer.holes.take_pending({PARSED}) == [(PARSED, 64)]
    consumer.holes.observe_read(PARSED, 64)  # Kafka had it: read again, it will be acknowledged
    assert consumer._new_offset(PARSED) is None


def test_a_head_kafka_does_not_hold_is_committed_past_once_read_again() -> None:
    consumer = commit_consumer(64, [65, 66])
    consumer._new_offset(PARSED)
    consumer._new_offset(PARSED)
    consumer.holes.take_pending({PARSED})
    consumer.holes.observe_read(PARSED, 65)  # the first record read from 64 is 65: no record at 64
    assert consumer._new_offset(PARSED) == 67


def test_pending_reads_of_partitions_revoked_meanwhile_are_dropped() -> None:
    holes = HoleTracker(grace_s=0.0)
    holes.blocks(PARSED, 64, 65, now=1.0)
    holes.blocks(PARSED, 64, 65, now=1.0)
    assert holes.take_pending(set()) == []
    assert not holes.has_pending()


def test_the_next_getmany_seeks_the_partition_back_to_the_hole() -> None:
    consumer = commit_consumer(64, [65, 66])
    consumer.assignment = lambda: {PARSED}
    sought: list[tuple[TopicPartition, int]] = []

    async def seek(tp: TopicPartition, offset: int) -> None:
        sought.append((tp, offset))

    consumer.seek = seek
    consumer._new_offset(PARSED)
    consumer._new_offset(PARSED)

    async def one_getmany() -> list[int]:
        with mock.patch.object(FaustConsumer, "getmany", lambda self, timeout: faust_getmany([record(64)])):
            return [message.offset async for _, message in consumer.getmany(timeout=1.0)]

    assert asyncio.run(one_getmany()) == [64]
    assert consumer.holes.first_read == {PARSED: 64}
    assert sought == [(PARSED, 64)]
    assert consumer.rereads == {(RAW, names.REREAD_UNACKNOWLEDGED_HEAD): 1}
    assert not consumer.holes.verifying and PARSED not in consumer.holes.absent


def test_faust_internals_the_corrections_rely_on_are_still_there() -> None:
    import inspect

    assert "getmany = self.getmany" in inspect.getsource(FaustConsumer._drain_messages)
    # 1: records fetched while the flow is stopped are dropped, and a seek is to bring them back.
    assert "await self.perform_seek()" in inspect.getsource(FaustConsumer.getmany)
    # 2: with tables, the agents' partitions are sought with the flow as the recovery left it.
    completed = inspect.getsource(Recovery.on_recovery_completed)
    assert completed.index("perform_seek()") < completed.index("flow_control.resume()")
    # 3: the head check Faust has (and lacks on a partition never committed).
    new_offset = inspect.getsource(FaustConsumer._new_offset)
    assert "if committed_offset:" in new_offset and "min(acked) - committed_offset > 1" in new_offset


# A dead group coordination ends the worker ------------------------------------------------------------


def app_with_coordination(task: object) -> SimpleNamespace:
    coordinator = SimpleNamespace(_coordination_task=task)
    return SimpleNamespace(
        consumer=SimpleNamespace(_thread=SimpleNamespace(_consumer=SimpleNamespace(_coordinator=coordinator)))
    )


def finished_task(error: BaseException | None = None, cancel: bool = False) -> asyncio.Task:
    async def routine() -> None:
        if error is not None:
            raise error
        await asyncio.sleep(10)

    async def run() -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(routine())
        await asyncio.sleep(0)
        if cancel:
            task.cancel()
        await asyncio.wait([task])
        return task

    return asyncio.run(run())


def test_the_error_that_ended_the_group_coordination_is_reported() -> None:
    error = ValueError("unpack requires a buffer of 2 bytes")
    assert coordination_error(app_with_coordination(finished_task(error))) is error


def test_no_error_while_coordinating_when_closed_or_before_the_consumer_exists() -> None:
    assert coordination_error(app_with_coordination(finished_task(cancel=True))) is None
    assert coordination_error(app_with_coordination(None)) is None
    assert coordination_error(SimpleNamespace(consumer=SimpleNamespace())) is None


def test_rereads_are_exported_once_each() -> None:
    metrics = ServiceMetrics("parser")
    exported: Counter[tuple[str, str]] = Counter()
    rereads = Counter({(RAW, names.REREAD_UNACKNOWLEDGED_HEAD): 2})
    export_rereads(rereads, exported, metrics)
    rereads[(RAW, names.REREAD_UNACKNOWLEDGED_HEAD)] += 1
    export_rereads(rereads, exported, metrics)
    export_rereads(rereads, exported, metrics)

    def value(reason: str) -> float | None:
        return metrics.registry.get_sample_value(
            "streamstash_consumer_rereads_total", {"service": "parser", "topic": RAW, "reason": reason}
        )

    assert value(names.REREAD_UNACKNOWLEDGED_HEAD) == 3


# ---- 6. topic declarations wait while Kafka is away ----------------------------------------------------


class _Owner:
    """What a declaration's owner (Faust's producer or consumer service) offers: its stop flag and sleep."""

    def __init__(self, stop_after_sleeps: int | None = None) -> None:
        self.slept: list[float] = []
        self.stop_after_sleeps = stop_after_sleeps

    @property
    def should_stop(self) -> bool:
        return self.stop_after_sleeps is not None and len(self.slept) >= self.stop_after_sleeps

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


def failing_then_declaring(errors: list[Exception], declared: list[str]):
    async def create_topic(owner: object, client: object, topic: str, *args: object, **kwargs: object) -> None:
        if errors:
            raise errors.pop(0)
        declared.append(topic)

    return create_topic


async def test_a_declaration_kafka_refused_while_away_is_tried_again_until_it_answers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(backoff.random, "uniform", lambda low, high: high)  # the jitter's longest waits
    declared: list[str] = []
    errors: list[Exception] = [NodeNotReadyError("node 1"), KafkaConnectionError("closed"), NotReady("no broker")]
    errors += [NodeNotReadyError("node 1")] * 3
    owner = _Owner()
    await declaring_through_outages(failing_then_declaring(errors, declared))(owner, None, "app-__assignor-__leader", 1)
    assert declared == ["app-__assignor-__leader"]
    assert owner.slept == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]  # doubling, capped


async def test_a_declaration_refused_for_good_or_cut_short_by_a_stop_is_not_tried_again() -> None:
    declared: list[str] = []
    with pytest.raises(TopicAuthorizationFailedError):  # not retriable: an operator's to fix, raised as before
        await declaring_through_outages(failing_then_declaring([TopicAuthorizationFailedError()], declared))(
            _Owner(), None, "t", 1
        )
    stopping = _Owner(stop_after_sleeps=1)
    errors: list[Exception] = [NodeNotReadyError("node 1")] * 5
    await declaring_through_outages(failing_then_declaring(errors, declared))(stopping, None, "t", 1)
    assert (declared, len(stopping.slept), len(errors)) == ([], 1, 3)
    assert 0.25 <= stopping.slept[0] <= 0.5  # the first wait, jittered


def test_the_apps_transport_declares_through_outages() -> None:
    app = StreamApp("declare-test", broker="kafka://127.0.0.1:1")
    transport = app.transport
    assert transport._create_topic.__qualname__.startswith("declaring_through_outages")
