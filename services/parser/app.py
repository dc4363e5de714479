"""Parser wiring: a Faust agent from `logs.raw` to `logs.parsed`, dead letters to `logs.dlq`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import faust
from faust.types import AgentT, ChannelT, FutureMessage

from streamstash import names
from streamstash.config import PipelineConfig
from streamstash.events.envelope import Batch, DeadLetterBatch, encode
from streamstash.events.inputfields import input_fields_for
from streamstash.filters import FilterChain
from streamstash.kafka.faust_app import attach_health, make_app, raw_topic
from streamstash.runtime.metrics import ServiceMetrics
from streamstash.services.parser.logic import RecordParser


@dataclass(frozen=True)
class Endpoints:
    """Where the agent reads and writes; Kafka topics in the service, in-memory channels in tests."""

    raw: ChannelT
    parsed: ChannelT
    dlq: ChannelT


def build_app(config: PipelineConfig) -> faust.App:
    app = make_app(config, names.SERVICE_PARSER)
    metrics = ServiceMetrics(names.SERVICE_PARSER)
    attach_health(app, config, metrics)
    topics, partitions = config.kafka.topics, config.kafka.partitions
    endpoints = Endpoints(
        raw=raw_topic(app, topics.raw, partitions),
        parsed=raw_topic(app, topics.parsed, partitions),
        dlq=raw_topic(app, topics.dlq, partitions),
    )
    wire(app, config, endpoints, metrics)
    return app


def wire(app: faust.App, config: PipelineConfig, endpoints: Endpoints, metrics: ServiceMetrics) -> AgentT:
    parser = RecordParser(FilterChain(config.filters), input_fields_for(config))
    stop_offsets = config.parser.stop_offsets or {}

    @app.agent(endpoints.raw, concurrency=1)
    async def parse(stream: faust.StreamT) -> None:
        async for record in stream.events():
            message = record.message
            if message.offset >= stop_offsets.get(message.partition, message.offset + 1):
                continue  # past the end of a bounded replay
            with metrics.time_batch("parse"):
                result = parser.parse_record(record.value, message.topic, message.partition, message.offset)
            metrics.received(message.topic, message.partition, result.received)
            if result.parsed:
                await endpoints.parsed.send(
                    key=record.key, value=encode(Batch(events=result.parsed)), callback=count_sent(len(result.parsed))
                )
            if result.dead_letters:
                await endpoints.dlq.send(key=record.key, value=encode(DeadLetterBatch(letters=result.dead_letters)))
                metrics.failed(message.topic, names.REASON_DEAD_LETTER, len(result.dead_letters))
            if result.dropped:
                metrics.dropped(message.topic, names.REASON_DROP_FILTER, result.dropped)

    def count_sent(events: int) -> Callable[[FutureMessage], None]:
        """Counted once Kafka acknowledged the record, under the topic and partition it landed on."""

        def sent(delivered: FutureMessage) -> None:
            metadata = delivered.result()
            metrics.sent(metadata.topic, metadata.partition, events)

        return sent

    return parse
