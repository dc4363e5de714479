"""The aggregator creates its table's changelog itself, with the partitions of `logs.tasks`, before its
Faust worker joins the group (left to Faust, a changelog created while the worker started could be seen
with 0 partitions, and every record then crashed the agent with PartitionsMismatch)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from streamstash.kafka.clients import make_admin
from streamstash.services.aggregator.topics import TABLE_NAME, ensure_pipeline_topics
from tests.helpers.pipelines import write_pipeline

pytestmark = pytest.mark.integration


async def describe(kafka_settings, names: list[str]) -> dict[str, tuple[int, str]]:
    admin = make_admin(kafka_settings)
    await admin.start()
    try:
        topics = {entry["topic"]: len(entry["partitions"]) for entry in await admin.describe_topics(names)}
        configs = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name) for name in names])
    finally:
        await admin.close()
    policies = {}
    for response in configs:
        for resource in response.resources:
            entries = {entry[0]: entry[1] for entry in resource[4]}
            policies[resource[3]] = entries.get("cleanup.policy", "")
    return {name: (topics[name], policies.get(name, "")) for name in names}


def test_the_changelog_exists_compacted_with_the_tasks_partitions_before_faust_starts(servers, tmp_path: Path) -> None:
    pipeline = write_pipeline(tmp_path, {}, partitions=4)
    config = pipeline.config.model_copy(
        update={"kafka": pipeline.config.kafka.model_copy(update={"bootstrap_servers": servers.kafka})}
    )
    ensure_pipeline_topics(config)
    changelog = f"{pipeline.prefix}-aggregator-{TABLE_NAME}-changelog"
    found = asyncio.run(describe(config.kafka, [pipeline.topics.tasks, changelog]))
    assert found == {pipeline.topics.tasks: (4, "delete"), changelog: (4, "compact")}
