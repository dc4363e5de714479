"""The collector's Docker input, as a real collector process writing to logs.raw.

No Docker engine runs where these tests run; ``tests/helpers/fake_docker.py`` stands in for it:
the Docker Engine API over a unix socket (real HTTP, multiplexed frames for containers without a
TTY, raw streams for TTY containers, long lines cut into stamped partial messages, an events
stream). What the collector publishes is read back from Kafka and compared line by line.
"""

from __future__ import annotations

import base64
import json
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from streamstash import names
from streamstash.envelope import Event
from tests.helpers.fake_docker import FakeDockerEngine
from tests.helpers.pipelines import write_pipeline
from tests.helpers.processes import ServiceProcess
from tests.helpers.waiting import wait_until
from tests.integration.collector.support import create_topics, raw_events

if TYPE_CHECKING:
    from tests.helpers.pipelines import TestPipeline

pytestmark = pytest.mark.integration

PARTIAL_BYTES = 100  # the real engine cuts at 16 KiB; smaller here so ordinary lines get cut too
BASE_NS = (int(time.time()) - 3600) * 1_000_000_000


@pytest.fixture
def engine() -> Iterator[FakeDockerEngine]:
    # A unix socket path must stay under ~100 bytes, which pytest's tmp_path does not promise.
    with tempfile.TemporaryDirectory(prefix="fake-docker-", dir="/tmp") as directory, \
            FakeDockerEngine(Path(directory) / "docker.sock", partial_bytes=PARTIAL_BYTES) as fake:
        yield fake


def docker_pipeline(tmp_path: Path, engine: FakeDockerEngine, labels: dict[str, str], kafka: str) -> TestPipeline:
    pipeline = write_pipeline(tmp_path, {
        "inputs": [{"type": "docker", "docker_url": engine.url, "labels": labels}],
        "collector": {"batch": {"linger_ms": 20, "max_events": 50}},
    })
    create_topics(pipeline, kafka)
    return pipeline


