"""The topics the aggregator needs besides the pipeline's, made before its Faust worker starts."""

from __future__ import annotations

import asyncio

from streamstash import names
from streamstash.config import PipelineConfig
from streamstash.kafka.faust_app import changelog_topic
from streamstash.kafka.topics import changelog_configs, wait_for_topics

TABLE_NAME = "task-state"


def service_topics(config: PipelineConfig) -> dict[str, dict[str, str]]:
    """Its table's changelog (name -> configs): compacted, with the partitions of `logs.tasks`."""
    return {changelog_topic(config.kafka, names.SERVICE_AGGREGATOR, TABLE_NAME): changelog_configs(config.kafka)}


def ensure_pipeline_topics(config: PipelineConfig) -> None:
    """Create the pipeline's topics and the changelog before the worker joins its group, waiting for Kafka.

    Left to Faust, the changelog was created while the worker started, and when that raced with metadata
    (on Apache Kafka, or a broker that went away a second later) the worker's snapshot held it with 0
    partitions and every record crashed the agent with PartitionsMismatch. A private loop, so that Faust's
    worker later finds the thread's event loop untouched.
    """
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(wait_for_topics(config.kafka, extra=service_topics(config)))
    finally:
        loop.close()
