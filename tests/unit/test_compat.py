"""The Kafka adapter: installed explicitly once per process, the stand-in repairs only for the stand-in, and
the private attributes it reads still where the pinned Faust and aiokafka keep them."""

from __future__ import annotations

import asyncio
import inspect
import subprocess
import sys
import textwrap
from types import SimpleNamespace

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.client import AIOKafkaClient
from aiokafka.consumer.fetcher import Fetcher
from aiokafka.consumer.group_coordinator import GroupCoordinator
from faust.transport import consumer as faust_consumer
from faust.transport.drivers import aiokafka as faust_aiokafka
from mode.threads import ServiceThread

from streamstash.kafka.compat import internals

PROBE = textwrap.dedent("""
    import asyncio
    import sys
    from aiokafka.consumer.fetcher import Fetcher
    from aiokafka.consumer.group_coordinator import GroupCoordinator
    from streamstash.config.common import KafkaSettings
    from streamstash.kafka import compat
    from streamstash.kafka.clients import make_consumer

    async def build() -> None:
        make_consumer(KafkaSettings(bootstrap_servers="127.0.0.1:9", standin=True), group="g", client_id="c")

    asyncio.run(build())
    methods = (Fetcher._proc_fetch_request, GroupCoordinator.reset_generation, GroupCoordinator._on_join_complete)
    assert not any(getattr(m, "_streamstash_repair", False) for m in methods), "a consumer installed a repair"
    installed = compat.install(KafkaSettings(bootstrap_servers="127.0.0.1:9", standin=sys.argv[1] == "standin"))
    methods = (Fetcher._proc_fetch_request, GroupCoordinator.reset_generation, GroupCoordinator._on_join_complete)
    print(installed.standin_repairs, [getattr(m, "_streamstash_repair", False) for m in methods])
    try:
        compat.install(KafkaSettings(bootstrap_servers="127.0.0.1:9", standin=sys.argv[1] != "standin"))
    except RuntimeError as exc:
        print("second install refused:", "was installed as" in str(exc))
""")


@pytest.mark.parametrize(("engine", "repaired"), [("apache", False), ("standin", True)])
def test_repairs_are_installed_by_install_alone_and_only_for_the_standin(engine: str, repaired: bool) -> None:
    # A fresh interpreter: the repairs patch aiokafka's classes for the whole process.
    result = subprocess.run(
        [sys.executable, "-c", PROBE, engine], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.splitlines() == [f"{repaired} {[repaired] * 3}", "second install refused: True"]


def test_the_private_attributes_read_are_where_the_pinned_versions_keep_them() -> None:
    assert "self._coordinator = GroupCoordinator(" in inspect.getsource(AIOKafkaConsumer.start)
    assert "self._client = AIOKafkaClient(" in inspect.getsource(AIOKafkaConsumer.__init__)
    assert callable(AIOKafkaClient.force_metadata_update)
    coordinator = inspect.getsource(GroupCoordinator.__init__)
    assert "self.coordinator_id = None" in coordinator and "self._coordination_task = " in coordinator
    assert "self.member_id = JoinGroupRequest.UNKNOWN_MEMBER_ID" in coordinator
    faust_init = inspect.getsource(faust_consumer.Consumer.__init__)
    assert "self._read_offset = defaultdict" in faust_init and "self._committed_offset = defaultdict" in faust_init
    assert "self._consumer = self._create_consumer(" in inspect.getsource(faust_aiokafka.AIOKafkaConsumerThread)
    assert callable(faust_aiokafka.AIOKafkaConsumerThread._ensure_consumer)
    # wake_fetch_waiters: a poll waits on a future in Fetcher._fetch_waiters, made on the thread's own loop
    fetched_records = inspect.getsource(Fetcher.fetched_records)
    assert (
        "waiter = self._create_fetch_waiter()" in fetched_records
        and "if partitions and tp not in partitions" in fetched_records
    )
    assert "self._fetch_waiters.add(fut)" in inspect.getsource(Fetcher._create_fetch_waiter)
    assert "self._fetcher = Fetcher(" in inspect.getsource(AIOKafkaConsumer.start)
    assert "self.thread_loop = " in inspect.getsource(ServiceThread.__init__)
    # the back-pressure correction (faust_consumer.py, 5.) replaces the wait Faust makes without active partitions
    assert "await self.sleep(1)" in inspect.getsource(faust_consumer.Consumer._wait_next_records)
    assert "buffered_partitions.discard(tp)" in inspect.getsource(faust_consumer.Consumer.on_buffer_drop)
    # the declaration correction (6.) wraps the transport's _create_topic, which both declaring paths look up
    assert "self.transport)._create_topic(" in inspect.getsource(faust_aiokafka.Producer.create_topic)
    assert "transport._create_topic," in inspect.getsource(faust_aiokafka.AIOKafkaConsumerThread.create_topic)


class _Coordinator:
    coordinator_id: int | None = 3
    member_id = "m-1"


def test_accessors_read_unknown_instead_of_raising() -> None:
    consumer = type("Consumer", (), {"_coordinator": _Coordinator()})()
    assert internals.coordinator_known(consumer) and internals.member_id(consumer) == "m-1"
    assert not internals.coordinator_known(object()) and internals.member_id(object()) is None
    app = type("App", (), {"consumer": object()})()
    assert internals.aiokafka_consumer(app) is None and internals.faust_member_id(app) is None
    assert internals.coordination_error(app) is None and not internals.faust_coordinator_known(app)
    assert internals.faust_done_offset(object(), None) is None  # type: ignore[arg-type]


async def test_wake_fetch_waiters_resolves_the_polls_waiting_on_the_consumer_threads_loop() -> None:
    waiting, done = asyncio.get_running_loop().create_future(), asyncio.get_running_loop().create_future()
    done.set_result("kept")
    fetcher = SimpleNamespace(_fetch_waiters={waiting, done})
    thread = SimpleNamespace(_consumer=SimpleNamespace(_fetcher=fetcher), thread_loop=asyncio.get_running_loop())
    internals.wake_fetch_waiters(thread)
    assert not waiting.done(), "resolved on the thread's loop, not by the caller"
    await asyncio.wait_for(waiting, 1)
    assert done.result() == "kept"
    internals.wake_fetch_waiters(SimpleNamespace(_consumer=None, thread_loop=asyncio.get_running_loop()))  # not started


async def test_abandon_unsent_ends_the_producers_wait_for_a_kafka_that_never_answers() -> None:
    producer = AIOKafkaProducer(bootstrap_servers="127.0.0.1:9")  # nothing listens there
    await producer._sender.start()  # start() would first wait for Kafka's metadata
    await producer._message_accumulator.add_message(TopicPartition("t", 0), None, b"line", timeout=1)
    stopping = asyncio.ensure_future(producer.stop())
    await asyncio.sleep(0.2)
    assert not stopping.done(), "the producer should wait for Kafka to take the batch"

    await internals.abandon_unsent(producer)
    await asyncio.wait_for(stopping, 1)
    await internals.abandon_unsent(object())  # no producer state: nothing to do
