"""Correction 6 on Apache Kafka: a topic declaration made while the broker is away waits for it.

Faust's own declaration raises then (the worker crashed on it: an aggregator starting as the broker was
killed); the corrected one is tried again until the broker is back, and the topic is there afterwards.
"""

from __future__ import annotations

import asyncio

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from faust.exceptions import NotReady
from faust.transport.drivers import aiokafka as faust_aiokafka

from streamstash.kafka.compat import AtLeastOnceApp
from tests.conftest import session_engine
from tests.integration.faust_corrections.support import unique

pytestmark = pytest.mark.integration

OUTAGE_S = 3.0


async def _topics(bootstrap: str) -> set[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return set(await admin.list_topics())
    finally:
        await admin.close()


def test_a_topic_declared_while_kafka_is_away_is_created_once_it_is_back(own_stack) -> None:
    if session_engine() == "standin":
        pytest.skip("the stand-in's Kafka cannot be killed alone")
    stack, addresses = own_stack()
    app = AtLeastOnceApp(unique("declare"), broker=f"kafka://{addresses.kafka}", producer_threaded=False)
    faust_own, corrected = unique("faust-own"), unique("corrected")

    async def scenario() -> None:
        producer = app.producer
        await producer.start()
        try:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, lambda: stack.stop_kafka(hard=True))
            transport = app.transport
            with pytest.raises((KafkaError, NotReady)):  # Faust's own declaration, the broker away
                await faust_aiokafka.Transport._create_topic(
                    transport, producer, producer._ensure_producer().client, faust_own, 1, 1
                )
            declaring = asyncio.ensure_future(app.topic(corrected, partitions=1, internal=True).declare())
            await asyncio.sleep(OUTAGE_S)
            assert not declaring.done(), "the declaration ended while Kafka was away"
            await loop.run_in_executor(None, stack.start_kafka)
            await asyncio.wait_for(declaring, timeout=120)
        finally:
            await producer.stop()
        topics = await _topics(addresses.kafka)
        assert corrected in topics and faust_own not in topics

    asyncio.run(scenario())
