"""A service's start before it works: the topics must exist, and until they do it answers "not ready".

Waiting for Kafka can last (a broker down, or one refusing a wrong password); meanwhile the service
serves its endpoint: /healthz "alive" (restarting it would not help), /readyz 503. The port it bound
(also when ``http.port`` is 0) is handed on, so the service's own endpoint takes the same one after.
"""

from __future__ import annotations

from streamstash.config import PipelineConfig
from streamstash.kafka.topics import wait_for_topics
from streamstash.runtime.http import HealthServer
from streamstash.runtime.metrics import ServiceMetrics


def not_ready() -> bool:
    return False


async def wait_for_kafka(config: PipelineConfig, service: str) -> PipelineConfig:
    """Create the pipeline's topics (waiting while Kafka cannot be used), serving health meanwhile."""
    server = HealthServer(config.http, ServiceMetrics(service), ready=not_ready)
    await server.start()
    try:
        await wait_for_topics(config.kafka)
    finally:
        await server.stop()
    if server.port is None or server.port == config.http.port:
        return config
    return config.model_copy(update={"http": config.http.model_copy(update={"port": server.port})})
