"""Graceful shutdown of every service while lines keep coming.

First SIGTERM: the service drains what it holds, commits, and exits 0 within `shutdown_timeout_s`;
restarted, it goes on where it stopped, so nothing is read twice (no duplicate in any topic, no
document written twice) and nothing is lost. A second signal right after the first: the service
exits at once (code 130); after a restart whatever it had not committed is read again, and the
end result in Elasticsearch is still exact.
"""

from __future__ import annotations

import signal
import time
from collections import Counter
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from streamstash import names
from streamstash.runtime import EXIT_AT_ONCE
from tests.helpers.elastic import count, wait_for_count
from tests.helpers.kafka import read_events
from tests.helpers.pipelines import write_pipeline
from tests.helpers.processes import ServiceProcess, stop_all
from tests.helpers.waiting import wait_until
from tests.integration.aggregator.support import create_topics, serving_port
from tests.integration.indexer.support import document_versions
from tests.integration.opsdata import FILTERS, LineWriter, aggregations, assert_aggregates_exact, received

pytestmark = pytest.mark.integration

SHUTDOWN_TIMEOUT_S = 20
TASKS = 10
EVERY = 20
# The order matters only for the log: downstream services first, so each restart meets a backlog.
ROLLING_ORDER = (names.SERVICE_INDEXER, names.SERVICE_AGGREGATOR, names.SERVICE_PARSER, names.SERVICE_COLLECTOR)


def log_messages(process: ServiceProcess) -> list[str]:
    return [line for line in process.log_text().splitlines() if '"msg":' in line]


def duplicates(values: list) -> dict:
    return {value: seen for value, seen in Counter(values).items() if seen > 1}


@pytest.mark.timeout(600)
def test_sigterm_drains_every_service_and_a_second_signal_exits_at_once(servers, es: Elasticsearch, tmp_path: Path,
                                                                        log_dir: Path) -> None:
    log_file = tmp_path / "access.log"
    log_file.touch()
    pipeline = write_pipeline(tmp_path, {
        "inputs": [{"type": "file", "paths": [str(log_file)], "start_position": "beginning", "poll_interval_ms": 50}],
        "filters": FILTERS,
        "aggregations": aggregations(EVERY),
        "shutdown_timeout_s": SHUTDOWN_TIMEOUT_S,
    })
    create_topics(pipeline, servers.kafka)
    writer = LineWriter([log_file], TASKS, lines_per_second=200)

    def start(service: str, generation: int) -> ServiceProcess:
        return ServiceProcess(service, pipeline.path, servers.kafka, servers.elasticsearch, log_dir,
                              name=f"{service}-{generation}")

    running = {service: start(service, 1) for service in names.SERVICES}
    try:
        for process in running.values():
            serving_port(process)
        writer.start()
        wait_for_count(es, pipeline.index, 1, timeout=180)

        # 1. One service at a time: SIGTERM in mid-stream, a clean exit in time, a restart.
        for service in ROLLING_ORDER:
            process = running[service]
            port = process.http_port
            before = received(port, service)
            wait_until(lambda: received(port, service) > before, timeout=60,  # noqa: B023
                       message=f"{service} is not in mid-stream")
            signalled = time.monotonic()
            process.process.send_signal(signal.SIGTERM)
            code = process.wait_exit(SHUTDOWN_TIMEOUT_S + 30)
            took = time.monotonic() - signalled
            assert code == 0, f"{service} exited {code} after SIGTERM:\n" + "\n".join(log_messages(process)[-20:])
            assert took < SHUTDOWN_TIMEOUT_S, f"{service} took {took:.1f}s to stop"
            assert any('"msg":"stopped"' in line for line in log_messages(process)), f"{service} did not drain"
            running[service] = start(service, 2)
            serving_port(running[service])

        # Graceful stops committed what they had done: nothing was read or written twice so far.
        wait_until(lambda: count(es, pipeline.index) >= writer.written // 2, timeout=120,
                   message="the restarted pipeline does not make progress")
        raw = read_events(servers.kafka, pipeline.topics.raw, timeout=4)
        assert not duplicates([event.source.offset for event in raw]), "the collector sent lines twice"
        parsed = read_events(servers.kafka, pipeline.topics.parsed, timeout=4)
        assert not duplicates([event.id for event in parsed]), "the parser handled raw records twice"
        aggregated = read_events(servers.kafka, pipeline.topics.aggregated, timeout=4)
        assert not duplicates([event.id for event in aggregated]), "the aggregator emitted aggregates twice"
        rewritten = {doc: version for doc, version in document_versions(es, pipeline.index).items() if version > 1}
        assert not rewritten, f"{len(rewritten)} documents indexed twice"

        # 2. Every service at once: SIGTERM, then SIGINT right after it; each must exit at once.
        for process in running.values():
            process.http_port  # noqa: B018 - started for real (handlers installed), not still importing
        for process in running.values():
            process.process.send_signal(signal.SIGTERM)
            process.process.send_signal(signal.SIGINT)
            signalled = time.monotonic()
            code = process.wait_exit(10)
            took = time.monotonic() - signalled
            assert code == EXIT_AT_ONCE, f"{process.name} exited {code}:\n" + "\n".join(log_messages(process)[-20:])
            assert took < 2, f"{process.name} took {took:.1f}s to exit on a second signal"
        running = {service: start(service, 3) for service in names.SERVICES}
        for process in running.values():
            serving_port(process)

        lines = writer.finish(TASKS * EVERY)
        wait_for_count(es, pipeline.index, lines, timeout=240)
        wait_for_count(es, pipeline.aggregate_index, lines // EVERY, timeout=120)
    finally:
        writer.finish()
        stop_all(list(running.values()))
    assert count(es, pipeline.index) == lines
    assert_aggregates_exact(es, pipeline.aggregate_index, lines, TASKS, EVERY)
