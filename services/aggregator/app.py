"""Aggregator wiring: re-key parsed events by task, fold them into a RocksDB table, emit aggregates."""

from __future__ import annotations

import faust

from streamstash import names
from streamstash.config import PipelineConfig
from streamstash.envelope import Batch, decode_batch, encode
from streamstash.metrics import ServiceMetrics
from streamstash.services.aggregator.logic import TaskAggregator, TaskRouter
from streamstash.streaming import attach_health, make_app, raw_topic

TABLE_NAME = "task-state"


def build_app(config: PipelineConfig) -> faust.App:
    topics = config.kafka.topics
    partitions = config.kafka.partitions
    app = make_app(config, names.SERVICE_AGGREGATOR, store="rocksdb://")
    metrics = ServiceMetrics(names.SERVICE_AGGREGATOR)
    attach_health(app, config, metrics)
    router = TaskRouter(config.aggregations)
    aggregator = TaskAggregator(router)
    parsed_topic = raw_topic(app, topics.parsed, partitions)
    tasks_topic = raw_topic(app, topics.tasks, partitions)
    aggregated_topic = raw_topic(app, topics.aggregated, partitions)
    table = app.Table(TABLE_NAME, default=None, partitions=partitions, key_type=str, value_type=None,
                      key_serializer="raw", value_serializer="json")

    @app.agent(parsed_topic, concurrency=1)
    async def rekey(stream: faust.StreamT) -> None:
        async for record in stream.events():
            message = record.message
            batch = decode_batch(record.value)
            metrics.received(message.topic, message.partition, len(batch.events))
            for key, events in router.group(batch.events).items():
                await tasks_topic.send(key=key.encode(), value=encode(Batch(events=events)))

    @app.agent(tasks_topic, concurrency=1)
    async def aggregate(stream: faust.StreamT) -> None:
        async for record in stream.events():
            key = record.key.decode()
            state, emitted = aggregator.fold(key, table[key], decode_batch(record.value).events)
            table[key] = state
            if emitted:
                await aggregated_topic.send(key=record.key, value=encode(Batch(events=emitted)))
                metrics.sent(topics.aggregated, record.message.partition, len(emitted))

    return app
