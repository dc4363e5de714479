"""Indexer wiring: aiokafka consumer on parsed + aggregated topics -> Elasticsearch/OpenSearch bulk -> commit.

Only building here; the loop is :mod:`streamstash.services.indexer.consumer`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from streamstash import names
from streamstash.aggregation.routing import TaskRouter
from streamstash.config import PipelineConfig
from streamstash.events.envelope import Event
from streamstash.events.inputfields import input_fields_for
from streamstash.kafka.clients import consumer_group, make_consumer, make_producer
from streamstash.kafka.compat.internals import coordinator_known, member_id
from streamstash.kafka.membership import leave_for_predecessor, remember_member
from streamstash.runtime.http import HealthServer
from streamstash.runtime.metrics import ServiceMetrics
from streamstash.runtime.slots import StateSlot, claim_slot
from streamstash.search.client import log_connection, make_engine
from streamstash.search.engine import OPENSEARCH, WrongProductError
from streamstash.services.indexer import tuning
from streamstash.services.indexer.bulk import BulkWriter, RetryPolicy
from streamstash.services.indexer.consumer import DeadLetterSink, IndexerLoop
from streamstash.services.indexer.documents import DocumentBuilder, IndexNamer
from streamstash.services.indexer.template import install_template_when_reachable, refused_by_opensearch

log = logging.getLogger(__name__)

# Well above the longest drain (flush + in-flight requests) so a slow Elasticsearch never costs the
# group membership; polling goes on while paused, so an outage never gets near it either.
MAX_POLL_INTERVAL_MS = 300_000
# Kafka 3's defaults (aiokafka still has 10 s): a CPU-starved host must not cost the group membership.
SESSION_TIMEOUT_MS = 45_000
HEARTBEAT_INTERVAL_MS = 3_000


async def take_over_slot(config: PipelineConfig, group: str) -> StateSlot:
    """This instance's state slot; the group member a killed predecessor in it left behind leaves now."""
    slot = claim_slot(config.state_dir / names.SERVICE_INDEXER)
    predecessor = await leave_for_predecessor(
        config.kafka, group, slot.directory, client_id=f"{names.SERVICE_INDEXER}-handover"
    )
    log.info("starting", extra={"group": group, "slot": slot.number, "left_group_for_predecessor": predecessor})
    return slot


def record_member(slot_directory: Path, group: str, consumer: Any) -> None:
    remember_member(slot_directory, group, member_id(consumer))


def document_builders(config: PipelineConfig) -> dict[str, DocumentBuilder]:
    topics = config.kafka.topics
    output = config.outputs.elasticsearch
    ecs = output.ecs_compatibility == "v8"
    fields = input_fields_for(config)
    return {
        topics.parsed: DocumentBuilder(
            IndexNamer(output.index, fallback=names.DEFAULT_DLQ_INDEX),
            op_type=output.op_type,
            ecs=ecs,
            fields=fields,
            document_id=output.document_id,
            pipeline=output.pipeline,
        ),
        topics.aggregated: DocumentBuilder(
            IndexNamer(output.aggregate_index, fallback=names.DEFAULT_DLQ_INDEX),
            op_type=output.op_type,
            ecs=ecs,
            fields=fields,
            pipeline=output.pipeline,
        ),
    }


def consumed_by_aggregations(config: PipelineConfig) -> Callable[[Event], bool] | None:
    """What the indexer leaves out: events an aggregation with `index_events: false` takes (None: nothing).

    Routed here rather than marked upstream: bench/routing.py measured the same routing cost wherever it
    runs, and a mark would tie the indexer's choice to the parser's configuration and to when an event
    was parsed, not to the pipeline the indexer runs.
    """
    router = TaskRouter(config.aggregations, input_fields_for(config))
    return router.is_consumed if router.consumes else None


async def run_indexer(config: PipelineConfig, stop: asyncio.Event) -> None:
    topics = config.kafka.topics
    output = config.outputs.elasticsearch
    bulk = output.bulk
    metrics = ServiceMetrics(names.SERVICE_INDEXER)
    tuning.tune_gc()
    log_connection(config.elasticsearch, names.SERVICE_INDEXER)
    refused = refused_by_opensearch(output) if config.elasticsearch.distribution == OPENSEARCH else None
    if refused is not None:
        log.error("setting not available on OpenSearch", extra={"error": refused})
        raise SystemExit(2)
    engine = make_engine(config.elasticsearch)
    retry = RetryPolicy(
        initial_s=bulk.retry_initial_ms / 1000, max_s=bulk.retry_max_ms / 1000, max_item_retries=bulk.max_item_retries
    )
    group = consumer_group(config.kafka, names.SERVICE_INDEXER)
    membership = {"group_instance_id": output.group_instance_id} if output.group_instance_id else {}
    consumer = make_consumer(
        config.kafka,
        group=group,
        client_id=names.SERVICE_INDEXER,
        max_poll_interval_ms=MAX_POLL_INTERVAL_MS,
        session_timeout_ms=SESSION_TIMEOUT_MS,
        heartbeat_interval_ms=HEARTBEAT_INTERVAL_MS,
        **membership,
    )
    producer = make_producer(config.kafka, client_id=f"{names.SERVICE_INDEXER}-dlq")
    loop = IndexerLoop(
        consumer=consumer,
        client=engine,
        dead_letters=DeadLetterSink(producer, topics.dlq),
        builders=document_builders(config),
        skip=consumed_by_aggregations(config),
        bulk=bulk,
        metrics=metrics,
        writer_factory=lambda observer: BulkWriter(engine, retry, observer),
    )
    server = HealthServer(config.http, metrics, ready=lambda: loop.ready() and coordinator_known(consumer))
    await server.start()
    try:
        try:
            await install_template_when_reachable(engine, output, retry, stop)
        except WrongProductError as exc:
            # A setting to change, not a passing fault: say what to set and stop (exit 2, like a bad config).
            log.error("the hosts run another search engine", extra={"error": str(exc)})
            raise SystemExit(2) from exc
        if stop.is_set():
            return
        await producer.start()
        on_assigned: Callable[[], None] | None = None
        if not output.group_instance_id:  # a static member takes its predecessor's place by id anyway
            slot = await take_over_slot(config, group)  # locked until run_indexer returns
            on_assigned = functools.partial(record_member, slot.directory, group, consumer)
        consumer.subscribe([topics.parsed, topics.aggregated], listener=loop.rebalance_listener(on_assigned))
        await consumer.start()
        try:
            await loop.run(stop)
        finally:
            await consumer.stop()
            await producer.stop()
    finally:
        await engine.close()
        await server.stop()
