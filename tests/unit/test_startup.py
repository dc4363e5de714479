"""A service waiting for Kafka answers /healthz alive and /readyz not ready, and keeps its port after."""

from __future__ import annotations

import asyncio
import logging

import pytest

from streamstash.config import PipelineConfig
from streamstash.config.common import HttpSettings, KafkaSettings
from streamstash.kafka import topics
from streamstash.kafka.diagnose import AUTHENTICATION, KafkaProblem
from streamstash.runtime import startup
from tests.helpers.metrics import probe as ask_endpoint


async def test_not_ready_while_kafka_refuses_then_the_same_port_is_handed_on(
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
    with caplog.at_level(logging.INFO, logger="streamstash.runtime.http"):
        waiting = asyncio.create_task(startup.wait_for_kafka(config, "parser"))
        for _ in range(500):
            await asyncio.sleep(0.02)
            if len(attempts) >= 2:
                break
    assert len(attempts) >= 2, "the probe was not retried"
    serving = [record for record in caplog.records if record.getMessage() == "serving metrics and health"]
    server_port = serving[0].port  # type: ignore[attr-defined]
    loop = asyncio.get_running_loop()

    def ask(path: str) -> tuple[int, dict]:
        return ask_endpoint(server_port, path)

    assert await loop.run_in_executor(None, ask, "/readyz") == (503, {"ready": False, "service": "parser"})
    assert (await loop.run_in_executor(None, ask, "/healthz"))[0] == 200
    refusing.clear()
    ready = await asyncio.wait_for(waiting, 10)
    assert ready.http.port == server_port  # the service's own endpoint binds the port just served
