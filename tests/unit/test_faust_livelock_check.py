"""Correction 4 of the Faust consumer: its livelock check leaves out partitions that have no position yet,
where Faust (reading aiokafka 0.14's asserting ``position``) crashed the consumer."""

from __future__ import annotations

import asyncio
import inspect
from types import SimpleNamespace
from unittest import mock

import pytest
from aiokafka import TopicPartition
from aiokafka.consumer.subscription_state import TopicPartitionState
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread
from faust.types import TP

from streamstash.kafka.compat.faust_consumer import AtLeastOnceConsumer, has_position

PARTITION = TP("logs.tasks", 2)


def thread_with(state: object) -> SimpleNamespace:
    assignment = SimpleNamespace(state_value=lambda tp: state if tp == TopicPartition("logs.tasks", 2) else None)
    subscriptions = SimpleNamespace(subscription=SimpleNamespace(assignment=assignment))
    consumer = SimpleNamespace(_fetcher=SimpleNamespace(_subscriptions=subscriptions))
    return SimpleNamespace(_ensure_consumer=lambda: consumer)


def awaiting_reset() -> TopicPartitionState:
    """What aiokafka holds for a partition until its offset reset answers (built in a loop, as aiokafka wants)."""

    async def build() -> TopicPartitionState:
        return TopicPartitionState(assignment=SimpleNamespace(_notify_change=lambda: None))

    return asyncio.run(build())


def test_faust_reads_a_position_aiokafka_asserts_for_a_partition_awaiting_its_reset() -> None:
    assert "committed_offset = tp_state.position" in inspect.getsource(AIOKafkaConsumerThread.verify_event_path)
    with pytest.raises(AssertionError):
        _ = awaiting_reset().position


def test_a_partition_without_a_position_is_left_out_of_the_check() -> None:
    consumer = AtLeastOnceConsumer.__new__(AtLeastOnceConsumer)
    consumer._thread = thread_with(awaiting_reset())
    with mock.patch("faust.transport.drivers.aiokafka.Consumer.verify_event_path") as faust_check:
        assert consumer.verify_event_path(0.0, PARTITION) is None
    faust_check.assert_not_called()


def test_a_partition_with_a_position_is_checked_as_faust_does() -> None:
    state = awaiting_reset()
    state.seek(17)
    consumer = AtLeastOnceConsumer.__new__(AtLeastOnceConsumer)
    consumer._thread = thread_with(state)
    with mock.patch("faust.transport.drivers.aiokafka.Consumer.verify_event_path") as faust_check:
        consumer.verify_event_path(1.0, PARTITION)
    faust_check.assert_called_once_with(1.0, PARTITION)


def test_no_consumer_or_a_revoked_partition_has_no_position() -> None:
    assert not has_position(SimpleNamespace(), PARTITION)
    assert not has_position(thread_with(None), PARTITION)
