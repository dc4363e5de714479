"""The pipeline's topics: their configs, and creating those that are missing."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from streamstash.config.common import KafkaSettings
from streamstash.kafka.clients import bootstrap, make_admin
from streamstash.kafka.diagnose import UNREACHABLE, KafkaProblem, probe
from streamstash.runtime.backoff import retry_delay

log = logging.getLogger(__name__)

HOUR_MS = 3_600_000
VISIBLE_TIMEOUT_S = 30.0
VISIBLE_POLL_S = 0.1


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


def changelog_configs(settings: KafkaSettings) -> dict[str, str]:
    """What a Faust table's changelog topic needs: compacted, so only each key's newest state is kept."""
    return {"cleanup.policy": "compact", "max.message.bytes": str(settings.max_message_bytes)}


async def ensure_topics(settings: KafkaSettings, extra: dict[str, dict[str, str]] | None = None) -> list[str]:
    """Create the pipeline's topics (and ``extra`` ones: name -> configs) that do not exist yet, each with the
    pipeline's partition count; returns those created."""
    admin = make_admin(settings)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [
            NewTopic(name, settings.partitions, settings.replication_factor, topic_configs=configs)
            for name, configs in {**topic_configs(settings), **(extra or {})}.items()
            if name not in existing
        ]
        if not wanted:
            return []
        with contextlib.suppress(TopicAlreadyExistsError):  # another instance created them since we looked
            await admin.create_topics(wanted)
        created = [topic.name for topic in wanted]
        await until_visible(admin, created, settings.partitions)
        log.info("created topics %s", created, extra={"topics": created})
        return created
    finally:
        await admin.close()


async def until_visible(
    admin: AIOKafkaAdminClient, names: list[str], partitions: int, timeout_s: float = VISIBLE_TIMEOUT_S
) -> None:
    """Wait until the broker's metadata shows ``names`` with all their partitions.

    Kafka answers CreateTopics once the controller committed them; a broker serves them in its metadata a
    moment later (seconds, on a loaded host). A Faust worker that joined its group in between took a
    table's changelog for a topic of 0 partitions and crashed its agent on every record (PartitionsMismatch).
    """
    deadline = time.monotonic() + timeout_s
    missing = list(names)
    while missing:
        described = {entry["topic"]: entry for entry in await admin.describe_topics(missing)}
        missing = [name for name in missing if not _complete(described.get(name), partitions)]
        if not missing:
            return
        if time.monotonic() >= deadline:
            log.warning(
                "created topics are not in the broker's metadata yet", extra={"topics": missing, "waited_s": timeout_s}
            )
            return
        await asyncio.sleep(VISIBLE_POLL_S)


def _complete(entry: dict[str, object] | None, partitions: int) -> bool:
    if entry is None or entry.get("error_code"):
        return False
    found = entry.get("partitions")
    return isinstance(found, list) and len(found) >= partitions


async def wait_for_topics(
    settings: KafkaSettings,
    max_delay_s: float = 10.0,
    extra: dict[str, dict[str, str]] | None = None,
    misconfigured_max_delay_s: float = 60.0,
) -> None:
    """Create the pipeline's topics (and ``extra`` ones), waiting while Kafka cannot be used, with a warning
    per attempt.

    Each attempt first probes a bootstrap server (``diagnose.probe``) so that the log says why: down
    (retried up to every ``max_delay_s``), or refusing this client (a wrong password, an untrusted
    certificate, another protocol: logged as an error and retried up to every
    ``misconfigured_max_delay_s``, since only a change of settings or broker mends it and each attempt
    costs the broker a handshake). Waits are jittered, so many instances do not retry in step.
    """
    attempt = 0
    while True:
        problem = await probe(settings)
        if problem is None:
            try:
                await ensure_topics(settings, extra)
                log.info(
                    "kafka connection",
                    extra={"bootstrap_servers": settings.bootstrap_servers, "security": settings.security.describe()},
                )
                return
            except KafkaError as exc:
                problem = KafkaProblem(bootstrap(settings), UNREACHABLE, f"creating topics failed: {exc!r}")
        attempt += 1
        delay = retry_delay(attempt, first_s=0.5, max_s=max_delay_s if problem.transient else misconfigured_max_delay_s)
        log.log(
            logging.WARNING if problem.transient else logging.ERROR,
            "kafka not usable yet, retrying" if problem.transient else "kafka refuses this client, retrying",
            extra={
                "bootstrap_servers": settings.bootstrap_servers,
                "broker": problem.broker,
                "security": settings.security.describe(),
                "problem": problem.kind,
                "error": problem.message,
                "attempt": attempt,
                "retry_in_s": round(delay, 2),
            },
        )
        await asyncio.sleep(delay)
