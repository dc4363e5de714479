"""The whole local stack restarted mid-stream (its own instance, not the session's; Apache Kafka or the
stand-in, as the run's engine): the services ride out the gap and every line ends up indexed exactly once,
the aggregates exact."""

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

# Its own stand-in plus four services, yet ~10 s once nothing is lost at the restart: part of the default run.
pytestmark = [pytest.mark.integration, pytest.mark.fault]


def test_stack_restart_mid_stream_loses_and_duplicates_nothing(own_stack, tmp_path: Path, log_dir: Path) -> None:
    stack, addresses = own_stack()
    log_file = tmp_path / "tasks.log"
    lines = lines_for(3000, seed=11)
    append(log_file, lines[:1500])
    pipeline = write_pipeline(tmp_path, task_pipeline_body(log_file))
    create_topics(pipeline, addresses.kafka)
    es = Elasticsearch(addresses.elasticsearch, request_timeout=30)
    services = [
        ServiceProcess(name, pipeline.path, addresses.kafka, addresses.elasticsearch, log_dir) for name in ALL_SERVICES
    ]
    try:
        for process in services:
            serving_port(process)
        wait_until(
            lambda: count(es, pipeline.index) >= 200 or None, timeout=180, message="no documents before the restart"
        )
        restarted = stack.restart()
        assert (restarted.kafka, restarted.elasticsearch) == (addresses.kafka, addresses.elasticsearch)
        append(log_file, lines[1500:])
        wait_for_count(es, pipeline.index, len(lines), timeout=180)
        wait_for_count(es, pipeline.aggregate_index, len(expected_every(lines, EVERY)), timeout=120)
        assert all(process.alive() for process in services)
        assert_nothing_lost(services)
    finally:
        stop_all(services)
    assert_exactly_once(es, pipeline.index, lines)
    assert_aggregates_exact(es, pipeline.aggregate_index, lines)
    es.close()
