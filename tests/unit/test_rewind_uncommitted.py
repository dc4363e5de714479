"""After a rebalance, partitions of the agents' topics never committed are read again from their beginning.

Faust drops fetched records a rebalance caught in flight and relies on seeking back to the committed
offsets; aiokafka does not move a partition without one, so those records were skipped for good.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from unittest import mock

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import IllegalStateError

from streamstash.streaming import RewindingConsumer, StreamApp, rewind_never_committed

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
    committed = {TopicPartition(RAW, 2): None, TopicPartition(RAW, 0): 17, TopicPartition(RAW, 1): 0,
                 TopicPartition(CHANGELOG, 0): None, TopicPartition("app-__assignor-__leader", 0): None}
    calls: list[tuple[TopicPartition, ...]] = []
    rewound = asyncio.run(rewind_never_committed(committed, {RAW}, recording_seek(calls)))
    assert rewound == [TopicPartition(RAW, 1), TopicPartition(RAW, 2)]
    assert calls == [(TopicPartition(RAW, 1), TopicPartition(RAW, 2))]


def test_nothing_is_sought_when_every_consumed_partition_was_committed() -> None:
    calls: list[tuple[TopicPartition, ...]] = []
    rewound = asyncio.run(rewind_never_committed({TopicPartition(RAW, 0): 5, TopicPartition(CHANGELOG, 0): None},
                                                 {RAW}, recording_seek(calls)))
    assert rewound == []
    assert calls == []


def test_a_partition_revoked_meanwhile_is_left_to_the_next_assignment() -> None:
    seek = recording_seek([], error=IllegalStateError("not assigned"))
    assert asyncio.run(rewind_never_committed({TopicPartition(RAW, 0): None}, {RAW}, seek)) == []


def fake_consumer(committed: dict[TopicPartition, int | None], reset: str,
                  calls: list[tuple[TopicPartition, ...]]) -> RewindingConsumer:
    consumer = RewindingConsumer.__new__(RewindingConsumer)  # no transport or thread: only the seek is exercised
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


def test_the_apps_kafka_transport_makes_rewinding_consumers() -> None:
    app = StreamApp("rewind-test", broker="kafka://127.0.0.1:9", web_enabled=False)
    assert app.transport.Consumer is RewindingConsumer
    assert type(app.transport).Consumer is not RewindingConsumer  # Faust's own class is left as it is


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
