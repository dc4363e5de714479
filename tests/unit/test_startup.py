"""A service waiting for Kafka answers /healthz alive and /readyz not ready, and its own endpoint takes over
the same listening socket afterwards."""

from __future__ import annotations

import asyncio
import logging

import pytest

from streamstash.config import PipelineConfig
from streamstash.config.common import HttpSettings, KafkaSettings
from streamstash.kafka import topics
from streamstash.kafka.diagnose import AUTHENTICATION, KafkaProblem
from streamstash.runtime import startup
from streamstash.runtime.http import HealthServer
from streamstash.runtime.metrics import ServiceMetrics
from tests.helpers.metrics import probe as ask_endpoint


async def ask(port: int, path: str) -> tuple[int, dict]:
    return await asyncio.get_running_loop().run_in_executor(None, ask_endpoint, port, path)


async def test_not_ready_while_kafka_refuses_then_the_service_takes_over_the_socket(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    refusing = asyncio.Event()
    refusing.set()
    attempts: list[int] = []

    async def probe(_settings: KafkaSettings) -> KafkaProblem | None:
        attempts.append(1)
        return KafkaProblem("b:9093", AUTHENTICATION, "refused") if refusing.is_set() else None

    async def ensure(_settings: KafkaSettings, _extra: object = None) -> list[str]:
        return []

    monkeypatch.setattr(topics, "probe", probe)
    monkeypatch.setattr(topics, "ensure_topics", ensure)
    monkeypatch.setattr(topics, "retry_delay", lambda *_args, **_kwargs: 0.05)
    config = PipelineConfig(kafka=KafkaSettings(bootstrap_servers="b:9093"), http=HttpSettings(port=0))
    with caplog.at_level(logging.INFO, logger=startup.__name__):
        waiting = asyncio.create_task(startup.wait_for_kafka(config, "parser"))
        for _ in range(500):
            await asyncio.sleep(0.02)
            if len(attempts) >= 2:
                break
    assert len(attempts) >= 2, "the probe was not retried"
    serving = [record for record in caplog.records if record.getMessage() == "serving metrics and health"]
    port = serving[0].port  # type: ignore[attr-defined]
    assert await ask(port, "/readyz") == (503, {"ready": False, "service": "parser"})
    assert await ask(port, "/healthz") == (200, {"status": "ok", "service": "parser"})
    refusing.clear()
    ready = await asyncio.wait_for(waiting, 10)
    assert ready.http.port == port
    assert (await ask(port, "/readyz"))[0] == 503  # still served until the service's endpoint takes over
    server = HealthServer(ready.http, ServiceMetrics("parser"), ready=lambda: True)
    await server.start()
    try:
        assert server.port == port
        assert await ask(port, "/readyz") == (200, {"ready": True, "service": "parser"})
    finally:
        await server.stop()
    assert startup.take_interim_socket(ready.http) is None  # handed over once


async def test_without_an_interim_endpoint_the_service_binds_its_own() -> None:
    server = HealthServer(HttpSettings(port=0), ServiceMetrics("indexer"), ready=lambda: False)
    await server.start()
    try:
        assert server.port and (await ask(server.port, "/readyz"))[0] == 503
    finally:
        await server.stop()
