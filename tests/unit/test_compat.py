"""The Kafka adapter: installed explicitly once per process, the stand-in repairs only for the stand-in, and
the private attributes it reads still where the pinned Faust and aiokafka keep them."""

from __future__ import annotations

import asyncio
import inspect
import subprocess
import sys
import textwrap

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.client import AIOKafkaClient
from aiokafka.consumer.group_coordinator import GroupCoordinator
from faust.transport import consumer as faust_consumer
from faust.transport.drivers import aiokafka as faust_aiokafka

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