def stamp(ts_ns: int) -> str:
    seconds, nanos = divmod(ts_ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{nanos // 1_000_000:03d}Z"


def described(event: Event) -> tuple[str | None, str | None, str | None, str | None]:
    return event.source.container_name, event.source.stream, event.message, event.timestamp


def test_lines_of_two_containers_and_their_lifecycle(servers, tmp_path: Path, log_dir: Path,
                                                     engine: FakeDockerEngine) -> None:
    labels = {"streamstash.test": uuid.uuid4().hex[:8]}
    web = engine.create("web", labels, image="shop/web:2.1")
    console = engine.create("console", labels, image="shop/console:1", tty=True)
    bystander = engine.create("bystander", {"streamstash.test": "someone-else"})
    long_line = "GET /search?q=" + "x" * 250 + " 200"  # three partial messages
    shared = BASE_NS + 123_456_789  # three lines, two streams, one stamp
    engine.write(web, "GET /cart 200\n", ts_ns=shared)
    engine.write(web, "warning: slow query\n", stream="stderr", ts_ns=shared)
    engine.write(web, "GET /pay 200\n", ts_ns=shared)
    engine.write(web, long_line + "\n", ts_ns=BASE_NS + 200_000_000)
    engine.write(web, b"bad \xff\xfe utf-8, nul \x00, \x1b[31mred\x1b[0m\n", stream="stderr",
                 ts_ns=BASE_NS + 300_999_999)
    engine.write(console, "\x1b[1mready\x1b[0m\n", ts_ns=BASE_NS + 400_000_000)
    engine.write(console, "progress 50%\rprogress 100%\n", ts_ns=BASE_NS + 500_000_000)
    engine.write(bystander, "not selected\n", ts_ns=BASE_NS)
    expected = {
        ("web", "stdout", "GET /cart 200", stamp(shared)),
        ("web", "stderr", "warning: slow query", stamp(shared)),
        ("web", "stdout", "GET /pay 200", stamp(shared)),
        ("web", "stdout", long_line, stamp(BASE_NS + 200_000_000)),
        ("web", "stderr", "bad \ufffd\ufffd utf-8, nul \x00, \x1b[31mred\x1b[0m", stamp(BASE_NS + 300_999_999)),
        ("console", "stdout", "\x1b[1mready\x1b[0m", stamp(BASE_NS + 400_000_000)),
        ("console", "stdout", "progress 50%\rprogress 100%", stamp(BASE_NS + 500_000_000)),
    }
    pipeline = docker_pipeline(tmp_path, engine, labels, servers.kafka)
    collector = ServiceProcess("collector", pipeline.path, servers.kafka, servers.elasticsearch, log_dir)
    try:
        events = wait_until(lambda: (found := raw_events(servers.kafka, pipeline, 1.5)) and len(found) >= 7 and found,
                            timeout=90, message="the lines of both containers did not reach logs.raw")
        assert {described(event) for event in events} == expected
        assert len(events) == 7
        for event in events:
            source = event.source
            assert source.kind == names.SOURCE_DOCKER
            assert source.labels == labels
            assert (source.container_id, source.image) == ((web, "shop/web:2.1") if source.container_name == "web"
                                                           else (console, "shop/console:1"))
        invalid = next(event for event in events if event.message.startswith("bad "))
        assert names.TAG_INVALID_UTF8 in invalid.tags
        assert base64.b64decode(invalid.raw_b64) == b"bad \xff\xfe utf-8, nul \x00, \x1b[31mred\x1b[0m"

        # A container started later is followed; one that exits is drained (its unfinished last
        # line included) and dropped; a container started later without the label is not followed.
        late = engine.create("late", labels)
        other = engine.create("late-other", {"streamstash.test": "someone-else"})
        engine.write(late, "hello from a late starter\n", ts_ns=BASE_NS + 600_000_000)
        engine.write(other, "not selected either\n")
        engine.write(web, "goodbye, no newline", ts_ns=BASE_NS + 700_000_000)
        engine.stop(web)
        expected |= {("late", "stdout", "hello from a late starter", stamp(BASE_NS + 600_000_000)),
                     ("web", "stdout", "goodbye, no newline", stamp(BASE_NS + 700_000_000))}
        wait_until(lambda: len(raw_events(servers.kafka, pipeline, 1.5)) >= 9, timeout=60,
                   message="the late container's line or the exited one's last line is missing")
        wait_until(lambda: engine.log_streams(web) == 0, timeout=30, message="the exited container is still followed")
        assert "stopped following container" in collector.log_text()
        assert not engine.log_requests(bystander) and not engine.log_requests(other)
    finally:
        assert collector.stop() == 0
    final = raw_events(servers.kafka, pipeline)
    assert sorted(described(event) for event in final) == sorted(expected)


def recovered_docker_checkpoints(log_path: Path) -> list[str]:
    """Docker checkpoints that start-up recovery moved over lines logs.raw held but the file did not."""
    moved = []
    for line in log_path.read_text().splitlines():
        if "recovered positions from the topic" in line:
            moved += [key for key in json.loads(line).get("checkpoints_moved", {}) if key.startswith("docker:")]
    return moved


class Writer(threading.Thread):
    """Two containers printing numbered lines until stopped: stdout and stderr, shared stamps, a TTY."""

    def __init__(self, engine: FakeDockerEngine, web: str, console: str) -> None:
        super().__init__(name="container-writer", daemon=True)
        self.engine, self.web, self.console = engine, web, console
        self.written: list[tuple[str, str]] = []
        self.halt = threading.Event()

    def run(self) -> None:
        n = 0
        while not self.halt.is_set():
            shared = time.time_ns()
            for k in range(3):  # three stdout/stderr lines with one stamp, as a busy engine may write them
                stream = "stderr" if (n + k) % 3 == 2 else "stdout"
                line = f"web {n + k} " + "w" * ((n + k) % 150)  # some longer than one partial message
                self.engine.write(self.web, line + "\n", stream=stream, ts_ns=shared)
                self.written.append(("web", line))
            line = f"console {n}"
            self.engine.write(self.console, line + "\n")
            self.written.append(("console", line))
            n += 3
            time.sleep(0.004)


@pytest.mark.xfail(run=False, reason="known failure, not run: on a heavily loaded machine the kills can land where no line awaits its checkpoint, and the test then refuses to pass vacuously")
def test_restarts_neither_repeat_nor_skip_a_line(servers, tmp_path: Path, log_dir: Path,
                                                 engine: FakeDockerEngine) -> None:
    labels = {"streamstash.test": uuid.uuid4().hex[:8]}
    web = engine.create("web", labels)
    console = engine.create("console", labels, tty=True)
    pipeline = docker_pipeline(tmp_path, engine, labels, servers.kafka)

    def collector(name: str) -> ServiceProcess:
        return ServiceProcess("collector", pipeline.path, servers.kafka, servers.elasticsearch, log_dir, name=name)

    def published() -> int:
        return len(raw_events(servers.kafka, pipeline, 1.5))

    def grows_by(count: int) -> None:
        floor = published() + count
        wait_until(lambda: published() >= floor, timeout=90, message=f"fewer than {count} new lines published")

    writer = Writer(engine, web, console)
    writer.start()
    try:
        first = collector("collector-1")
        grows_by(300)
        assert first.stop() == 0  # SIGTERM: drains, saves, exits
        second = collector("collector-2")
        grows_by(300)
        second.kill9()  # while batches are in flight: Kafka may hold lines whose checkpoint was not saved
        third = collector("collector-3")
        grows_by(300)
        third.kill9()
        fourth = collector("collector-4")
        grows_by(300)
    finally:
        writer.halt.set()
        writer.join(10)
    expected = Counter(writer.written)
    wait_until(lambda: published() >= len(writer.written), timeout=90, message="not every line was published")
    assert fourth.stop() == 0
    moved = recovered_docker_checkpoints(log_dir / "collector-3.log") + recovered_docker_checkpoints(
        log_dir / "collector-4.log")
    assert moved, "neither kill -9 left a line in logs.raw without its checkpoint: the kills tested nothing"

    seen = Counter((event.source.container_name, event.message) for event in raw_events(servers.kafka, pipeline))
    duplicates = {line: n for line, n in seen.items() if n > 1}
    missing = expected - seen
    assert not duplicates, f"{len(duplicates)} lines published more than once, e.g. {list(duplicates)[:5]}"
    assert not missing, f"{len(missing)} of {len(expected)} lines missing, e.g. {list(missing)[:5]}"
    assert seen == expected
