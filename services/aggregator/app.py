"""Aggregator wiring: re-key parsed events by task, fold them into a RocksDB table, emit aggregates.

`rekey` (logs.parsed -> logs.tasks) sends, per round of up to 100 parsed records, one record per
`logs.tasks` partition holding that partition's tasks' events grouped by task (see records.py).
`aggregate` (logs.tasks -> logs.aggregated) folds each record into the table and emits what closed.
The logic lives in `logic.py`; this module only moves bytes between Faust and it, in the order that
keeps a crash exact: aggregates are acknowledged by Kafka before the state that produced them is
written, and the previous record's table writes are in the changelog before this record's are made.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from typing import Any

import faust
from prometheus_client import Counter, Gauge

from streamstash import names
from streamstash.aggregation.folding import TaskAggregator
from streamstash.aggregation.processor import RecordOutcome, RecordProcessor
from streamstash.aggregation.records import (
    TaskRecord,
    decode_task_record,
    encode_task_record,
    partition_for,
    task_records,
)
from streamstash.aggregation.routing import TaskRouter
from streamstash.config import PipelineConfig
from streamstash.events.deadletters import undecodable_letter
from streamstash.events.envelope import Batch, DeadLetterBatch, Event, RecordDecodeError, decode_batch, encode
from streamstash.kafka.faust_app import attach_health, make_app, raw_topic
from streamstash.kafka.topics import ensure_topics
from streamstash.runtime.metrics import ServiceMetrics

log = logging.getLogger(__name__)

TABLE_NAME = "task-state"
IDLE_CHECK_SECONDS = 1.0
# A round of parsed records makes one logs.tasks record per partition, and the aggregate stage writes
# each task of a record once to the table (one changelog message per task): the more events a round
# holds, the fewer writes per event (10,000 tasks: 0.37 writes per event with rounds of 50 records
# of 500 events, 0.2 with 100). Parser records hold at most 500 events / 512 KiB.
REKEY_MAX_RECORDS = 100
REKEY_LINGER_SECONDS = 0.05
MAX_EVENTS_PER_TASK_RECORD = 20_000
# A round decodes tens of thousands of events, each a few container objects that all stay alive until
# the round ends: with CPython's default (a young collection every 700 allocations, older ones in turn)
# the collector took a third of the aggregator's CPU in bench/aggregate.py. Young collections every
# 20,000 allocations cut that to almost nothing; memory is freed by reference counting as before.
GC_YOUNG_THRESHOLD = 20_000
# After a kill -9 the group waits this long for the dead member before a restarted one gets its
# partitions back (Faust's default is 60 s); heartbeats come from the consumer thread every 3 s.
SESSION_TIMEOUT_SECONDS = 20.0
REBALANCE_TIMEOUT_SECONDS = 30.0


def ensure_pipeline_topics(config: PipelineConfig) -> None:
    """Create missing topics with the configured partitions before Faust would auto-create them with one.

    Tasks are sent to explicit partitions, and the table's changelog must match `logs.tasks`.
    A private loop, so that Faust's worker later finds the thread's event loop untouched.
    """
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(ensure_topics(config.kafka))
    finally:
        loop.close()


def build_app(config: PipelineConfig) -> faust.App:
    topics = config.kafka.topics
    partitions = config.kafka.partitions
    ensure_pipeline_topics(config)
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
    # RocksDB lives in the instance's state slot (make_app's datadir): a restart recovers from it.
    app = make_app(
        config,
        names.SERVICE_AGGREGATOR,
        store="rocksdb://",
        broker_session_timeout=SESSION_TIMEOUT_SECONDS,
        broker_rebalance_timeout=REBALANCE_TIMEOUT_SECONDS,
    )
    metrics = ServiceMetrics(names.SERVICE_AGGREGATOR)
    late_events = Counter(
        "streamstash_aggregator_late_events",
        "Events behind the watermark: not dropped, emitted in aggregates tagged _aggregate_late.",
        ["topic"],
        registry=metrics.registry,
    )
    owned_partitions = Gauge(
        "streamstash_aggregator_owned_partitions",
        "Partitions of logs.tasks (and so of the task table) this instance owns.",
        registry=metrics.registry,
    )
    attach_health(app, config, metrics)
    router = TaskRouter(config.aggregations)
    processor = RecordProcessor(TaskAggregator(router))
    parsed_topic = raw_topic(app, topics.parsed, partitions)
    tasks_topic = raw_topic(app, topics.tasks, partitions)
    aggregated_topic = raw_topic(app, topics.aggregated, partitions)
    dlq_topic = raw_topic(app, topics.dlq, partitions)
    # Keys and values are bytes (the app's raw serializers); values are orjson-encoded task states.
    table = app.Table(TABLE_NAME, default=None, partitions=partitions, key_type=bytes, value_type=bytes)
    idle_specs = [spec for spec in config.aggregations if spec.flush.idle_flush is not None]
    task_record_bytes = config.kafka.max_message_bytes // 2  # room for what `encoded_size` underestimates
    last_events_at: dict[int, float] = {}

    @app.on_partitions_revoked.connect
    async def forget_on_revoke(_app: Any, revoked: Any, **kwargs: Any) -> None:
        processor.forget()  # partitions may come back changed by another instance: rebuild from the table

    @app.on_partitions_assigned.connect
    async def forget_on_assign(_app: Any, assigned: Any, **kwargs: Any) -> None:
        processor.forget()
        owned_partitions.set(sum(1 for tp in assigned if tp.topic == topics.tasks))

    @app.agent(parsed_topic, concurrency=1)
    async def rekey(stream: faust.StreamT) -> None:
        # Several parsed records per round: with many distinct tasks a single record holds only a few
        # events per task, and the aggregate agent pays one Kafka round trip per record it handles.
        async for records in stream.take_events(REKEY_MAX_RECORDS, within=REKEY_LINGER_SECONDS):
            events: list[Event] = []
            for record in records:
                message = record.message
                try:
                    batch = decode_batch(record.value)
                except RecordDecodeError as exc:
                    await send_undecodable(message, str(exc))
                    continue
                metrics.received(message.topic, message.partition, len(batch.events))
                events.extend(batch.events)
            for partition, task_records_of_partition in task_records(
                events, router.keys_for, partitions, MAX_EVENTS_PER_TASK_RECORD, task_record_bytes
            ).items():
                for task_record in task_records_of_partition:
                    await tasks_topic.send(value=encode_task_record(task_record), partition=partition)
                    metrics.sent(topics.tasks, partition, task_record.event_count())

    @app.agent(tasks_topic, concurrency=1)
    async def aggregate(stream: faust.StreamT) -> None:
        async for record in stream.events():
            message = record.message
            partition = message.partition
            if not processor.has(partition):
                rebuild()
            try:
                task_record = decode_task_record(record.value)
            except RecordDecodeError as exc:
                await send_undecodable(message, str(exc))
                continue
            with metrics.time_batch("aggregate"):
                if task_record.idle_tick:
                    outcome = idle_outcome(partition)
                else:
                    last_events_at[partition] = time.monotonic()
                    outcome = processor.process(partition, task_record.groups, table.get)
                await emit(outcome, partition)
                for key, value in outcome.writes.items():
                    table[key] = value
            count_outcome(message, task_record, outcome)

    def rebuild() -> None:
        assigned = sorted(tp.partition for tp in app.consumer.assignment() if tp.topic == topics.tasks)
        missing = [partition for partition in assigned if not processor.has(partition)]
        started = time.monotonic()
        processor.rebuild(missing, table.items(), lambda key: partition_for(key, partitions))
        open_tasks = sum(len(processor.partitions[partition].open_keys) for partition in missing)
        log.info(
            "rebuilt open-task index from the table",
            extra={"partitions": missing, "open_tasks": open_tasks, "seconds": round(time.monotonic() - started, 3)},
        )

    def idle_outcome(partition: int) -> RecordOutcome:
        quiet_for = time.monotonic() - last_events_at.get(partition, time.monotonic())
        return processor.idle_flush(
            partition,
            table.get,
            lambda spec: spec.flush.idle_flush is not None and quiet_for * 1000 >= spec.flush.idle_flush,
        )

    async def emit(outcome: RecordOutcome, partition: int) -> None:
        """Send the aggregates and wait until Kafka has them (and every earlier changelog write)."""
        if outcome.emitted:
            pending = await aggregated_topic.send(value=encode(Batch(events=outcome.emitted)), partition=partition)
            await pending
            metrics.sent(topics.aggregated, partition, len(outcome.emitted))
        # The flush also makes the previous record's table writes durable in the changelog before
        # this record's are made: a restart never replays an older value over a newer local one.
        await app.producer.flush()
        while app.producer.buffer.size:
            await app.producer.flush()

    def count_outcome(message: Any, task_record: TaskRecord, outcome: RecordOutcome) -> None:
        received = task_record.event_count()
        if received:
            metrics.received(message.topic, message.partition, received)
        if outcome.duplicates:
            metrics.dropped(message.topic, names.REASON_DUPLICATE_DELIVERY, outcome.duplicates)
        if outcome.late:
            late_events.labels(message.topic).inc(outcome.late)

    async def send_undecodable(message: Any, reason: str) -> None:
        letter = undecodable_letter(
            names.SERVICE_AGGREGATOR, message.topic, message.partition, message.offset, message.value, reason
        )
        await dlq_topic.send(value=encode(DeadLetterBatch(letters=[letter])), partition=message.partition)
        metrics.failed(message.topic, names.REASON_DEAD_LETTER)

    if idle_specs:
        shortest_idle = min(spec.flush.idle_flush or 0 for spec in idle_specs) / 1000
        last_tick_at: dict[int, float] = {}

        @app.timer(IDLE_CHECK_SECONDS)
        async def tick_idle_partitions() -> None:
            """Ask the owner of each quiet partition (through the partition itself) to flush idle tasks."""
            now = time.monotonic()
            for tp in app.consumer.assignment():
                if tp.topic != topics.tasks:
                    continue
                runtime = processor.partitions.get(tp.partition)
                if runtime is None or not runtime.open_keys:
                    continue
                quiet = now - last_events_at.setdefault(tp.partition, now)
                if quiet >= shortest_idle and now - last_tick_at.get(tp.partition, 0.0) >= shortest_idle / 2:
                    last_tick_at[tp.partition] = now
                    await tasks_topic.send(value=encode_task_record(TaskRecord(idle_tick=True)), partition=tp.partition)

    return app
