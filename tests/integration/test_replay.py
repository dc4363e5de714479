"""`streamstash replay`: reprocess the raw topic into a new index (then alias) or the same one, exactly."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from tests.helpers.elastic import all_documents, count, wait_for_count
from tests.helpers.pipelines import write_pipeline
from tests.helpers.processes import start_services, stop_all

pytestmark = pytest.mark.integration

TUTORIAL_LOG = Path(__file__).resolve().parents[2] / "examples" / "data" / "logstash-tutorial.log"


def replay(pipeline_path: Path, servers, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streamstash.cli", "replay", "--config", str(pipeline_path), "--kafka", servers.kafka,
         "--elasticsearch", servers.elasticsearch, *args],
        capture_output=True, text=True, timeout=240, check=False)


def test_replay_into_new_index_then_same_index(servers, es: Elasticsearch, tmp_path: Path, log_dir: Path) -> None:
    log_file = tmp_path / "access.log"
    shutil.copy(TUTORIAL_LOG, log_file)
    pipeline = write_pipeline(tmp_path, {
        "inputs": [{"type": "file", "paths": [str(log_file)], "start_position": "beginning"}],
        "filters": [{"grok": {"match": {"message": ["%{COMBINEDAPACHELOG}"]}}}],
    }, partitions=2)
    services = start_services(["collector", "parser", "indexer"], pipeline.path, servers.kafka,
                              servers.elasticsearch, log_dir)
    try:
        wait_for_count(es, pipeline.index, 100, timeout=120)
    finally:
        stop_all(services)
    live_ids = {doc["_id"] for doc in all_documents(es, pipeline.index)}

    new_index = f"{pipeline.prefix}-replayed"
    alias = f"{pipeline.prefix}-current"
    result = replay(pipeline.path, servers, "--from", "earliest", "--index", new_index, "--alias", alias,
                    "--group", f"{pipeline.prefix}-r1")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    assert "finished" in result.stdout
    assert count(es, new_index) == 100
    assert {doc["_id"] for doc in all_documents(es, new_index)} == live_ids
    assert list(es.indices.get_alias(name=alias)) == [new_index]

    result = replay(pipeline.path, servers, "--from", "earliest", "--group", f"{pipeline.prefix}-r2")
    assert result.returncode == 0, result.stderr[-4000:]
    assert count(es, pipeline.index) == 100, "a replay into the live index must not duplicate"


def test_replay_of_a_bounded_range(servers, es: Elasticsearch, tmp_path: Path, log_dir: Path) -> None:
    log_file = tmp_path / "access.log"
    lines = TUTORIAL_LOG.read_bytes().splitlines(keepends=True)[1:]
    log_file.write_bytes(b"".join(lines))
    pipeline = write_pipeline(tmp_path, {
        "inputs": [{"type": "file", "paths": [str(log_file)], "start_position": "beginning"}],
        "filters": [{"grok": {"match": {"message": ["%{COMBINEDAPACHELOG}"]}}}],
        "collector": {"batch": {"max_events": 10, "linger_ms": 20}},
    }, partitions=1)
    services = start_services(["collector"], pipeline.path, servers.kafka, servers.elasticsearch, log_dir)
    try:
        from tests.helpers.kafka import read_events

        from tests.helpers.waiting import wait_until

        wait_until(lambda: len(read_events(servers.kafka, pipeline.topics.raw, timeout=2)) >= 100, timeout=90)
    finally:
        stop_all(services)
    # 100 lines in records of 10: records 2..5 (offsets 2, 3, 4) hold lines 21..50.
    new_index = f"{pipeline.prefix}-range"
    result = replay(pipeline.path, servers, "--from", "0:2", "--to", "0:5", "--index", new_index,
                    "--group", f"{pipeline.prefix}-r3")
    assert result.returncode == 0, result.stderr[-4000:]
    documents = all_documents(es, new_index)
    assert len(documents) == 30
    assert sorted({doc["_id"].split(":")[2] for doc in documents}) == ["2", "3", "4"]
