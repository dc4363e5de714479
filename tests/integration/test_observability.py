"""Metrics, health and logs of the four services, scraped while they run.

Each service serves /metrics (events in/out/failed/dropped, batch latency; consumer lag per assigned
partition for the consumers), /healthz (alive) and /readyz (ready to work: 503 while Kafka cannot be
reached). Logs: JSON lines, a level per service, and no line per event at INFO.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from streamstash import names
from streamstash.kafka.clients import consumer_group
from streamstash.ops.offsets import OffsetReader
from tests.helpers.elastic import count, wait_for_count
from tests.helpers.metrics import assert_service_metrics, lag_by_partition, probe, ready, scrape, total
from tests.helpers.pipelines import TestPipeline as Pipeline
from tests.helpers.processes import ServiceProcess, stop_all
from tests.helpers.waiting import wait_until
from tests.integration.aggregator.support import create_topics, serving_port
from tests.integration.collector.support import StandIn, private_stand_in
from tests.integration.opsdata import (
    LineWriter,
    RawFlood,
    access_pipeline,
    assert_aggregates_exact,
    write_lines,
)

pytestmark = pytest.mark.integration

TASKS = 10
EVERY = 20
ROUND = 1_000  # lines per round; a multiple of TASKS * EVERY
MAX_INFO_LINES = 50
# Consumed topics, by service: the partitions each must report a lag for.
CONSUMED = {
    names.SERVICE_PARSER: ("raw",),
    names.SERVICE_AGGREGATOR: ("parsed", "tasks"),
    names.SERVICE_INDEXER: ("parsed", "aggregated"),
}


def log_entries(process: ServiceProcess) -> list[dict]:
    return [json.loads(line) for line in process.log_text().splitlines() if line.startswith("{")]


def info_lines(process: ServiceProcess) -> int:
    return sum(1 for entry in log_entries(process) if entry["level"] == "INFO")


def kafka_lag(kafka: str, pipeline: Pipeline, service: str) -> dict[tuple[str, str], int]:
    """What Kafka says: end offset minus the group's committed offset, per partition."""
    settings = pipeline.config.kafka.model_copy(update={"bootstrap_servers": kafka})
    topics = pipeline.config.kafka.topics

    async def read() -> dict[tuple[str, str], int]:
        async with OffsetReader(settings) as reader:
            found = {}
            for kind in CONSUMED[service]:
                for partition in await reader.lag(consumer_group(settings, service), getattr(topics, kind)):
                    found[(partition.topic, str(partition.partition))] = partition.lag
            return found

    return asyncio.run(read())


def group_members(kafka: str, pipeline: Pipeline, service: str) -> int:
    settings = pipeline.config.kafka.model_copy(update={"bootstrap_servers": kafka})

    async def read() -> int:
        async with OffsetReader(settings) as reader:
            return await reader.group_members(consumer_group(settings, service))

    return asyncio.run(read())


