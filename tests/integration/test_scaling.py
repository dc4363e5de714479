"""Every service runs as several instances sharing the partitions, and the output stays exact.

Two parsers, two aggregators and two indexers split 4 partitions per topic (each instance takes in a
share of the events, reports lag only for its own partitions, and the two shares add up to all of
them), a collector reads 5,000 lines from 12 files (so several raw partitions get data), and what
Elasticsearch ends up holding is exactly the input: one document per line, aggregates equal to the
straight computation.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from streamstash import names
from tests.helpers.elastic import count, wait_for_count
from tests.helpers.metrics import assert_service_metrics, lag_by_partition, probe, scrape, total
from tests.helpers.processes import ServiceProcess, stop_all
from tests.helpers.waiting import wait_until
from tests.integration.aggregator.support import create_topics, serving_port
from tests.integration.opsdata import access_pipeline, assert_aggregates_exact, write_lines

pytestmark = pytest.mark.integration

PARTITIONS = 4
FILES = 12
LINES = 5_000
TASKS = 25
EVERY = 50
SCALED = (names.SERVICE_PARSER, names.SERVICE_AGGREGATOR, names.SERVICE_INDEXER)
CONSUMED = {
    names.SERVICE_PARSER: ("raw",),
    names.SERVICE_AGGREGATOR: ("parsed", "tasks"),
    names.SERVICE_INDEXER: ("parsed", "aggregated"),
}


def status(pipeline_path: Path, kafka: str, endpoints: dict[str, list[int]]) -> dict:
    """`streamstash status --json`, told where each instance serves /metrics."""
    argv = [
        sys.executable,
        "-m",
        "streamstash.services.cli",
        "status",
        "--json",
        "--config",
        str(pipeline_path),
        "--kafka",
        kafka,
    ]
    for service, ports in endpoints.items():
        argv += [arg for port in ports for arg in ("--metrics", f"{service}=127.0.0.1:{port}")]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return {entry["service"]: entry for entry in json.loads(done.stdout)["services"]}


@pytest.mark.timeout(600)
def test_two_instances_of_each_service_split_the_work_and_the_output_stays_exact(
    servers, es: Elasticsearch, tmp_path: Path, log_dir: Path
) -> None:
    files = [tmp_path / f"access-{number}.log" for number in range(FILES)]
    # The files stay empty until the consumers have split the partitions.
    pipeline = access_pipeline(tmp_path, files, EVERY, partitions=PARTITIONS)
    topics = pipeline.topics
    create_topics(pipeline, servers.kafka)
    instances = {
        service: [
            ServiceProcess(
                service, pipeline.path, servers.kafka, servers.elasticsearch, log_dir, name=f"{service}-{number}"
            )
            for number in (1, 2)
        ]
        for service in SCALED
    }
    collector = ServiceProcess("collector", pipeline.path, servers.kafka, servers.elasticsearch, log_dir)
    try:
        ports = {service: [serving_port(process) for process in processes] for service, processes in instances.items()}

        # Both instances of each service in their group, each owning partitions, before any line arrives.
        def split() -> bool:
            for service in SCALED:
                if not all(probe(port, "/readyz")[0] == 200 for port in ports[service]):
                    return False
            owned = [total(scrape(port), "streamstash_aggregator_owned_partitions") for port in ports["aggregator"]]
            return min(owned) >= 1 and sum(owned) == PARTITIONS

        wait_until(split, timeout=180, interval=1, message="the instances never split the partitions")
        members = status(pipeline.path, servers.kafka, ports)
        assert {service: members[service]["instances"] for service in SCALED} == dict.fromkeys(SCALED, 2)

        write_lines(files, 0, LINES, TASKS)
        wait_for_count(es, pipeline.index, LINES, timeout=240)
        wait_for_count(es, pipeline.aggregate_index, LINES // EVERY, timeout=120)
        assert_service_metrics(collector.http_port, "collector", sent=LINES, failed=0, dropped=0)

        shares = {}
        for service in SCALED:
            # Each instance did part of the work, and reports lag only for its own partitions.
            reported = []
            for port in ports[service]:
                samples = assert_service_metrics(port, service, failed=0)
                shares[(service, port)] = total(samples, "streamstash_events_received_total", service=service)
                reported.append(set(lag_by_partition(samples, service)))
            all_partitions = {(getattr(topics, kind), str(p)) for kind in CONSUMED[service] for p in range(PARTITIONS)}
            assert reported[0] | reported[1] == all_partitions, (service, reported)
            assert not reported[0] & reported[1], f"{service}: both instances report the same partitions"
        assert all(share > 0 for share in shares.values()), shares

        def received_on(service: str, topic: str) -> float:
            return sum(total(scrape(port), "streamstash_events_received_total", topic=topic) for port in ports[service])

        # The shares add up to the input exactly: no record was handled by both instances.
        assert received_on("parser", topics.raw) == LINES
        assert received_on("aggregator", topics.parsed) == LINES
        assert received_on("indexer", topics.parsed) == LINES
        assert received_on("indexer", topics.aggregated) == LINES // EVERY
        totals = status(pipeline.path, servers.kafka, ports)
        assert totals["parser"]["events_in"] == LINES
        assert totals["indexer"]["events_out"] == LINES + LINES // EVERY
    finally:
        stop_all([collector, *(process for processes in instances.values() for process in processes)])
    assert count(es, pipeline.index) == LINES
    assert_aggregates_exact(es, pipeline.aggregate_index, LINES, TASKS, EVERY)
