"""Collector wiring: inputs -> publisher (memory, disk spill) -> `logs.raw`, checkpoints, recovery, health."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from streamstash import names
from streamstash.config import PipelineConfig
from streamstash.kafka.clients import make_consumer, make_producer
from streamstash.kafka.compat import internals
from streamstash.runtime.http import HealthServer
from streamstash.runtime.metrics import ServiceMetrics
from streamstash.services.collector.checkpoints import CheckpointStore
from streamstash.services.collector.inputs.registry import BuiltInput, InputContext, build_input
from streamstash.services.collector.logfilter import quiet_repeated_client_messages
from streamstash.services.collector.publisher import Publisher
from streamstash.services.collector.recovery import recover, start_producer
from streamstash.services.collector.spill import Spill

log = logging.getLogger(__name__)

PRODUCER_STOP_TIMEOUT_S = 10.0


def build_inputs(
    config: PipelineConfig,
    checkpoints: CheckpointStore,
    metrics: ServiceMetrics | None = None,
    flush: Callable[[str], None] | None = None,
) -> list[BuiltInput]:
    context = InputContext(
        checkpoints,
        metrics or ServiceMetrics(names.SERVICE_COLLECTOR),
        config.kafka.topics.raw,
        config.collector.drain_timeout_s,
        flush,
    )
    return [build_input(settings, context) for settings in config.inputs]


def build_publisher(
    config: PipelineConfig, metrics: ServiceMetrics, checkpoints: CheckpointStore, spill: Spill | None
) -> Publisher:
    """The publisher as the pipeline's collector settings want it; no producer until recovery ran."""
    settings = config.collector
    return Publisher(
        None,
        config.kafka.topics.raw,
        settings.batch,
        metrics,
        settings.buffer_max_events,
        checkpoints=checkpoints,
        spill=spill,
        checkpoint_interval_s=settings.checkpoint_interval_ms / 1000,
    )


async def run_collector(config: PipelineConfig, stop: asyncio.Event) -> None:
    quiet_repeated_client_messages()
    metrics = ServiceMetrics(names.SERVICE_COLLECTOR)
    state = config.state_dir / names.SERVICE_COLLECTOR
    checkpoints = CheckpointStore(state / "checkpoints.json")
    checkpoints.save()
    settings = config.collector
    topic = config.kafka.topics.raw

    def new_producer() -> AIOKafkaProducer:
        # The publisher batches already; a producer linger would only delay each batch's round trip.
        return make_producer(
            config.kafka, client_id=names.SERVICE_COLLECTOR, compression=settings.compression, linger_ms=0
        )

    def new_consumer() -> AIOKafkaConsumer:
        return make_consumer(
            config.kafka,
            group=None,
            client_id=f"{names.SERVICE_COLLECTOR}-recovery",
            isolation_level="read_uncommitted",
        )

    spill = (
        Spill(state / "spill", settings.spill.max_bytes, settings.spill.segment_bytes)
        if settings.spill.enabled
        else None
    )
    publisher = build_publisher(config, metrics, checkpoints, spill)
    inputs = build_inputs(config, checkpoints, metrics, publisher.flush)
    server = HealthServer(config.http, metrics, ready=lambda: publisher.ready)
    await server.start()
    await publisher.start()
    tasks: list[asyncio.Task[None]] = []

    def start(built: BuiltInput) -> None:
        source = built.source
        tasks.append(asyncio.create_task(source.run(publisher.emit), name=f"input:{source.name}"))

    async def recover_then_start_positioned_inputs() -> None:
        # Inputs that resume from checkpoints wait until recovery moved those checkpoints over what
        # logs.raw already holds and the previous run's spill was acknowledged; others start at once
        # and are buffered (memory, spill) while Kafka cannot be reached.
        scan = await recover(new_consumer, topic, checkpoints)
        producer = await start_producer(new_producer, topic)
        await asyncio.gather(*publisher.begin(producer, scan.end_offsets, scan.batch_ids))
        for built in inputs:
            if built.waits_for_recovery:
                start(built)

    for built in inputs:
        if not built.waits_for_recovery:
            start(built)
    recovery = asyncio.create_task(recover_then_start_positioned_inputs(), name="recovery")
    try:
        await _until_stopped_or_inputs_done(stop, recovery, tasks)
    finally:
        recovery.cancel()
        for task in tasks:
            task.cancel()
        await asyncio.gather(recovery, *tasks, return_exceptions=True)
        drained = await publisher.stop(settings.drain_timeout_s)
        checkpoints.close()
        if publisher.producer is not None:
            if not drained:
                # What the producer still holds is spilled or left to its senders: nothing to wait for.
                await internals.abandon_unsent(publisher.producer)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(publisher.producer.stop(), PRODUCER_STOP_TIMEOUT_S)
        await server.stop()


async def _until_stopped_or_inputs_done(
    stop: asyncio.Event, recovery: asyncio.Task[None], tasks: list[asyncio.Task[None]]
) -> None:
    """Run until stopped, or until every input ended (finite inputs: stdin, exit_at_eof files)."""
    stopper = asyncio.create_task(stop.wait(), name="stop-signal")
    reported: set[asyncio.Task[None]] = set()
    try:
        while not stop.is_set():
            pending = {task for task in [recovery, *tasks] if not task.done()}
            for task in {task for task in [recovery, *tasks] if task.done()} - reported:
                reported.add(task)
                if not task.cancelled() and task.exception() is not None:
                    log.error("input failed", exc_info=task.exception(), extra={"task": task.get_name()})
            if not pending:
                break
            await asyncio.wait(pending | {stopper}, return_when=asyncio.FIRST_COMPLETED)
        log.info("stop requested" if stop.is_set() else "inputs finished", extra={"inputs": len(tasks)})
    finally:
        stopper.cancel()