@pytest.mark.timeout(600)
def test_every_service_serves_metrics_health_and_few_logs(
    servers, es: Elasticsearch, tmp_path: Path, log_dir: Path
) -> None:
    log_file = tmp_path / "access.log"
    # Per-service levels win over the global one (which would hide INFO).
    pipeline = access_pipeline(
        tmp_path,
        [log_file],
        EVERY,
        logging={"level": "WARNING", "services": dict.fromkeys(names.SERVICES, "INFO")},
    )
    topics = pipeline.topics
    create_topics(pipeline, servers.kafka)
    running = {
        service: ServiceProcess(service, pipeline.path, servers.kafka, servers.elasticsearch, log_dir)
        for service in names.SERVICES
    }
    flood = RawFlood(servers.kafka, topics.raw, first=2 * ROUND, tasks=TASKS, per_record=TASKS * EVERY)
    try:
        ports = {service: serving_port(process) for service, process in running.items()}
        for service, port in ports.items():
            assert probe(port, "/healthz") == (200, {"status": "ok", "service": service})
            wait_until(lambda: ready(port), timeout=120, message=f"{service} never ready")  # noqa: B023

        # 1,000 lines, then 1,000 more: INFO lines are few, and the second round adds (almost) none.
        write_lines([log_file], 0, ROUND, TASKS)
        wait_for_count(es, pipeline.index, ROUND, timeout=180)
        after_first = {service: info_lines(process) for service, process in running.items()}
        write_lines([log_file], ROUND, ROUND, TASKS)
        wait_for_count(es, pipeline.index, 2 * ROUND, timeout=180)
        after_second = {service: info_lines(process) for service, process in running.items()}
        for service in names.SERVICES:
            assert after_first[service] < MAX_INFO_LINES, (service, after_first[service])
            assert after_second[service] - after_first[service] <= 3, (service, after_first, after_second)
        assert all(
            entry["service"] == service for service, process in running.items() for entry in log_entries(process)
        ), "a log line without its service"
        # Not given --http-host: the endpoint is bound to the loopback interface only.
        for service, process in running.items():
            serving = [entry for entry in log_entries(process) if entry["msg"] == "serving metrics and health"]
            assert [entry["host"] for entry in serving] == ["127.0.0.1"], (service, serving)
        # The stand-in repairs are installed once per service, explicitly, and only for the stand-in.
        standin = os.environ.get(names.ENV_KAFKA_STANDIN) == "1"
        for service, process in running.items():
            adapter = [entry for entry in log_entries(process) if entry["msg"].startswith("kafka adapter installed")]
            assert [entry["standin_repairs"] for entry in adapter] == [standin], (service, adapter)

        # A stream faster than commits: the Faust services report lag on the partitions receiving it.
        flood.start()
        behind: dict[str, bool] = {}

        def lag_seen() -> bool:
            for service in (names.SERVICE_PARSER, names.SERVICE_AGGREGATOR):
                behind[service] = behind.get(service) or any(lag_by_partition(scrape(ports[service]), service).values())
            return all(behind.values())

        wait_until(lag_seen, timeout=90, interval=0.2, message="no lag ever reported while the stream ran")
        lines = 2 * ROUND + flood.finish()
        wait_for_count(es, pipeline.index, lines, timeout=180)
        wait_for_count(es, pipeline.aggregate_index, lines // EVERY, timeout=120)

        # Caught up: every assigned partition reports 0, as Kafka's committed offsets say.
        for service, kinds in CONSUMED.items():
            port = ports[service]
            expected_partitions = {(getattr(topics, kind), str(p)) for kind in kinds for p in range(3)}

            def caught_up(port: int = port, service: str = service, expected: set = expected_partitions) -> bool:
                reported = lag_by_partition(scrape(port), service)
                return (
                    set(reported) == expected
                    and not any(reported.values())
                    and not any(kafka_lag(servers.kafka, pipeline, service).values())
                )

            wait_until(caught_up, timeout=60, message=f"{service}: lag not back to 0 on every partition")

        assert_service_metrics(ports["collector"], "collector", sent=2 * ROUND, failed=0, dropped=0)
        assert_service_metrics(ports["parser"], "parser", received=lines, sent=lines, failed=0, dropped=0)
        aggregator = assert_service_metrics(ports["aggregator"], "aggregator", failed=0)
        assert total(aggregator, "streamstash_events_received_total", topic=topics.parsed) == lines
        assert total(aggregator, "streamstash_events_sent_total", topic=topics.aggregated) == lines // EVERY
        indexer = assert_service_metrics(ports["indexer"], "indexer", sent=lines + lines // EVERY)
        assert total(indexer, "streamstash_bulk_requests_total") > 0
        assert total(indexer, "streamstash_bulk_request_seconds_count") > 0
        assert "family:streamstash_bulk_errors" in indexer
        assert total(indexer, "streamstash_bulk_errors_total") == 0
        collector = scrape(ports["collector"])
        assert "family:streamstash_buffer_fill" in collector
        assert total(collector, "streamstash_buffer_fill", buffer="memory") == 0
        for service, port in ports.items():
            assert probe(port, "/readyz") == (200, {"ready": True, "service": service})

        # --log-level (here by its environment variable) wins over the file's per-service level.
        quiet = ServiceProcess(
            "parser",
            pipeline.path,
            servers.kafka,
            servers.elasticsearch,
            log_dir,
            extra_env={names.ENV_LOG_LEVEL: "WARNING"},
            name="parser-quiet",
        )
        running["parser-quiet"] = quiet
        wait_until(
            lambda: group_members(servers.kafka, pipeline, "parser") == 2,
            timeout=120,
            message="the quiet parser never joined its group",
        )
        quiet.process.send_signal(signal.SIGTERM)
        assert quiet.wait_exit(60) == 0
        assert info_lines(quiet) == 0, log_entries(quiet)
        assert info_lines(running["parser"]) > 0
    finally:
        flood.finish()
        stop_all(list(running.values()))
    assert count(es, pipeline.index) == lines
    assert_aggregates_exact(es, pipeline.aggregate_index, lines, TASKS, EVERY)


@pytest.fixture(scope="module")
def stand_in(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StandIn]:
    """A private Kafka: this test stops it, which the session's shared one must never be."""
    with private_stand_in(tmp_path_factory.mktemp("private-stack")) as running:
        yield running


@pytest.mark.timeout(600)
def test_readiness_follows_kafka(stand_in: StandIn, tmp_path: Path, log_dir: Path) -> None:
    """Kafka away while lines keep coming: every service stays alive (/healthz) but is not ready
    (/readyz 503); Kafka back: ready again, and every line gets through."""
    log_file = tmp_path / "access.log"
    pipeline = access_pipeline(tmp_path, [log_file], EVERY)
    create_topics(pipeline, stand_in.kafka)
    es = Elasticsearch(stand_in.elasticsearch, request_timeout=30)
    # The collector learns that Kafka is away from sends that go unanswered, so lines keep coming.
    writer = LineWriter([log_file], TASKS, lines_per_second=50)
    running = {
        service: ServiceProcess(service, pipeline.path, stand_in.kafka, stand_in.elasticsearch, log_dir)
        for service in names.SERVICES
    }
    try:
        ports = {service: serving_port(process) for service, process in running.items()}
        writer.start()
        for service, port in ports.items():
            wait_until(lambda: ready(port), timeout=120, message=f"{service} never ready")  # noqa: B023
        wait_for_count(es, pipeline.index, 1, timeout=120)

        stand_in.stop_kafka()
        try:
            for service, port in ports.items():
                wait_until(
                    lambda port=port: not ready(port),
                    timeout=60,
                    message=f"{service} still ready without Kafka",
                )
                assert probe(port, "/readyz") == (503, {"ready": False, "service": service})
                assert probe(port, "/healthz")[0] == 200, f"{service} not alive without Kafka"
        finally:
            stand_in.start_kafka()
        for service, port in ports.items():
            wait_until(
                lambda port=port: ready(port),
                timeout=180,
                message=f"{service} not ready again after Kafka came back",
            )
        lines = writer.finish(TASKS * EVERY)
        try:
            wait_for_count(es, pipeline.index, lines, timeout=180)
        except AssertionError as stalled:
            figures = {
                service: {
                    kind: total(scrape(port), f"streamstash_events_{kind}_total") for kind in ("received", "sent")
                }
                for service, port in ports.items()
            }
            raise AssertionError(f"{stalled}; {lines} lines written; per service {figures}") from None
        assert all(process.alive() for process in running.values())
        assert count(es, pipeline.index) == lines
    finally:
        writer.finish()
        stop_all(list(running.values()))
        es.close()
