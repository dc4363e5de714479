"""Aggregator wiring: re-key parsed events by task, fold them into a RocksDB table, emit aggregates.

`rekey` (logs.parsed -> logs.tasks) sends, per round of up to 100 parsed records, one record per
`logs.tasks` partition holding that partition's tasks' events grouped by task (see
`streamstash.aggregation.records`). `aggregate` (logs.tasks -> logs.aggregated) folds each record into
the table and emits what closed. The logic is the library's (`streamstash.aggregation`), the partitions'
run-time state `partitions.py`; this module only moves bytes between Faust and them, in the order that
keeps a crash exact: aggregates are acknowledged by Kafka before the state that produced them is
written, and the previous record's table writes are in the changelog before this record's are made.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import faust
from faust.types import TP, AgentT, ChannelT

from streamstash import names
from streamstash.aggregation.folding import TaskAggregator
from streamstash.aggregation.processor import RecordOutcome, RecordProcessor
from streamstash.aggregation.records import TaskRecord, decode_task_record, encode_task_record
from streamstash.aggregation.rekey import rekey_round, routable_events
from streamstash.aggregation.routing import TaskRouter
from streamstash.config import PipelineConfig
from streamstash.events.deadletters import undecodable_letter
from streamstash.events.envelope import Batch, DeadLetterBatch, Event, RecordDecodeError, encode
from streamstash.events.inputfields import input_fields_for
from streamstash.kafka.faust_app import attach_health, make_app, on_assigned, on_revoked, raw_topic
from streamstash.runtime.metrics import ServiceMetrics
from streamstash.services.aggregator import tuning
from streamstash.services.aggregator.metrics import AggregatorMetrics
from streamstash.services.aggregator.partitions import TaskPartitions
from streamstash.services.aggregator.topics import TABLE_NAME


@dataclass(frozen=True)
class Endpoints:
    """Where the agents read and write; Kafka topics in the service, in-memory channels in tests."""

    parsed: ChannelT
    tasks: ChannelT
    aggregated: ChannelT
    dlq: ChannelT
    # Returns once Kafka acknowledged everything produced so far (aggregates and changelog writes).
    durable: Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class Aggregator:
    """The wired app and its parts."""

    app: faust.App
    rekey: AgentT
    aggregate: AgentT
    tick_idle_partitions: Callable[[], Awaitable[None]]
    partitions: TaskPartitions
    table: Any
    metrics: ServiceMetrics


def build_app(config: PipelineConfig) -> faust.App:
    # RocksDB lives in the instance's state slot (make_app's datadir): a restart recovers from it.
    app = make_app(
        config,
        names.SERVICE_AGGREGATOR,
        store="rocksdb://",
        broker_session_timeout=tuning.SESSION_TIMEOUT_SECONDS,
        broker_rebalance_timeout=tuning.REBALANCE_TIMEOUT_SECONDS,
    )
    metrics = ServiceMetrics(names.SERVICE_AGGREGATOR)
    attach_health(app, config, metrics)
    return wire(app, config, kafka_endpoints(app, config), metrics).app


def kafka_endpoints(app: faust.App, config: PipelineConfig) -> Endpoints:
    topics = config.kafka.topics
    partitions = config.kafka.partitions

    async def durable() -> None:
        await app.producer.flush()
        while app.producer.buffer.size:
            await app.producer.flush()

    return Endpoints(
        parsed=raw_topic(app, topics.parsed, partitions),
        tasks=raw_topic(app, topics.tasks, partitions),
        aggregated=raw_topic(app, topics.aggregated, partitions),
        dlq=raw_topic(app, topics.dlq, partitions),
        durable=durable,
    )


def wire(app: faust.App, config: PipelineConfig, endpoints: Endpoints, metrics: ServiceMetrics) -> Aggregator:
    tasks_topic_name = config.kafka.topics.tasks
    partitions = config.kafka.partitions
    aggregator_metrics = AggregatorMetrics(metrics)
    router = TaskRouter(config.aggregations, input_fields_for(config))
    runtime = TaskPartitions(RecordProcessor(TaskAggregator(router)), partitions, config.aggregations)
    # Keys and values are bytes (the app's raw serializers); values are orjson-encoded task states.
    table = app.Table(TABLE_NAME, default=None, partitions=partitions, key_type=bytes, value_type=bytes)
    record_bytes = tuning.task_record_bytes(config.kafka.max_message_bytes)

    async def forget_on_revoke(revoked: set[TP]) -> None:
        runtime.revoked()

    async def forget_on_assign(assigned: set[TP]) -> None:
        runtime.assigned(tp.partition for tp in assigned if tp.topic == tasks_topic_name)
        aggregator_metrics.owned_partitions.set(len(runtime.owned))

    on_revoked(app, forget_on_revoke)
    on_assigned(app, forget_on_assign)

    @app.agent(endpoints.parsed, concurrency=1)
    async def rekey(stream: faust.StreamT) -> None:
        # Several parsed records per round: with many distinct tasks a single record holds only a few
        # events per task, and the aggregate agent pays one Kafka round trip per record it handles.
        assert isinstance(stream, faust.Stream)  # take_events is the stream's, not in StreamT
        async for records in stream.take_events(tuning.REKEY_MAX_RECORDS, within=tuning.REKEY_LINGER_SECONDS):
            events: list[Event] = []
            for record in records:
                message = record.message
                try:
                    received, routable = routable_events(record.value, router)
                except RecordDecodeError as exc:
                    await send_undecodable(message, str(exc))
                    continue
                metrics.received(message.topic, message.partition, received)
                events.extend(routable)
            for partition, value, count in rekey_round(
                events, router, partitions, tuning.MAX_EVENTS_PER_TASK_RECORD, record_bytes
            ):
                await endpoints.tasks.send(value=value, partition=partition)
                metrics.sent(tasks_topic_name, partition, count)

    @app.agent(endpoints.tasks, concurrency=1)
    async def aggregate(stream: faust.StreamT) -> None:
        async for record in stream.events():
            message = record.message
            partition = message.partition
            runtime.index(partition, table.items)
            try:
                task_record = decode_task_record(record.value)
            except RecordDecodeError as exc:
                await send_undecodable(message, str(exc))
                continue
            with metrics.time_batch("aggregate"):
                outcome = runtime.process(partition, task_record, table.get)
                await emit(outcome, partition)
                for key, value in outcome.writes.items():
                    table[key] = value
            aggregator_metrics.count_outcome(message.topic, partition, task_record.event_count(), outcome)

    async def emit(outcome: RecordOutcome, partition: int) -> None:
        """Send the aggregates and wait until Kafka has them (and every earlier changelog write)."""
        if outcome.emitted:
            pending = await endpoints.aggregated.send(value=encode(Batch(events=outcome.emitted)), partition=partition)
            await pending
            metrics.sent(config.kafka.topics.aggregated, partition, len(outcome.emitted))
        # This also makes the previous record's table writes durable in the changelog before this
        # record's are made: a restart never replays an older value over a newer local one.
        await endpoints.durable()

    async def send_undecodable(message: Any, reason: str) -> None:
        letter = undecodable_letter(
            names.SERVICE_AGGREGATOR, message.topic, message.partition, message.offset, message.value, reason
        )
        await endpoints.dlq.send(value=encode(DeadLetterBatch(letters=[letter])), partition=message.partition)
        metrics.failed(message.topic, names.REASON_DEAD_LETTER)

    async def tick_idle_partitions() -> None:
        """Ask the owner of each quiet partition (through the partition itself) to flush idle tasks."""
        for partition in runtime.due_idle_ticks():
            await endpoints.tasks.send(value=encode_task_record(TaskRecord(idle_tick=True)), partition=partition)

    if runtime.shortest_idle_s is not None:
        app.timer(tuning.IDLE_CHECK_SECONDS)(tick_idle_partitions)

    return Aggregator(app, rekey, aggregate, tick_idle_partitions, runtime, table, metrics)
