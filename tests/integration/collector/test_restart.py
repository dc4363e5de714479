"""Restarts of the collector neither repeat nor skip a line: every line of the file is in logs.raw once."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest

from tests.helpers.pipelines import write_pipeline
from tests.helpers.processes import ServiceProcess
from tests.helpers.waiting import wait_until
from tests.integration.collector.support import (
    access_lines,
    assert_every_line_exactly_once,
    checkpoint_offset,
    create_topics,
    raw_events,
    wait_until_checkpointed,
)

pytestmark = pytest.mark.integration


def append(path: Path, text: str) -> None:
    with open(path, "a", encoding="utf-8") as out:
        out.write(text)


class Writer(threading.Thread):
    """Appends numbered access-log lines at a steady rate until stopped."""

    def __init__(self, path: Path, start: int, lines_per_second: int) -> None:
        super().__init__(daemon=True)
        self.path, self.next, self.rate = path, start, lines_per_second
        self.written = 0
        self.halt = threading.Event()

    def run(self) -> None:
        chunk = self.rate // 20
        while not self.halt.is_set():
            append(self.path, access_lines(self.next, chunk))
            self.next += chunk
            self.written += chunk
            self.halt.wait(0.05)


def test_stop_restart_kill9_and_lost_checkpoint_saves(servers, tmp_path: Path, log_dir: Path) -> None:
    log_file = tmp_path / "access.log"
    append(log_file, access_lines(0, 30_000))
    pipeline = write_pipeline(
        tmp_path,
        {
            "inputs": [
                {"type": "file", "paths": [str(log_file)], "start_position": "beginning", "poll_interval_ms": 50}
            ],
            "collector": {"batch": {"linger_ms": 20, "max_events": 200}},
        },
    )
    create_topics(pipeline, servers.kafka)
    state = pipeline.config.state_dir
    checkpoint = state / "collector" / "checkpoints.json"

    def collector(name: str) -> ServiceProcess:
        return ServiceProcess("collector", pipeline.path, servers.kafka, servers.elasticsearch, log_dir, name=name)

    # 1. A clean stop (SIGTERM) in the middle of the file, then a restart that finishes it.
    first = collector("collector-1")
    wait_until(lambda: checkpoint_offset(state) > 0, timeout=120, message="no progress")
    assert first.stop() == 0
    running = collector("collector-2")
    wait_until_checkpointed(state, log_file.stat().st_size)

    # 2. Saves lost after a moment (as if killed right after many acks): an older checkpoint file
    #    comes back; recovery must find in logs.raw what was sent since, and not send it again.
    snapshot = tmp_path / "checkpoint-snapshot.json"
    shutil.copy(checkpoint, snapshot)
    append(log_file, access_lines(30_000, 20_000))
    wait_until_checkpointed(state, log_file.stat().st_size)
    assert running.stop() == 0
    shutil.copy(snapshot, checkpoint)
    running = collector("collector-3")
    append(log_file, access_lines(50_000, 5_000))
    wait_until_checkpointed(state, log_file.stat().st_size)
    assert "recovered positions from the topic" in running.log_text()

    # 3. kill -9 while a writer keeps appending, twice: lines are in flight at the moment of the kill.
    writer = Writer(log_file, start=55_000, lines_per_second=5_000)
    writer.start()
    try:
        for name in ("collector-4", "collector-5"):
            progress = checkpoint_offset(state)
            wait_until(
                lambda progress=progress: checkpoint_offset(state) > progress, timeout=120, message="no progress"
            )
            running.kill9()
            running = collector(name)
        wait_until(lambda: writer.written > 20_000, timeout=120, message="writer too slow")
    finally:
        writer.halt.set()
        writer.join()
    wait_until_checkpointed(state, log_file.stat().st_size)
    assert running.stop() == 0

    assert_every_line_exactly_once(raw_events(servers.kafka, pipeline), log_file)
