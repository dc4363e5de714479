"""`streamstash replay`: reprocess the raw topic into a new index (then alias) or the same one, exactly."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.helpers.elastic import SearchClient, all_documents, count, wait_for_count
from tests.helpers.engines import es_of_each_engine, opensearch_by_default, servers_of_each_engine  # noqa: F401 - runs on each engine
from tests.helpers.kafka import read_events
from tests.helpers.pipelines import write_pipeline
from tests.helpers.processes import start_services, stop_all
from tests.helpers.waiting import wait_until

pytestmark = pytest.mark.integration

# The progress bar as printed last: records done of the range, events/s, time left.
BAR = re.compile(r"replay .*━.* (\d+)/\1 records [\d,]+ events/s ETA \d+:\d\d:\d\d")
TUTORIAL_LOG = Path(__file__).resolve().parents[2] / "examples" / "data" / "logstash-tutorial.log"


def replay(pipeline_path: Path, servers, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "streamstash.services.cli",
            "replay",
            "--config",
            str(pipeline_path),
            "--kafka",
            servers.kafka,
            "--elasticsearch",
            servers.elasticsearch,
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


@opensearch_by_default
def test_replay_into_new_index_then_same_index(servers, es: SearchClient, tmp_path: Path, log_dir: Path) -> None:
    log_file = tmp_path / "access.log"
    shutil.copy(TUTORIAL_LOG, log_file)
    pipeline = write_pipeline(
        tmp_path,
        {
            "inputs": [{"type": "file", "paths": [str(log_file)], "start_position": "beginning"}],
            "filters": [{"grok": {"match": {"message": ["%{COMBINEDAPACHELOG}"]}}}],
        },
        partitions=2,
    )
    services = start_services(
        ["collector", "parser", "indexer"], pipeline.path, servers.kafka, servers.elasticsearch, log_dir
    )
    try:
        wait_for_count(es, pipeline.index, 100, timeout=120)
    finally:
        stop_all(services)
    live_ids = {doc["_id"] for doc in all_documents(es, pipeline.index)}

    new_index = f"{pipeline.prefix}-replayed"
    alias = f"{pipeline.prefix}-current"
    result = replay(
        pipeline.path,
        servers,
        "--from",
        "earliest",
        "--index",
        new_index,
        "--alias",
        alias,
        "--group",
        f"{pipeline.prefix}-r1",
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    # The parser takes in every line of the file (its first, empty one too, which makes no document).
    lines = len(TUTORIAL_LOG.read_bytes().splitlines())
    assert re.search(
        rf"replay \S+ finished: \d+ records, {lines} events in [\d.]+ s \([\d,]+ events/s\)", result.stdout
    ), result.stdout
    assert BAR.search(result.stdout), result.stdout
    assert count(es, new_index) == 100
    assert {doc["_id"] for doc in all_documents(es, new_index)} == live_ids
    assert list(es.indices.get_alias(name=alias)) == [new_index]

    result = replay(pipeline.path, servers, "--from", "earliest", "--group", f"{pipeline.prefix}-r2")
    assert result.returncode == 0, result.stderr[-4000:]
    assert count(es, pipeline.index) == 100, "a replay into the live index must not duplicate"


@pytest.mark.parametrize("servers", ["standin"], indirect=True)  # Kafka ranges: one engine is enough
def test_replay_of_ranges_given_by_offsets_and_by_time(
    servers, es: SearchClient, tmp_path: Path, log_dir: Path
) -> None:
    """Two halves of 50 lines, collected a moment apart, in records of 10 (offsets 0..4 and 5..9): a range
    from an offset to the moment between them, and one from that moment to the end."""
    log_file = tmp_path / "access.log"
    lines = TUTORIAL_LOG.read_bytes().splitlines(keepends=True)[1:]
    log_file.write_bytes(b"".join(lines[:50]))
    pipeline = write_pipeline(
        tmp_path,
        {
            "inputs": [{"type": "file", "paths": [str(log_file)], "start_position": "beginning"}],
            "filters": [{"grok": {"match": {"message": ["%{COMBINEDAPACHELOG}"]}}}],
            "collector": {"batch": {"max_events": 10, "linger_ms": 20}},
        },
        partitions=1,
    )
    services = start_services(["collector"], pipeline.path, servers.kafka, servers.elasticsearch, log_dir)
    try:
        wait_until(lambda: len(read_events(servers.kafka, pipeline.topics.raw)) >= 50, timeout=90)
        time.sleep(0.05)
        between = datetime.now(UTC)
        time.sleep(0.05)
        with log_file.open("ab") as out:
            out.write(b"".join(lines[50:]))
        wait_until(lambda: len(read_events(servers.kafka, pipeline.topics.raw)) >= 100, timeout=90)
    finally:
        stop_all(services)
    moment = between.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"

    # Offsets 2, 3 and 4: from an offset up to the first record at or after the moment (offset 5).
    first_half = f"{pipeline.prefix}-offsets"
    result = replay(
        pipeline.path,
        servers,
        "--from",
        "0:2",
        "--to",
        moment,
        "--index",
        first_half,
        "--group",
        f"{pipeline.prefix}-r3",
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert re.search(r"finished: 3 records, 30 events in [\d.]+ s \([\d,]+ events/s\)", result.stdout), result.stdout
    assert re.search(r"3/3 records [\d,]+ events/s ETA 0:00:00", result.stdout), result.stdout
    documents = all_documents(es, first_half)
    assert len(documents) == 30
    assert sorted({doc["_id"].split(":")[2] for doc in documents}) == ["2", "3", "4"]

    # From the moment (an ISO 8601 time) to the end: offsets 5..9.
    second_half = f"{pipeline.prefix}-since"
    result = replay(
        pipeline.path, servers, "--from", moment, "--index", second_half, "--group", f"{pipeline.prefix}-r4"
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert "finished: 5 records, 50 events" in result.stdout, result.stdout
    documents = all_documents(es, second_half)
    assert len(documents) == 50
    assert sorted({doc["_id"].split(":")[2] for doc in documents}) == ["5", "6", "7", "8", "9"]
