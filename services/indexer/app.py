"""Indexer wiring: aiokafka consumer on parsed + aggregated topics -> Elasticsearch bulk -> commit."""

from __future__ import annotations

import asyncio
import logging

from aiokafka import TopicPartition

from streamstash import names
from streamstash.config import PipelineConfig
from streamstash.es import make_client
from streamstash.http import HealthServer
from streamstash.kafka import consumer_group, make_consumer, make_producer
from streamstash.metrics import ServiceMetrics
from streamstash.services.aggregator.logic import TaskRouter
from streamstash.services.indexer.bulk import BulkWriter, backoff_delay
from streamstash.services.indexer.documents import IndexNamer
from streamstash.services.indexer.pipeline import IndexBatch, collect_actions, dead_letters_for
from streamstash.services.indexer.template import install_template, template_patterns
from streamstash.envelope import encode, DeadLetterBatch

log = logging.getLogger(__name__)


async def install_template_when_reachable(client, config: PipelineConfig, stop: asyncio.Event) -> None:  # noqa: ANN001
    output = config.outputs.elasticsearch
    if not output.install_template:
        return
    attempt = 0
    while not stop.is_set():
        try:
            await install_template(client, template_patterns(output.index, output.aggregate_index))
            return
        except Exception as exc:  # noqa: BLE001 - any failure here means "not yet"; keep trying
            attempt += 1
            log.warning("cannot install index template yet", extra={"attempt": attempt, "error": repr(exc)})
            await asyncio.sleep(backoff_delay(attempt))


async def run_indexer(config: PipelineConfig, stop: asyncio.Event) -> None:
    topics = config.kafka.topics
    output = config.outputs.elasticsearch
    metrics = ServiceMetrics(names.SERVICE_INDEXER)
    client = make_client(config.elasticsearch)
    writer = BulkWriter(client, on_retry=lambda count: metrics.failed(topics.parsed, "bulk_retry", count))
    router = TaskRouter(config.aggregations)
    namers = {
        topics.parsed: IndexNamer(output.index, fallback=names.DEFAULT_DLQ_INDEX),
        topics.aggregated: IndexNamer(output.aggregate_index, fallback=names.DEFAULT_DLQ_INDEX),
    }
    consumer = make_consumer(config.kafka, topics.parsed, topics.aggregated,
                             group=consumer_group(config.kafka, names.SERVICE_INDEXER),
                             client_id=names.SERVICE_INDEXER, max_poll_records=max(1, output.bulk.max_docs // 100))
    producer = make_producer(config.kafka, client_id=f"{names.SERVICE_INDEXER}-dlq")
    server = HealthServer(config.http, metrics, ready=lambda: writer.available)
    await server.start()
    await install_template_when_reachable(client, config, stop)
    await producer.start()
    await consumer.start()
    try:
        while not stop.is_set():
            records = await consumer.getmany(timeout_ms=output.bulk.flush_ms)
            if not records:
                continue
            batch: IndexBatch = collect_actions(records, namers, skip=router.is_consumed, metrics=metrics)
            for chunk in batch.chunks(output.bulk.max_docs, output.bulk.max_bytes):
                with metrics.time_batch("bulk"):
                    outcome = await writer.write(chunk)
                batch.record_outcome(outcome)
            letters = dead_letters_for(batch)
            if letters:
                await producer.send_and_wait(topics.dlq, encode(DeadLetterBatch(letters=letters)))
                metrics.failed(topics.parsed, "rejected_by_elasticsearch", len(letters))
            for (topic, partition), count in batch.indexed_per_partition.items():
                metrics.sent(topic, partition, count)
            await consumer.commit({TopicPartition(tp.topic, tp.partition): offset + 1
                                   for tp, offset in batch.last_offsets.items()})
    finally:
        await consumer.stop()
        await producer.stop()
        await client.close()
        await server.stop()
