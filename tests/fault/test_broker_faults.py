"""The Kafka broker taken away mid-stream while all four services run (a private stack of the run's engine):
kill -9 then a restart, or a SIGTERM stop then a start, Elasticsearch untouched. The services ride out the
gap; every line ends up indexed exactly once and every aggregate is exact."""

from __future__ import annotations

from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from tests.conftest import session_engine
from tests.fault.support import (
    ALL_SERVICES,
    EVERY,
    append,
    assert_aggregates_exact,
    assert_exactly_once,
    lines_for,
    task_pipeline_body,
)
from tests.helpers.elastic import count, wait_for_count
from tests.helpers.metrics import ready
from tests.helpers.pipelines import write_pipeline
from tests.helpers.processes import ServiceProcess, stop_all
from tests.helpers.waiting import wait_until
from tests.integration.aggregator.support import create_topics, serving_port
from tests.integration.aggregator.tasklog import expected_every
from tests.integration.collector.support import wait_seconds

pytestmark = [pytest.mark.integration, pytest.mark.fault]

OUTAGE_S = 5.0


# A clean stop and start of Kafka alone is in the default suite through the collector's outage and readiness
# tests; with all four services it goes with the slow tests, to keep the default suite short.
@pytest.mark.parametrize("hard", [True, pytest.param(False, marks=pytest.mark.slow)], ids=["kill9", "sigterm"])
def test_broker_gone_mid_stream_then_back_loses_and_doubles_nothing(
    hard: bool,
    own_stack,
    tmp_path: Path,
    log_dir: Path,
) -> None:
    if hard and session_engine() == "standin":
        pytest.skip("the stand-in serves Kafka and Elasticsearch in one process: no kill -9 of Kafka alone")
    stack, addresses = own_stack()
    log_file = tmp_path / "tasks.log"
    lines = lines_for(3000, seed=23 if hard else 29)
    append(log_file, lines[:1500])
    pipeline = write_pipeline(tmp_path, task_pipeline_body(log_file))
    create_topics(pipeline, addresses.kafka)
    es = Elasticsearch(addresses.elasticsearch, request_timeout=30)
    services = [
        ServiceProcess(name, pipeline.path, addresses.kafka, addresses.elasticsearch, log_dir) for name in ALL_SERVICES
    ]
    try:
        ports = [serving_port(process) for process in services]
        # Mid-stream: every service ready (consumers assigned) and documents flowing. A service still starting
        # is another scenario (correction 6 of faust_consumer.py, tests/integration/faust_corrections).
        wait_until(
            lambda: all(ready(port) for port in ports) or None,
            timeout=180,
            message="not every service ready before the broker went away",
        )
        wait_until(
            lambda: count(es, pipeline.index) >= 200 or None,
            timeout=180,
            message="no documents before the broker went away",
        )
        stack.stop_kafka(hard=hard)
        append(log_file, lines[1500:2200])  # read by the collector while Kafka is away: held, then sent
        wait_seconds(OUTAGE_S)  # the outage's length, not an assertion
        back = stack.start_kafka()
        assert back.kafka == addresses.kafka
        append(log_file, lines[2200:])
        wait_for_count(es, pipeline.index, len(lines), timeout=240)
        wait_for_count(es, pipeline.aggregate_index, len(expected_every(lines, EVERY)), timeout=180)
        assert all(process.alive() for process in services), "a service died while the broker was away"
    finally:
        stop_all(services)
    assert_exactly_once(es, pipeline.index, lines)
    assert_aggregates_exact(es, pipeline.aggregate_index, lines)
    es.close()
