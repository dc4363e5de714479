"""`streamstash status --json` and `streamstash top` against a pipeline started by `streamstash run`.

`run` records where each service serves /metrics (``<state_dir>/run.json``); `status` and `top` find
them there, and read instances, lag and the DLQ from Kafka. Their figures are checked against what
was fed and against Kafka itself.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from streamstash import names
from streamstash.ops.offsets import OffsetReader
from tests.helpers.elastic import wait_for_count
from tests.helpers.waiting import wait_until
from tests.integration.aggregator.support import create_topics
from tests.integration.opsdata import access_pipeline, write_lines

pytestmark = pytest.mark.integration

TASKS = 10
EVERY = 20
GOOD = 200
BAD = 5
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def cli(*args: str, env: dict[str, str], timeout: float = 120) -> str:
    argv = [sys.executable, "-m", "streamstash.services.cli", *args]
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=timeout, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def record_counts(kafka: str, settings, topic: str) -> int:
    async def read() -> int:
        async with OffsetReader(settings.model_copy(update={"bootstrap_servers": kafka})) as reader:
            ends, starts = await reader.end_offsets(topic), await reader.beginning_offsets(topic)
            return sum(ends.values()) - sum(starts.values())

    return asyncio.run(read())


@pytest.mark.timeout(600)
def test_status_and_top_show_a_running_pipeline(servers, es: Elasticsearch, tmp_path: Path) -> None:
    log_file = tmp_path / "access.log"
    write_lines([log_file], 0, GOOD, TASKS)
    with log_file.open("a") as out:
        out.write("".join(f"not an access line {number}\n" for number in range(BAD)))
    pipeline = access_pipeline(tmp_path, [log_file], EVERY, stack={"data_dir": str(tmp_path / "no-stack")})
    create_topics(pipeline, servers.kafka)
    env = {**os.environ, names.ENV_KAFKA: servers.kafka, names.ENV_ELASTICSEARCH: servers.elasticsearch}
    run_log = tmp_path / "run.log"
    argv = [sys.executable, "-m", "streamstash.services.cli", "run", "--config", str(pipeline.path)]
    run = subprocess.Popen(argv, stdout=run_log.open("wb"), stderr=subprocess.STDOUT, env=env)
    try:
        wait_for_count(es, pipeline.index, GOOD, timeout=240)
        wait_for_count(es, pipeline.aggregate_index, GOOD // EVERY, timeout=120)

        def settled() -> dict | None:
            snapshot = json.loads(cli("status", "--json", "--config", str(pipeline.path), env=env))
            by_service = {entry["service"]: entry for entry in snapshot["services"]}
            indexer = by_service[names.SERVICE_INDEXER]
            caught_up = all(entry["lag"] == 0 for entry in snapshot["services"])
            return snapshot if caught_up and indexer["events_out"] == GOOD + GOOD // EVERY else None

        snapshot = wait_until(settled, timeout=120, interval=1, message="status never showed the pipeline caught up")
        assert set(snapshot) == {"taken_at", "services", "dlq_records", "raw_records"}
        assert [entry["service"] for entry in snapshot["services"]] == list(names.SERVICES)
        by_service = {entry["service"]: entry for entry in snapshot["services"]}
        for entry in snapshot["services"]:
            assert set(entry) == {
                "service",
                "instances",
                "lag",
                "lag_by_partition",
                "events_in",
                "events_out",
                "events_failed",
                "events_dropped",
                "events_lost",
                "endpoints",
            }, entry
            assert entry["events_lost"] == 0, entry
            assert entry["instances"] == 1, entry
            assert len(entry["endpoints"]) == 1, entry
        topics = pipeline.topics
        assert by_service["collector"]["lag_by_partition"] == {}
        assert set(by_service["parser"]["lag_by_partition"]) == {f"{topics.raw}/{p}" for p in range(3)}
        assert set(by_service["indexer"]["lag_by_partition"]) == {
            f"{topic}/{p}" for topic in (topics.parsed, topics.aggregated) for p in range(3)
        }
        assert by_service["collector"]["events_out"] == GOOD + BAD
        parser = by_service["parser"]
        assert (parser["events_in"], parser["events_out"], parser["events_failed"]) == (GOOD + BAD, GOOD, BAD)
        assert by_service["indexer"]["events_in"] == GOOD + GOOD // EVERY
        dlq_records = record_counts(servers.kafka, pipeline.config.kafka, topics.dlq)
        assert dlq_records >= 1
        assert snapshot["dlq_records"] == dlq_records
        assert snapshot["raw_records"] == record_counts(servers.kafka, pipeline.config.kafka, topics.raw)

        # `top`: two refreshes of the table (the second has rates), then it exits by itself.
        screen = ANSI.sub(
            "",
            cli(
                "top",
                "--config",
                str(pipeline.path),
                "--iterations",
                "2",
                "--interval",
                "0.5",
                env={**env, "COLUMNS": "120"},
            ),
        )
        assert f"DLQ records {dlq_records}" in screen, screen
        rows = {
            line.split("│")[1].strip(): [cell.strip() for cell in line.split("│")[2:-1]]
            for line in screen.splitlines()
            if line.count("│") >= 8
        }
        for service in names.SERVICES:
            instances, _in_rate, _out_rate, lag, _failed, _dropped, lost = rows[service]
            assert instances == "1" and lag == "0" and lost == "0", (service, rows[service])
        assert rows["parser"][4] == str(BAD)
    finally:
        run.send_signal(signal.SIGTERM)
        code = run.wait(timeout=120)
    assert code == 0, run_log.read_text(errors="replace")[-3000:]
