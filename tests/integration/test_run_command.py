"""`streamstash run`: one command starts the stack (unless configured), topics and four services, and stops them."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from streamstash.stack.manager import LocalStack
from tests.conftest import session_engine
from tests.helpers.elastic import count, wait_for_count
from tests.helpers.pipelines import write_pipeline
from tests.helpers.waiting import wait_until

pytestmark = pytest.mark.integration

TUTORIAL_LOG = Path(__file__).resolve().parents[2] / "examples" / "data" / "logstash-tutorial.log"
FILTERS = [
    {"grok": {"match": {"message": ["%{COMBINEDAPACHELOG}"]}}},
    {"date": {"match": ["timestamp", "dd/MMM/yyyy:HH:mm:ss Z"]}},
]


def start_run(pipeline_path: Path, log_path: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "streamstash.services.cli", "run", "--config", str(pipeline_path)],
        stdout=log_path.open("wb"),
        stderr=subprocess.STDOUT,
        env=env,
    )


def children_of(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False).stdout
    return [int(line) for line in out.split()]


def test_run_with_configured_servers_indexes_and_stops_cleanly(servers, es: Elasticsearch, tmp_path: Path) -> None:
    log_file = tmp_path / "access.log"
    shutil.copy(TUTORIAL_LOG, log_file)
    pipeline = write_pipeline(
        tmp_path,
        {
            "inputs": [{"type": "file", "paths": [str(log_file)], "start_position": "beginning"}],
            "filters": FILTERS,
            "stack": {"data_dir": str(tmp_path / "must-not-start")},
        },
    )
    env = {**os.environ, "STREAMSTASH_KAFKA": servers.kafka, "STREAMSTASH_ELASTICSEARCH": servers.elasticsearch}
    run = start_run(pipeline.path, tmp_path / "run.log", env)
    try:
        wait_for_count(es, pipeline.index, 100, timeout=150)
        state = json.loads((Path(pipeline.config.state_dir) / "run.json").read_text())
        assert sorted(state) == ["aggregator", "collector", "indexer", "parser"]
        services = children_of(run.pid)
        assert len(services) == 4, services
    finally:
        run.send_signal(signal.SIGTERM)
        code = run.wait(timeout=90)
    log = (tmp_path / "run.log").read_text(errors="replace")
    assert code == 0, log[-3000:]
    assert all(not Path(f"/proc/{pid}").exists() for pid in services), "a service outlived `run`"
    assert not (tmp_path / "must-not-start").exists(), "run started a local stack although servers were configured"
    assert count(es, pipeline.index) == 100


# The stand-in is always part of the default run: `make run` on a machine without Java runs on it.
@pytest.mark.parametrize("engine", sorted({"standin", session_engine()}))
def test_run_without_servers_starts_the_local_stack(engine: str, tmp_path: Path) -> None:
    log_file = tmp_path / "access.log"
    log_file.write_bytes(b"".join(TUTORIAL_LOG.read_bytes().splitlines(keepends=True)[1:11]))
    stack_dir = tmp_path / "stack"
    pipeline = write_pipeline(
        tmp_path,
        {
            "inputs": [{"type": "file", "paths": [str(log_file)], "start_position": "beginning"}],
            "filters": FILTERS,
            "stack": {"data_dir": str(stack_dir)},
        },
    )
    unset = ("STREAMSTASH_KAFKA", "STREAMSTASH_ELASTICSEARCH", "STREAMSTASH_KAFKA_STANDIN")
    env = {key: value for key, value in os.environ.items() if key not in unset}
    env["STREAMSTASH_STACK"] = engine
    run = start_run(pipeline.path, tmp_path / "run.log", env)
    stack = LocalStack(stack_dir)
    try:
        addresses = wait_until(stack.status, timeout=60, message="run did not start the local stack")
        client = Elasticsearch(addresses.elasticsearch)
        wait_for_count(client, pipeline.index, 10, timeout=150)
        client.close()
    finally:
        run.send_signal(signal.SIGINT)
        code = run.wait(timeout=90)
        output = (tmp_path / "run.log").read_text(errors="replace")
        stack.down()
    assert code == 0, output[-3000:]
    assert "local stack: kafka" in output and "stack down" in output
    assert ("Apache Kafka 4." if engine == "apache" else "noida-db") in output.split("local stack: kafka", 1)[1]
