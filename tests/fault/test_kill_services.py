"""kill -9 of each service in turn mid-stream, then a restart: every line indexed exactly once and the
aggregates exact. The services must recover from Kafka offsets, checkpoints and changelogs alone."""

from __future__ import annotations

from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from tests.fault.support import (
    ALL_SERVICES,
    EVERY,
    append,
    assert_aggregates_exact,
    assert_exactly_once,
    assert_nothing_lost,
    lines_for,
    task_pipeline_body,
)
from tests.helpers.elastic import count, wait_for_count
from tests.helpers.pipelines import write_pipeline
from tests.helpers.processes import ServiceProcess, stop_all
from tests.helpers.waiting import wait_until
from tests.integration.aggregator.support import create_topics, serving_port
from tests.integration.aggregator.tasklog import expected_every

pytestmark = [pytest.mark.integration, pytest.mark.fault]

FIRST_HALF = 1500
SECOND_HALF = 1500


# All four run by default (~15 s each): a restarted consumer-group member no longer waits out its dead
# predecessor's session, it makes that member leave first (streamstash.kafka.membership).
@pytest.mark.parametrize("victim", ALL_SERVICES)
def test_kill_9_mid_stream_then_restart(victim: str, servers, es: Elasticsearch, tmp_path: Path, log_dir: Path) -> None:
    log_file = tmp_path / "tasks.log"
    lines = lines_for(FIRST_HALF + SECOND_HALF, seed=hash(victim) % 1000)
    append(log_file, lines[:FIRST_HALF])
    pipeline = write_pipeline(tmp_path, task_pipeline_body(log_file))
    create_topics(pipeline, servers.kafka)
    services = {
        name: ServiceProcess(name, pipeline.path, servers.kafka, servers.elasticsearch, log_dir)
        for name in ALL_SERVICES
    }
    try:
        for process in services.values():
            serving_port(process)
        # Mid-stream: some lines are through, the victim is holding uncommitted work.
        wait_until(
            lambda: count(es, pipeline.index) >= 200 or None, timeout=180, message="no documents before the kill"
        )
        services[victim].kill9()
        append(log_file, lines[FIRST_HALF:])
        services[victim] = ServiceProcess(
            victim, pipeline.path, servers.kafka, servers.elasticsearch, log_dir, name=f"{victim}-restarted"
        )
        serving_port(services[victim])
        wait_for_count(es, pipeline.index, len(lines), timeout=180)
        wait_for_count(es, pipeline.aggregate_index, len(expected_every(lines, EVERY)), timeout=120)
        assert_nothing_lost(services.values())
    finally:
        stop_all(list(services.values()))
    assert_exactly_once(es, pipeline.index, lines)
    assert_aggregates_exact(es, pipeline.aggregate_index, lines)
