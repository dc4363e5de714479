"""Exactness of the aggregator's state: two instances splitting the tasks, `kill -9` mid-stream and a
restart (with the indexer writing to Elasticsearch), and a replay of `logs.raw` giving the same aggregates.
Each compares with the straight computation over the input lines."""

from __future__ import annotations

import json
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from elasticsearch import Elasticsearch

from streamstash.config import load_pipeline
from streamstash.events.timeformats import format_iso8601, parse_iso8601
from tests.helpers.elastic import all_documents, count, wait_for_count
from tests.helpers.kafka import produce_batches
from tests.helpers.pipelines import write_pipeline
from tests.helpers.processes import ServiceProcess, stop_all
from tests.helpers.waiting import wait_until
from tests.integration.aggregator.support import (
    aggregates_by_id,
    create_topics,
    feed_parsed,
    feed_parsed_slowly,
    metric,
    serving_port,
    start,
)
from tests.integration.aggregator.tasklog import (
    expected_every,
    issue_pipeline,
    parsed_events,
    raw_batches,
    task_lines,
)

pytestmark = pytest.mark.integration


def folded_by(port: int, topic: str) -> float:
    return metric(port, "streamstash_events_received_total", topic=topic)


@pytest.mark.timeout(600)
def test_two_instances_split_the_tasks(servers, tmp_path: Path, log_dir: Path) -> None:
    lines = task_lines(6000, seed=2, tasks=60)
    expected = expected_every(lines, 4)
    pipeline = write_pipeline(tmp_path, issue_pipeline(every="4"), partitions=4)
    create_topics(pipeline, servers.kafka)
    instances = [
        ServiceProcess(
            "aggregator", pipeline.path, servers.kafka, servers.elasticsearch, log_dir, name=f"aggregator-{number}"
        )
        for number in (1, 2)
    ]
    try:
        ports = [serving_port(instance) for instance in instances]

        def split() -> bool:
            owned = [metric(port, "streamstash_aggregator_owned_partitions") for port in ports]
            return sum(owned) == 4 and min(owned) >= 1

        wait_until(split, timeout=90, message="the two instances never split the partitions")
        feed_parsed(servers.kafka, pipeline, parsed_events(lines), per_record=100)
        wait_until(
            lambda: sum(folded_by(port, pipeline.topics.tasks) for port in ports) >= len(lines),
            timeout=120,
            message="the instances did not fold every event",
        )
        shares = [folded_by(port, pipeline.topics.tasks) for port in ports]
    finally:
        # Both at once: stopped one after the other, the second is mid-rebalance when its SIGTERM comes
        # and then takes the whole drain timeout (30 s) to stop; that is test_shutdown's subject, not this.
        with ThreadPoolExecutor(len(instances)) as pool:
            list(pool.map(ServiceProcess.stop, instances))
    assert all(share > 0 for share in shares), shares
    emitted = aggregates_by_id(servers.kafka, pipeline)
    assert set(emitted) == set(expected)
    for aggregate_id, want in expected.items():
        assert emitted[aggregate_id].fields["count"] == want.count
        assert emitted[aggregate_id].fields["elapsedAvg"] == pytest.approx(want.average)


