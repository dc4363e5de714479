"""Parser wiring: a Faust agent from `logs.raw` to `logs.parsed`, dead letters to `logs.dlq`."""

from __future__ import annotations

import faust

from streamstash import names
from streamstash.config import PipelineConfig
from streamstash.events.envelope import Batch, DeadLetterBatch, encode
from streamstash.events.inputfields import input_fields_for
from streamstash.filters import FilterChain
from streamstash.kafka.faust_app import attach_health, make_app, raw_topic
from streamstash.runtime.metrics import ServiceMetrics
from streamstash.services.parser.logic import RecordParser


def build_app(config: PipelineConfig) -> faust.App:
    topics = config.kafka.topics
    partitions = config.kafka.partitions
    app = make_app(config, names.SERVICE_PARSER)
    metrics = ServiceMetrics(names.SERVICE_PARSER)
    attach_health(app, config, metrics)
    parser = RecordParser(FilterChain(config.filters), input_fields_for(config))
    source = raw_topic(app, topics.raw, partitions)
    parsed_topic = raw_topic(app, topics.parsed, partitions)
    dlq_topic = raw_topic(app, topics.dlq, partitions)
    stop_offsets = config.parser.stop_offsets or {}

    @app.agent(source, concurrency=1)
    async def parse(stream: faust.StreamT) -> None:
        async for record in stream.events():
            message = record.message
            if message.offset >= stop_offsets.get(message.partition, message.offset + 1):
                continue  # past the end of a bounded replay
            with metrics.time_batch("parse"):
                result = parser.parse_record(record.value, message.topic, message.partition, message.offset)
            metrics.received(message.topic, message.partition, result.received)
            if result.parsed:
                await parsed_topic.send(key=record.key, value=encode(Batch(events=result.parsed)))
                metrics.sent(topics.parsed, message.partition, len(result.parsed))
            if result.dead_letters:
                await dlq_topic.send(key=record.key, value=encode(DeadLetterBatch(letters=result.dead_letters)))
                metrics.failed(message.topic, "dead_letter", len(result.dead_letters))
            if result.dropped:
                metrics.dropped(message.topic, "drop_filter", result.dropped)

    return app
