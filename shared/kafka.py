"""Kafka clients and topics, built from :class:`KafkaSettings` so every service talks alike."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from streamstash.config.common import KafkaSettings
from streamstash.fetch_pacing import pace_empty_fetches

log = logging.getLogger(__name__)

HOUR_MS = 3_600_000


def bootstrap(settings: KafkaSettings) -> str:
    if not settings.bootstrap_servers:
        raise ValueError("kafka.bootstrap_servers is not set and no local stack was started")
    return settings.bootstrap_servers


def consumer_group(settings: KafkaSettings, service: str) -> str:
    return f"{settings.consumer_group_prefix}-{service}"


def make_producer(settings: KafkaSettings, client_id: str, compression: str = "lz4", **overrides: Any) -> AIOKafkaProducer:
    options: dict[str, Any] = {
        "bootstrap_servers": bootstrap(settings),
        "client_id": client_id,
        "acks": "all",
        "enable_idempotence": True,
        "compression_type": None if compression == "none" else compression,
        "linger_ms": 5,
        "max_batch_size": 1024 * 1024,
        "max_request_size": settings.max_message_bytes,
        "request_timeout_ms": 30_000,
    }
    options.update(overrides)
    return AIOKafkaProducer(**options)


def make_consumer(settings: KafkaSettings, *topics: str, group: str, client_id: str, **overrides: Any) -> AIOKafkaConsumer:
    options: dict[str, Any] = {
        "bootstrap_servers": bootstrap(settings),
        "group_id": group,
        "client_id": client_id,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "max_partition_fetch_bytes": settings.max_message_bytes,
        "fetch_max_bytes": max(settings.max_message_bytes, 52_428_800),
        "isolation_level": "read_committed",
    }
    options.update(overrides)
    pace_empty_fetches(settings.empty_fetch_pause_ms)
    return AIOKafkaConsumer(*topics, **options)


def topic_configs(settings: KafkaSettings) -> dict[str, dict[str, str]]:
    """Per-topic configs streamstash sets when it creates topics."""
    common = {"max.message.bytes": str(settings.max_message_bytes)}
    topics = settings.topics
    return {
        topics.raw: {**common, "retention.ms": str(int(settings.raw_retention_hours * HOUR_MS))},
        topics.parsed: dict(common),
        topics.aggregated: dict(common),
        topics.dlq: {**common, "retention.ms": str(30 * 24 * HOUR_MS)},
        topics.tasks: dict(common),
    }


async def ensure_topics(settings: KafkaSettings) -> list[str]:
    """Create the pipeline's topics that do not exist yet; returns those created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap(settings), client_id="streamstash-admin")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [
            NewTopic(name, settings.partitions, settings.replication_factor, topic_configs=configs)
            for name, configs in topic_configs(settings).items()
            if name not in existing
        ]
        if not wanted:
            return []
        try:
            await admin.create_topics(wanted)
        except TopicAlreadyExistsError:
            pass  # another instance created them between our look and our create
        created = [topic.name for topic in wanted]
        log.info("created topics %s", created, extra={"topics": created})
        return created
    finally:
        await admin.close()


async def wait_for_topics(settings: KafkaSettings, max_delay_s: float = 10.0) -> None:
    """Create the pipeline's topics, waiting (with a warning per attempt) while Kafka is unreachable."""
    attempt = 0
    while True:
        try:
            await ensure_topics(settings)
            return
        except KafkaError as exc:
            attempt += 1
            delay = min(max_delay_s, 0.5 * 2**attempt)
            log.warning("kafka not reachable yet, retrying", extra={"bootstrap_servers": settings.bootstrap_servers,
                        "attempt": attempt, "error": repr(exc), "retry_in_s": delay})
            await asyncio.sleep(delay)