@pytest.mark.timeout(600)
@pytest.mark.parametrize("local_state", ["kept", "lost"])
def test_kill_9_mid_stream_then_restart_loses_and_doubles_nothing(
    servers, es: Elasticsearch, tmp_path: Path, log_dir: Path, local_state: str
) -> None:
    """``lost``: the killed instance's RocksDB files are deleted too, so the state comes from the changelog."""
    lines = task_lines(12_000, seed=9, tasks=30)
    expected = expected_every(lines, 3)
    pipeline = write_pipeline(tmp_path, issue_pipeline(every="3"))
    create_topics(pipeline, servers.kafka)
    events = parsed_events(lines, per_record=50)
    aggregator, indexer = start(["aggregator", "indexer"], pipeline, servers, log_dir)
    restarted: list[ServiceProcess] = []
    feeder = threading.Thread(target=feed_parsed_slowly, args=(servers.kafka, pipeline, events))
    try:
        serving_port(aggregator)  # up and serving before the stream starts
        feeder.start()
        wait_for_count(es, pipeline.aggregate_index, len(expected) // 5, timeout=240)
        assert feeder.is_alive(), "the stream ended before the kill: the test would prove nothing"
        aggregator.kill9()
        if local_state == "lost":
            tables = list((pipeline.config.state_dir / "aggregator").glob("slot-*/v1/tables"))
            assert tables, "no RocksDB files where the killed instance kept its state"
            for directory in tables:
                shutil.rmtree(directory)
        restarted = [
            ServiceProcess(
                "aggregator", pipeline.path, servers.kafka, servers.elasticsearch, log_dir, name="aggregator-restarted"
            )
        ]
        feeder.join()
        port = serving_port(restarted[0])
        # The restarted instance re-reads what was not committed: every event reaches it again or was folded.
        wait_until(lambda: folded_by(port, pipeline.topics.tasks) > 0, timeout=120)
        # It resumed with the killed instance's open tasks (30 tasks, every 3: some are always open),
        # from its RocksDB files or, when they were deleted, from the changelog alone.
        assert _open_tasks_at_start(restarted[0]) > 0, "the restarted instance started without the state"
        wait_for_count(es, pipeline.aggregate_index, len(expected), timeout=240)
        wait_until(
            lambda: (
                metric(port, "streamstash_events_received_total", topic=pipeline.topics.parsed)
                and not _growing(port, pipeline.topics.parsed)
            ),
            timeout=120,
            message="still re-keying",
        )
    finally:
        if feeder.is_alive():
            feeder.join()
        stop_all([*restarted, indexer, aggregator])
    documents = {doc["_id"]: doc for doc in all_documents(es, pipeline.aggregate_index, size=10_000)}
    assert count(es, pipeline.aggregate_index) == len(expected)
    assert set(documents) == set(expected)
    for doc_id, want in expected.items():
        assert documents[doc_id]["count"] == want.count, doc_id
        assert documents[doc_id]["elapsedAvg"] == pytest.approx(want.average), doc_id
        assert documents[doc_id]["@timestamp"] == want.timestamp
    assert count(es, pipeline.index) == 0


@pytest.mark.timeout(600)
def test_an_instance_joining_and_leaving_mid_stream_loses_and_doubles_nothing(
    servers, tmp_path: Path, log_dir: Path
) -> None:
    """Rebalances while the first instance is busy reading and committing: every event is folded exactly once.

    With the stand-in, a commit sent while the newcomer joins is answered ILLEGAL_GENERATION; the busy
    instance then rejoins under a new member id, and the whole group stalled on its old one until that id
    was made to leave (membership.py). Records Faust dropped in those rebalances are read again
    (faust_consumer.py). Whether the newcomer gets partitions before it is stopped is up to the broker
    (the stand-in may leave it out of the assignment); the first instance must go on either way.
    """
    lines = task_lines(12_000, seed=4, tasks=30)
    expected = expected_every(lines, 3)
    pipeline = write_pipeline(tmp_path, issue_pipeline(every="3"))
    create_topics(pipeline, servers.kafka)
    events = parsed_events(lines, per_record=50)
    first = ServiceProcess("aggregator", pipeline.path, servers.kafka, servers.elasticsearch, log_dir, name="first")
    newcomer: ServiceProcess | None = None
    feeder = threading.Thread(
        target=feed_parsed_slowly, args=(servers.kafka, pipeline, events), kwargs={"per_round": 300}
    )
    try:
        port = serving_port(first)
        feeder.start()
        wait_until(lambda: folded_by(port, pipeline.topics.tasks) > 0, timeout=60)
        newcomer = ServiceProcess(
            "aggregator", pipeline.path, servers.kafka, servers.elasticsearch, log_dir, name="newcomer"
        )
        time.sleep(3)
        assert feeder.is_alive(), "the stream ended before the rebalance: the test would prove nothing"
        wait_until(lambda: "serving metrics and health" in newcomer.log_text() or not feeder.is_alive(), timeout=120)
        newcomer.stop()
        feeder.join()
        wait_until(
            lambda: set(aggregates_by_id(servers.kafka, pipeline)) >= set(expected),
            timeout=180,
            message="aggregates missing after the rebalances",
        )
    finally:
        if feeder.is_alive():
            feeder.join()
        stop_all([process for process in (newcomer, first) if process is not None])
    emitted = aggregates_by_id(servers.kafka, pipeline)
    assert set(emitted) == set(expected)
    for aggregate_id, want in expected.items():
        assert emitted[aggregate_id].fields["count"] == want.count, aggregate_id
        assert emitted[aggregate_id].fields["elapsedAvg"] == pytest.approx(want.average), aggregate_id


def _open_tasks_at_start(process: ServiceProcess) -> int:
    """Open tasks the instance found in its table when it first handled a record (its first rebuild)."""
    for line in process.log_text().splitlines():
        if '"rebuilt open-task index from the table"' in line:
            return int(json.loads(line)["open_tasks"])
    raise AssertionError(f"{process.name} never rebuilt its open-task index")


def _growing(port: int, topic: str) -> bool:
    before = folded_by(port, topic)
    time.sleep(2)
    return folded_by(port, topic) != before


REPLAY_AGGREGATIONS = [
    {
        "name": "every5",
        "task_id": "%{action}_%{progress}",
        "metrics": {"avg": {"type": "avg", "field": "elapsed"}, "p": {"type": "percentiles", "field": "elapsed"}},
        "flush": {"every": 5},
    },
    {
        "name": "per_10s",
        "task_id": "%{action}",
        "metrics": {
            "n": {"type": "count"},
            "high": {"type": "max", "field": "elapsed"},
            "hosts": {"type": "distinct", "field": "progress"},
        },
        "flush": {"window": {"size": "10s", "advance": "5s"}, "allowed_lateness": "1s"},
    },
    {
        "name": "quiet",
        "task_id": "%{action}_%{progress}",
        "metrics": {"n": {"type": "count"}},
        "flush": {"inactivity_timeout": "150ms", "total_timeout": "3s"},
    },
]


def shifted(line: str, seconds: float) -> str:
    stamp, rest = line.split(" ", 1)
    moment = parse_iso8601(stamp)
    assert moment is not None
    return f"{format_iso8601(moment + timedelta(seconds=seconds))} {rest}"


@pytest.mark.timeout(600)
def test_replay_of_the_raw_topic_gives_the_same_aggregates(servers, tmp_path: Path, log_dir: Path) -> None:
    lines = task_lines(4000, seed=4, tasks=8, step_ms=7)
    # Now and then a line from half a minute ago, far beyond the allowed lateness: late aggregates too.
    lines = [shifted(line, -30) if index % 97 == 50 else line for index, line in enumerate(lines)]
    body = {**issue_pipeline(), "aggregations": REPLAY_AGGREGATIONS}
    first = write_pipeline(tmp_path / "first" if (tmp_path / "first").mkdir() is None else tmp_path, body)
    create_topics(first, servers.kafka)
    produce_batches(servers.kafka, first.topics.raw, raw_batches(lines, per_record=40))

    def run(pipeline, label: str) -> dict:
        services = [
            ServiceProcess(
                service, pipeline.path, servers.kafka, servers.elasticsearch, log_dir, name=f"{service}-{label}"
            )
            for service in ("parser", "aggregator")
        ]
        try:
            port = serving_port(services[1])
            wait_until(
                lambda: metric(port, "streamstash_events_received_total", topic=pipeline.topics.parsed) >= len(lines),
                timeout=120,
                message="the aggregator did not receive every line",
            )
            wait_until(
                lambda: folded_by(port, pipeline.topics.tasks) >= 3 * len(lines),
                timeout=120,
                message="the aggregator did not fold every line",
            )
        finally:
            stop_all(services)
        return {
            event_id: (event.timestamp, event.tags, event.fields)
            for event_id, event in aggregates_by_id(servers.kafka, pipeline).items()
        }

    original = run(first, "first")
    # The replay: the same raw topic, everything else new (consumer groups, topics, state).
    (tmp_path / "replay").mkdir()
    replay = write_pipeline(tmp_path / "replay", body)
    document = yaml.safe_load(replay.path.read_text())
    document["kafka"]["topics"]["raw"] = first.topics.raw
    replay.path.write_text(yaml.safe_dump(document, sort_keys=False))
    replay.config = load_pipeline(replay.path, env={})
    create_topics(replay, servers.kafka)
    again = run(replay, "replay")
    reasons = {fields["flush_reason"] for _, _, fields in original.values()}
    assert {"every", "window", "late", "inactivity"} <= reasons, reasons
    assert again == original
