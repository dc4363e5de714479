"""Kafka clients built from :class:`KafkaSettings`, so that every service and tool talks alike."""

from __future__ import annotations

from typing import Any

from aiokafka import AIOKafkaClient, AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from streamstash.config.common import KafkaSettings
from streamstash.kafka.security import client_security

# How often a consumer asks for metadata without a reason. aiokafka (and Faust) default to 5 minutes and
# do not ask again for a subscribed topic the broker left out: after a broker restart it can answer before
# it serves every topic, a group's assignment then leaves that topic out, and its consumers sat idle for
# the 5 minutes (Apache Kafka 4.1, kill -9 of the broker mid-stream). With a fresh look every 10 s the
# topic's return changes the group's metadata snapshot and the group rebalances with it.
METADATA_MAX_AGE_MS = 10_000


def bootstrap(settings: KafkaSettings) -> str:
    if not settings.bootstrap_servers:
        raise ValueError("kafka.bootstrap_servers is not set and no local stack was started")
    return settings.bootstrap_servers


def consumer_group(settings: KafkaSettings, service: str) -> str:
    return f"{settings.consumer_group_prefix}-{service}"


def compression_type(compression: str) -> str | None:
    """What aiokafka and Faust take for a ``Compression`` setting."""
    return None if compression == "none" else compression


def make_producer(
    settings: KafkaSettings, client_id: str, compression: str | None = None, **overrides: Any
) -> AIOKafkaProducer:
    options: dict[str, Any] = {
        "bootstrap_servers": bootstrap(settings),
        "client_id": client_id,
        "acks": "all",
        "enable_idempotence": True,
        "compression_type": compression_type(compression or settings.compression),
        "linger_ms": 5,
        "max_batch_size": 1024 * 1024,
        "max_request_size": settings.max_message_bytes,
        "request_timeout_ms": 30_000,
        **client_security(settings),
    }
    options.update(overrides)
    return AIOKafkaProducer(**options)


def make_consumer(
    settings: KafkaSettings, *topics: str, group: str | None, client_id: str, **overrides: Any
) -> AIOKafkaConsumer:
    options: dict[str, Any] = {
        "bootstrap_servers": bootstrap(settings),
        "group_id": group,
        "client_id": client_id,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "max_partition_fetch_bytes": settings.max_message_bytes,
        "fetch_max_bytes": max(settings.max_message_bytes, 52_428_800),
        "isolation_level": "read_committed",
        "metadata_max_age_ms": METADATA_MAX_AGE_MS,
        **client_security(settings),
    }
    options.update(overrides)
    return AIOKafkaConsumer(*topics, **options)


def make_admin(settings: KafkaSettings, client_id: str = "streamstash-admin") -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(bootstrap_servers=bootstrap(settings), client_id=client_id, **client_security(settings))


def make_client(settings: KafkaSettings, client_id: str) -> AIOKafkaClient:
    """aiokafka's bare client, for requests no higher-level client sends (LeaveGroup for another member)."""
    return AIOKafkaClient(bootstrap_servers=bootstrap(settings), client_id=client_id, **client_security(settings))
