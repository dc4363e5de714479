"""The pipeline's topics: their configs, and creating those that are missing."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping

from aiokafka.admin import NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from streamstash.config.common import KafkaSettings
from streamstash.kafka.clients import make_admin

log = logging.getLogger(__name__)

HOUR_MS = 3_600_000


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


TopicConfigs = Mapping[str, Mapping[str, str]]


def changelog_configs(settings: KafkaSettings, changelog: str) -> dict[str, dict[str, str]]:
    """A Faust table's changelog topic as Faust itself would create it (compacted, the pipeline's partitions)."""
    return {changelog: {"max.message.bytes": str(settings.max_message_bytes), "cleanup.policy": "compact"}}


async def ensure_topics(settings: KafkaSettings, extra: TopicConfigs | None = None) -> list[str]:
    """Create the pipeline's topics (and ``extra`` ones) that do not exist yet; returns those created."""
    admin = make_admin(settings)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [
            NewTopic(name, settings.partitions, settings.replication_factor, topic_configs=dict(configs))
            for name, configs in {**topic_configs(settings), **(extra or {})}.items()
            if name not in existing
        ]
        if not wanted:
            return []
        with contextlib.suppress(TopicAlreadyExistsError):  # another instance created them since we looked
            await admin.create_topics(wanted)
        created = [topic.name for topic in wanted]
        log.info("created topics %s", created, extra={"topics": created})
        return created
    finally:
        await admin.close()


async def wait_for_topics(
    settings: KafkaSettings, max_delay_s: float = 10.0, extra: TopicConfigs | None = None
) -> None:
    """Create the pipeline's topics, waiting (with a warning per attempt) while Kafka is unreachable."""
    attempt = 0
    while True:
        try:
            await ensure_topics(settings, extra)
            return
        except KafkaError as exc:
            attempt += 1
            delay = min(max_delay_s, 0.5 * 2**attempt)
            log.warning(
                "kafka not reachable yet, retrying",
                extra={
                    "bootstrap_servers": settings.bootstrap_servers,
                    "attempt": attempt,
                    "error": repr(exc),
                    "retry_in_s": delay,
                },
            )
            await asyncio.sleep(delay)
