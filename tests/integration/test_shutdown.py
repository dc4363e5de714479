"""Graceful shutdown of every service while lines keep coming.

First SIGTERM: each service drains what it holds, commits, and exits 0 within `shutdown_timeout_s`;
restarted, the pipeline goes on where it stopped: nothing read twice (no duplicate in any topic, no
document written twice). A second signal right after the first: the service exits at once (code
130), without draining or leaving its consumer group; restarted, it hands that membership over
(streamstash.kafka.membership), reads again what it had not committed, and the end result in
Elasticsearch is exact: nothing lost, nothing doubled.
"""

from __future__ import annotations

import signal
import time
from collections import Counter
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from streamstash import names
from streamstash.config import PipelineConfig
from streamstash.runtime.service import EXIT_AT_ONCE
from tests.helpers.elastic import count, wait_for_count
from tests.helpers.kafka import read_events
from tests.helpers.processes import ServiceProcess, stop_all
from tests.helpers.waiting import wait_until
from tests.integration.aggregator.support import create_topics, serving_port
from tests.integration.indexer.support import document_versions
from tests.integration.opsdata import (
    LineWriter,
    access_pipeline,
    assert_aggregates_exact,
    received,
)

pytestmark = pytest.mark.integration

SHUTDOWN_TIMEOUT_S = PipelineConfig.model_fields["shutdown_timeout_s"].default
TASKS = 10
EVERY = 20


def log_messages(process: ServiceProcess) -> list[str]:
    return [line for line in process.log_text().splitlines() if '"msg":' in line]


def duplicates(values: list) -> dict:
    return {value: seen for value, seen in Counter(values).items() if seen > 1}


@pytest.mark.timeout(600)
def test_sigterm_drains_every_service_and_a_second_signal_exits_at_once(
    servers, es: Elasticsearch, tmp_path: Path, log_dir: Path
) -> None:
    log_file = tmp_path / "access.log"
    pipeline = access_pipeline(tmp_path, [log_file], EVERY)
    create_topics(pipeline, servers.kafka)
    writer = LineWriter([log_file], TASKS, lines_per_second=200)

    def start_all(generation: int) -> dict[str, ServiceProcess]:
        started = {
            service: ServiceProcess(
                service, pipeline.path, servers.kafka, servers.elasticsearch, log_dir, name=f"{service}-{generation}"
            )
            for service in names.SERVICES
        }
        for process in started.values():
            serving_port(process)  # signal handlers are installed by now
        return started

    def wait_mid_stream(processes: dict[str, ServiceProcess]) -> None:
        for service, process in processes.items():
            port = process.http_port
            before = received(port, service)
            wait_until(
                lambda port=port, service=service, before=before: received(port, service) > before,
                timeout=90,
                message=f"{service} is not in mid-stream",
            )

    running = start_all(1)
    try:
        writer.start()
        wait_mid_stream(running)

        # 1. SIGTERM in mid-stream: each service drains, commits and exits 0 within the bound.
        signalled = time.monotonic()
        for process in running.values():
            process.process.send_signal(signal.SIGTERM)
        for service, process in running.items():
            code = process.wait_exit(SHUTDOWN_TIMEOUT_S + 30)
            took = time.monotonic() - signalled
            assert code == 0, f"{service} exited {code} after SIGTERM:\n" + "\n".join(log_messages(process)[-20:])
            assert took < SHUTDOWN_TIMEOUT_S, f"{service} took {took:.1f}s to stop"
            assert any('"msg":"stopped"' in line for line in log_messages(process)), f"{service} did not drain"

        # 2. Restarted, they go on where they stopped: what the graceful stops had done, they had
        # committed, so nothing was read or written twice.
        running = start_all(2)
        wait_mid_stream(running)
        raw = read_events(servers.kafka, pipeline.topics.raw)
        assert not duplicates([event.source.offset for event in raw]), "the collector sent lines twice"
        parsed = read_events(servers.kafka, pipeline.topics.parsed)
        assert not duplicates([event.id for event in parsed]), "the parser handled raw records twice"
        aggregated = read_events(servers.kafka, pipeline.topics.aggregated)
        assert not duplicates([event.id for event in aggregated]), "the aggregator emitted aggregates twice"
        rewritten = {doc: version for doc, version in document_versions(es, pipeline.index).items() if version > 1}
        assert not rewritten, f"{len(rewritten)} documents indexed twice"

        # 3. SIGTERM, then SIGINT right after it, in mid-stream: every service exits at once.
        for process in running.values():
            process.process.send_signal(signal.SIGTERM)
            process.process.send_signal(signal.SIGINT)
            signalled = time.monotonic()
            code = process.wait_exit(10)
            took = time.monotonic() - signalled
            assert code == EXIT_AT_ONCE, f"{process.name} exited {code}:\n" + "\n".join(log_messages(process)[-20:])
            assert took < 2, f"{process.name} took {took:.1f}s to exit on a second signal"

        # 4. Restarted after exiting at once: the uncommitted work is read again, the end result exact.
        running = start_all(3)
        lines = writer.finish(TASKS * EVERY)
        wait_for_count(es, pipeline.index, lines, timeout=240)
        wait_for_count(es, pipeline.aggregate_index, lines // EVERY, timeout=120)
    finally:
        writer.finish()
        stop_all(list(running.values()))

    assert count(es, pipeline.index) == lines
    # Re-reading after the exit at once may repeat records in the topics, never lose one.
    raw = read_events(servers.kafka, pipeline.topics.raw)
    assert len({event.source.offset for event in raw}) == lines, "lines missing from the raw topic"
    parsed = read_events(servers.kafka, pipeline.topics.parsed)
    assert len({event.id for event in parsed}) == lines, "lines missing from the parsed topic"
    assert_aggregates_exact(es, pipeline.aggregate_index, lines, TASKS, EVERY)
