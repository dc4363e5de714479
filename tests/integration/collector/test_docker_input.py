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
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import yaml

from streamstash import names
from streamstash.events.envelope import Event
from tests.helpers.fake_docker import FakeDockerEngine
from tests.helpers.pipelines import write_pipeline
from tests.helpers.processes import ServiceProcess
from tests.helpers.waiting import wait_until
from tests.integration.collector.support import create_topics, published_positions, raw_events

if TYPE_CHECKING:
    from tests.helpers.pipelines import TestPipeline

pytestmark = pytest.mark.integration

PARTIAL_BYTES = 100  # the real engine cuts at 16 KiB; smaller here so ordinary lines get cut too
BASE_NS = (int(time.time()) - 3600) * 1_000_000_000


@pytest.fixture
def engine() -> Iterator[FakeDockerEngine]:
    # A unix socket path must stay under ~100 bytes, which pytest's tmp_path does not promise.
    with (
        tempfile.TemporaryDirectory(prefix="fake-docker-", dir="/tmp") as directory,
        FakeDockerEngine(Path(directory) / "docker.sock", partial_bytes=PARTIAL_BYTES) as fake,
    ):
        yield fake


def docker_pipeline(tmp_path: Path, engine: FakeDockerEngine, labels: dict[str, str], kafka: str) -> TestPipeline:
    pipeline = write_pipeline(
        tmp_path,
        {
            "inputs": [{"type": "docker", "docker_url": engine.url, "labels": labels}],
            "collector": {"batch": {"linger_ms": 20, "max_events": 50}},
        },
    )
    create_topics(pipeline, kafka)
    return pipeline


