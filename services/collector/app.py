"""Collector wiring: inputs -> publisher -> `logs.raw`, plus checkpoints and the health endpoint."""

from __future__ import annotations

import asyncio
import logging

from streamstash import names
from streamstash.config import PipelineConfig
from streamstash.config.collector import FileInput as FileSettings
from streamstash.config.collector import StdinInput as StdinSettings
from streamstash.http import HealthServer
from streamstash.kafka import make_producer
from streamstash.metrics import ServiceMetrics
from streamstash.services.collector.checkpoints import CheckpointStore
from streamstash.services.collector.inputs.base import Input
from streamstash.services.collector.inputs.file import FileInput
from streamstash.services.collector.inputs.stdin import StdinInput
from streamstash.services.collector.publisher import Publisher

log = logging.getLogger(__name__)


def build_inputs(config: PipelineConfig, checkpoints: CheckpointStore) -> list[Input]:
    inputs: list[Input] = []
    for settings in config.inputs:
        if isinstance(settings, FileSettings):
            inputs.append(FileInput(settings, checkpoints))
        elif isinstance(settings, StdinSettings):
            inputs.append(StdinInput(settings))
        else:
            raise NotImplementedError(f"input type {settings.type!r} is not available in this build")
    return inputs


async def run_collector(config: PipelineConfig, stop: asyncio.Event) -> None:
    metrics = ServiceMetrics(names.SERVICE_COLLECTOR)
    checkpoints = CheckpointStore(config.state_dir / names.SERVICE_COLLECTOR / "checkpoints.json")
    inputs = build_inputs(config, checkpoints)
    producer = make_producer(config.kafka, client_id=names.SERVICE_COLLECTOR, compression=config.collector.compression)
    publisher = Publisher(producer, config.kafka.topics.raw, config.collector.batch, metrics,
                          config.collector.buffer_max_events, on_acked=checkpoints.save)
    server = HealthServer(config.http, metrics, ready=lambda: publisher.kafka_healthy)
    await server.start()
    await producer.start()
    await publisher.start()
    tasks = [asyncio.create_task(source.run(publisher.emit), name=f"input:{source.name}") for source in inputs]
    stopper = asyncio.create_task(stop.wait(), name="stop-signal")
    try:
        pending = set(tasks)
        while pending and not stop.is_set():
            done, pending = await asyncio.wait(pending | {stopper}, return_when=asyncio.FIRST_COMPLETED)
            for task in done - {stopper}:
                if task.exception() is not None:
                    log.error("input failed", exc_info=task.exception(), extra={"input": task.get_name()})
            pending -= {stopper}
        log.info("inputs finished" if not stop.is_set() else "stop requested", extra={"inputs": len(inputs)})
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        stopper.cancel()
        await publisher.stop()
        checkpoints.save()
        await producer.stop()
        await server.stop()
