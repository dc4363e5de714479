"""Faust apps built the same way for every Faust service (parser, aggregator), and how they run."""

from __future__ import annotations

import logging
from typing import Any

import faust

from streamstash.config import PipelineConfig
from streamstash.http import HealthServer
from streamstash.kafka import bootstrap, consumer_group
from streamstash.logs import configure_logging
from streamstash.metrics import ServiceMetrics

log = logging.getLogger(__name__)


def make_app(config: PipelineConfig, service: str, **overrides: Any) -> faust.App:
    kafka = config.kafka
    datadir = config.state_dir / service
    datadir.mkdir(parents=True, exist_ok=True)
    options: dict[str, Any] = {
        "broker": [f"kafka://{server}" for server in bootstrap(kafka).split(",")],
        "store": "memory://",
        "datadir": str(datadir),
        "web_enabled": False,  # we serve /metrics and /healthz ourselves; Faust's fixed port breaks scaling
        "topic_partitions": kafka.partitions,
        "topic_replication_factor": kafka.replication_factor,
        "producer_acks": -1,
        "producer_compression_type": "lz4",
        "producer_max_request_size": kafka.max_message_bytes,
        "producer_linger_ms": 5,
        "consumer_max_fetch_size": kafka.max_message_bytes,
        "consumer_auto_offset_reset": "earliest",
        # Records are batches of hundreds of events, so few records per poll keep latency low.
        "broker_max_poll_records": 50,
        "stream_buffer_maxsize": 64,
        "broker_commit_every": 100,
        "broker_commit_interval": 1.0,
        "key_serializer": "raw",
        "value_serializer": "raw",
    }
    options.update(overrides)
    return faust.App(consumer_group(kafka, service), **options)


def raw_topic(app: faust.App, name: str, partitions: int) -> faust.TopicT:
    return app.topic(name, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw",
                     partitions=partitions)


def attach_health(app: faust.App, config: PipelineConfig, metrics: ServiceMetrics) -> HealthServer:
    server = HealthServer(config.http, metrics, ready=lambda: app.rebalancing is False)

    @app.task
    async def start_health_server() -> None:
        await server.start()

    return server


def run_worker(app: faust.App, config: PipelineConfig, service: str) -> None:
    """Run a Faust worker in the foreground; SIGINT/SIGTERM stop it after committing."""
    configure_logging(service, config.logging.level, config.logging.json_format)
    worker = faust.Worker(app, loglevel=config.logging.level, quiet=True, override_logging=False,
                          redirect_stdouts=False)
    worker.execute_from_commandline()