def stamp(ts_ns: int) -> str:
    seconds, nanos = divmod(ts_ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{nanos // 1_000_000:03d}Z"


def described(event: Event) -> tuple[str | None, str | None, str | None, str | None]:
    return event.source.container_name, event.source.stream, event.message, event.timestamp


def test_lines_of_two_containers_and_their_lifecycle(
    servers, tmp_path: Path, log_dir: Path, engine: FakeDockerEngine
) -> None:
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
    engine.write(
        web, b"bad \xff\xfe utf-8, nul \x00, \x1b[31mred\x1b[0m\n", stream="stderr", ts_ns=BASE_NS + 300_999_999
    )
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
        events = wait_until(
            lambda: (found := raw_events(servers.kafka, pipeline)) and len(found) >= 7 and found,
            timeout=90,
            message="the lines of both containers did not reach logs.raw",
        )
        assert {described(event) for event in events} == expected
        assert len(events) == 7
        for event in events:
            source = event.source
            assert source.kind == names.SOURCE_DOCKER
            assert source.labels == labels
            assert (source.container_id, source.image) == (
                (web, "shop/web:2.1") if source.container_name == "web" else (console, "shop/console:1")
            )
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
        expected |= {
            ("late", "stdout", "hello from a late starter", stamp(BASE_NS + 600_000_000)),
            ("web", "stdout", "goodbye, no newline", stamp(BASE_NS + 700_000_000)),
        }
        wait_until(
            lambda: len(raw_events(servers.kafka, pipeline)) >= 9,
            timeout=60,
            message="the late container's line or the exited one's last line is missing",
        )
        wait_until(lambda: engine.log_streams(web) == 0, timeout=30, message="the exited container is still followed")
        assert "stopped following container" in collector.log_text()
        assert not engine.log_requests(bystander) and not engine.log_requests(other)
    finally:
        assert collector.stop() == 0
    final = raw_events(servers.kafka, pipeline)
    assert sorted(described(event) for event in final) == sorted(expected)


def recovered_docker_checkpoints(log_path: Path) -> list[str] | None:
    """Docker checkpoints that start-up recovery moved over lines logs.raw held but the file did not.

    None when the log holds no recovery report at all, so "moved nothing" cannot pass by accident.
    """
    moved = None
    for line in log_path.read_text().splitlines():
        if "recovered positions from the topic" in line:
            moved = (moved or []) + [
                key for key in json.loads(line).get("checkpoints_moved", {}) if key.startswith("docker:")
            ]
    return moved


BATCH = 8  # lines per Kafka record in the restart test


class Containers:
    """Two containers printing numbered lines on the test's command, and what they printed.

    ``web`` (no TTY) writes stdout and stderr, three lines per stamp as a busy engine may, some long
    enough to be cut into partial messages; ``console`` is a TTY. ``written`` keeps, per container,
    ``(stream, line)`` in the order the lines were completed: the order logs.raw must hold them in.
    """

    def __init__(self, engine: FakeDockerEngine, labels: dict[str, str]) -> None:
        self.engine = engine
        self.ids = {"web": engine.create("web", labels), "console": engine.create("console", labels, tty=True)}
        self.written: dict[str, list[tuple[str, str]]] = {name: [] for name in self.ids}
        self._numbers = dict.fromkeys(self.ids, 0)
        self._stamp = 0
        self._stamped: int | None = None  # the group of three web lines self._stamp belongs to
        self._long: str | None = None

    def lines(self, name: str, count: int) -> None:
        for _ in range(count):
            n = self._numbers[name]
            self._numbers[name] += 1
            if name == "console":
                line, stream, stamp = f"console {n}", "stdout", None
            else:
                if n // 3 != self._stamped:  # stamps must not go back in time within a stream
                    self._stamp, self._stamped = time.time_ns(), n // 3
                # Until its long stdout line ends, web can only complete lines on stderr.
                stream = "stderr" if n % 3 == 2 or self._long is not None else "stdout"
                line, stamp = f"web {n} " + "w" * (n * 37 % 150), self._stamp
            self.engine.write(self.ids[name], line + "\n", stream=stream, ts_ns=stamp)
            self.written[name].append((stream, line))

    def begin_long_line(self) -> None:
        """Web starts a long stdout line (two full partial messages), then completes stderr lines.

        The engine hands the partial messages out at once, but the line only ends with the rest,
        written later: the collector holding the first part when it stops must not publish it,
        and the stderr lines completed after it must not make the next run skip it.
        """
        assert self._long is None
        n = self._numbers["web"]
        self._numbers["web"] += 1
        self._stamped = None
        head = f"web {n} long "
        self._long = head + "L" * (2 * PARTIAL_BYTES - len(head))
        self.engine.write(self.ids["web"], self._long, stream="stdout")
        between = f"web {n} between"
        self.engine.write(self.ids["web"], between + "\n", stream="stderr")
        self.written["web"].append(("stderr", between))

    def end_long_line(self) -> None:
        assert self._long is not None
        self.engine.write(self.ids["web"], " end\n", stream="stdout")
        self.written["web"].append(("stdout", self._long + " end"))
        self._long = None

    def more(self, count: int) -> None:
        for name in self.ids:
            self.lines(name, count)

    def fill(self, resumed: dict[str, int], records: int, extra: int) -> None:
        """Print lines until, counted from ``resumed``, each container's last record is full, then
        ``records`` full records more, then ``extra`` lines: the part of a record a collector holds."""
        for name, written in self.written.items():
            filled = -(-(len(written) - resumed[name]) // BATCH)
            self.lines(name, resumed[name] + (filled + records) * BATCH + extra - len(written))


# Longer than any run of the restart test: such a run writes its checkpoint file only at start and stop.
UNTIL_STOPPED_MS = 3_600_000


def test_restarts_neither_repeat_nor_skip_a_line(
    servers, tmp_path: Path, log_dir: Path, engine: FakeDockerEngine
) -> None:
    """SIGTERM, kill -9, kill -9, SIGTERM: each with lines taken from the engine but not yet in logs.raw.

    Every stop lands at a point the test chose, not wherever the scheduler happened to be:

    * a record leaves only when full (``max_events``; the 60 s linger outlasts every run), so which lines
      are in Kafka and which are held by the collector follows from how many lines were printed;
    * the engine reports when the collector has read every byte it sent (``handed_over``), and web
      is always in the middle of a stdout line cut into partial messages, stderr lines after it;
    * when the checkpoint file is written is chosen as well (``checkpoint_interval_ms``). The second
      run writes it on every acknowledgement, and once web and console are at their stop point a
      third container (``pacer``) completes a record: the file is written while they hold lines
      read but not in Kafka, and must not count them (a collector that moves a checkpoint when it
      reads a line, not when Kafka acknowledged it, fails there). The other runs write the file only
      at start and stop, so the third run's plain kill -9 leaves it a whole run behind logs.raw:
      start-up recovery must find those records by their headers, or their lines are published twice.
    """
    labels = {"streamstash.test": uuid.uuid4().hex[:8]}
    containers = Containers(engine, labels)
    ids = containers.ids
    pacer = engine.create("pacer", labels)
    pacer_written: list[tuple[str, str]] = []
    pipeline = write_pipeline(
        tmp_path,
        {
            "inputs": [{"type": "docker", "docker_url": engine.url, "labels": labels}],
            "collector": {"batch": {"linger_ms": 60_000, "max_events": BATCH}},
        },
    )
    create_topics(pipeline, servers.kafka)
    checkpoint_file = pipeline.config.state_dir / "collector" / "checkpoints.json"
    every_container = {f"docker:{container}" for container in ids.values()}
    pacer_key = f"docker:{pacer}"

    started: list[ServiceProcess] = []

    def collector(name: str, checkpoint_interval_ms: int) -> ServiceProcess:
        """Start a collector that writes its checkpoint file at most every ``checkpoint_interval_ms``."""
        document = yaml.safe_load(pipeline.path.read_text())
        document["collector"]["checkpoint_interval_ms"] = checkpoint_interval_ms
        pipeline.path.write_text(yaml.safe_dump(document, sort_keys=False))
        started.append(
            ServiceProcess("collector", pipeline.path, servers.kafka, servers.elasticsearch, log_dir, name=name)
        )
        return started[-1]

    def in_kafka() -> dict[str, list[tuple[str | None, str | None]]]:
        found: dict[str, list[tuple[str | None, str | None]]] = {name: [] for name in (*ids, "pacer")}
        for event in raw_events(servers.kafka, pipeline):
            found[str(event.source.container_name)].append((event.source.stream, event.message))
        return found

    def counts() -> dict[str, int]:
        found = in_kafka()
        return {name: len(found[name]) for name in ids}

    def printed() -> dict[str, int]:
        return {name: len(lines) for name, lines in containers.written.items()}

    def reach(target: dict[str, int], what: str) -> None:
        wait_until(
            lambda: all(n >= target[name] for name, n in counts().items()),
            timeout=60,
            message=f"logs.raw did not reach {target} lines ({what})",
        )

    def on_disk() -> dict[str, int]:
        # Read while a collector may be writing it: the file is replaced by a rename, never rewritten in place.
        positions = json.loads(checkpoint_file.read_text())["positions"]
        return {key: int(position["offset"]) for key, position in positions.items()}

    def assert_published(upto: dict[str, int], when: str) -> None:
        """logs.raw holds exactly the first ``upto`` lines each container printed, each once, in order."""
        published = in_kafka()
        for name, lines in containers.written.items():
            expected = lines[: upto[name]]
            seen = Counter(published[name])
            duplicates = {line: n for line, n in seen.items() if n > 1}
            missing = Counter(expected) - seen
            assert not duplicates, (
                f"{when}, {name}: {len(duplicates)} lines published more than once, e.g. {list(duplicates)[:3]}"
            )
            assert not missing, (
                f"{when}, {name}: {len(missing)} of {len(expected)} lines missing, e.g. {list(missing)[:3]}"
            )
            assert published[name] == expected, (
                f"{when}, {name}: {len(published[name])} lines published, expected the first {len(expected)} "
                f"printed, in the order printed"
            )
        assert published["pacer"] == pacer_written, f"{when}, pacer: its lines are not in logs.raw exactly once"

    def assert_checkpoints(process: ServiceProcess, how: str) -> None:
        """The file never counts a line logs.raw lacks; ``how`` says how far behind logs.raw it must be."""
        saved, reached = on_disk(), published_positions(servers.kafka, pipeline)
        for key in sorted(every_container):
            # Lines held in flight must be read again: the checkpoint may lag logs.raw, never lead it.
            assert saved[key] <= reached[key], (
                f"{process.name}: {key} checkpointed at {saved[key]}, past the {reached[key]} logs.raw holds"
            )
            if how == "level":
                assert saved[key] == reached[key], (
                    f"{process.name}: {key} saved at {saved[key]}, behind the {reached[key]} it acknowledged"
                )
            else:
                assert saved[key] < reached[key], (
                    f"{process.name}: {key} saved at {saved[key]} during the run, though its interval outlasts it"
                )

    def bring_to_stop_point(resumed: dict[str, int]) -> dict[str, int]:
        """Every full record of this run in Kafka, every other line read by the collector; returns the former."""
        sealed = {name: resumed[name] + (n - resumed[name]) // BATCH * BATCH for name, n in printed().items()}
        for name, n in printed().items():
            assert n > sealed[name], f"{name}: the script leaves no line in flight"
        reach(sealed, "full records")
        wait_until(
            lambda: all(engine.handed_over(container) for container in ids.values()),
            timeout=60,
            message="the collector did not read everything the engine sent",
        )
        # More than ``sealed`` would mean a record left before it was full: not the point chosen.
        assert_published(sealed, "at the stop point")
        return sealed

    def saved_level(keys: set[str], what: str) -> None:
        """Wait until the file holds, for ``keys``, the positions logs.raw holds (a run saving on every ack)."""

        def level() -> bool:
            saved, reached = on_disk(), published_positions(servers.kafka, pipeline)
            return all(key in reached and saved.get(key) == reached[key] for key in keys)

        # Moments after Kafka's acknowledgement, not up to the 30 s a monitor tick takes at this linger:
        # a run that waited for the tick would not be writing the file on every acknowledgement.
        wait_until(level, timeout=10, message=f"the checkpoint file did not catch up with logs.raw ({what})")

    def pace() -> None:
        """The pacer prints one full record; returns once Kafka holds it and the file was written after it."""
        for _ in range(BATCH):
            line = f"pacer {len(pacer_written)}"
            engine.write(pacer, line + "\n")
            pacer_written.append(("stdout", line))
        wait_until(
            lambda: in_kafka()["pacer"] == pacer_written,
            timeout=60,
            message="the pacer's record did not reach logs.raw",
        )
        saved_level({pacer_key}, "the pacer's record")

    def kill9(process: ServiceProcess, resumed: dict[str, int], saves_every_ack: bool) -> dict[str, int]:
        """kill -9 at a stop point, after the pacer had the file written there if the run saves on every ack."""
        containers.begin_long_line()
        containers.fill(resumed, 2, 0)
        reach(printed(), "the run's full records")
        if saves_every_ack:
            # The lines held at the stop point are read only after their container's acknowledgements were
            # handled, so none of those can put back a checkpoint moved too early before the pacer's save.
            saved_level(every_container, "web and console")
        containers.fill(resumed, 0, 5)
        sealed = bring_to_stop_point(resumed)
        if saves_every_ack:
            pace()
        process.kill9()
        assert_checkpoints(process, "level" if saves_every_ack else "a run behind")
        return sealed

    try:
        # Run 1, stopped by SIGTERM: it must publish the lines it holds, save, and leave the half line.
        first = collector("collector-1", UNTIL_STOPPED_MS)
        containers.begin_long_line()
        containers.fill(dict.fromkeys(ids, 0), 1, 3)
        bring_to_stop_point(dict.fromkeys(ids, 0))
        assert first.stop() == 0
        assert_published(printed(), "after SIGTERM")  # the lines it held in flight included
        assert_checkpoints(first, "level")  # stopping writes the file, whatever the interval
        resumed = printed()

        # Lines printed while no collector runs (the half line's end first) wait in the engine.
        containers.end_long_line()
        containers.more(3)
        resumed = kill9(collector("collector-2", 0), resumed, saves_every_ack=True)

        containers.end_long_line()
        containers.more(3)
        resumed = kill9(collector("collector-3", UNTIL_STOPPED_MS), resumed, saves_every_ack=False)

        containers.end_long_line()
        containers.more(3)
        fourth = collector("collector-4", UNTIL_STOPPED_MS)
        containers.fill(resumed, 1, 3)
        bring_to_stop_point(resumed)
        assert fourth.stop() == 0
        assert_published(printed(), "after the last SIGTERM")
        assert_checkpoints(fourth, "level")
    finally:
        for process in started:
            if process.alive():  # a failed step must not leave a collector running after the test
                process.kill9()

    # collector-2 left a file level with logs.raw, collector-3 one a whole run behind it.
    assert recovered_docker_checkpoints(log_dir / "collector-3.log") == [], (
        "collector-3: start-up recovery moved checkpoints the file already had level with logs.raw"
    )
    moved = recovered_docker_checkpoints(log_dir / "collector-4.log")
    assert set(moved or ()) == every_container, (
        f"collector-4: start-up recovery moved {moved}, though every "
        f"container had records in logs.raw past its saved checkpoint"
    )
