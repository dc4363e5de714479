"""The Docker input against the engine's API, in process: selection, discovery, exits, resuming.

No Docker engine runs here; ``tests/helpers/fake_docker.py`` stands in for it on a unix socket
(real HTTP, real multiplexed framing). Events are emitted into a list instead of Kafka.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from streamstash import names
from streamstash.config.collector import DockerInput as DockerSettings
from streamstash.events.envelope import Event
from streamstash.services.collector.checkpoints import CheckpointStore
from streamstash.services.collector.inputs import docker as docker_input
from streamstash.services.collector.inputs.docker import (
    ContainerInfo,
    ContainerSelector,
    DockerInput,
    engine_endpoint,
)
from tests.helpers.fake_docker import FakeDockerEngine

LABELS = {"team": "payments"}


def info(
    name: str = "web-1",
    image: str = "registry.local:5000/shop/web:2.1",
    labels: dict | None = None,
    container_id: str = "3f2a" + "0" * 60,
) -> ContainerInfo:
    return ContainerInfo(container_id, name, image, labels if labels is not None else dict(LABELS), False, True)


@pytest.mark.parametrize(
    ("settings", "container", "selected"),
    [
        ({}, info(), True),
        ({"labels": LABELS}, info(), True),
        ({"labels": LABELS}, info(labels={"team": "search"}), False),
        ({"labels": {"team": "payments", "tier": "web"}}, info(), False),
        ({"names": ["web-*"]}, info(), True),
        ({"names": ["db-*"]}, info(), False),
        ({"ids": ["3f2a"]}, info(), True),
        ({"ids": ["3f2b"]}, info(), False),
        ({"images": ["registry.local:5000/shop/web"]}, info(), True),  # without its tag
        ({"images": ["*/shop/web:2.*"]}, info(), True),
        ({"images": ["nginx*"]}, info(), False),
        ({"names": ["db-*"], "images": ["*web*"]}, info(), True),  # any of names, ids, images
        ({"names": ["web-*"], "labels": {"team": "search"}}, info(), False),  # and every label
    ],
)
def test_container_selection(settings: dict, container: ContainerInfo, selected: bool) -> None:
    assert ContainerSelector(DockerSettings(**settings)).matches(container) is selected


def test_engine_addresses() -> None:
    assert engine_endpoint("unix:///var/run/docker.sock")[1] == "http://docker"
    assert engine_endpoint("tcp://10.0.0.5:2375")[1] == "http://10.0.0.5:2375"
    with pytest.raises(ValueError, match="only unix"):
        engine_endpoint("ssh://user@host")


# -- against the engine's API -----------------------------------------------------------------


class Collected:
    """The publisher's part: events in order; acknowledged (checkpoint moved) when ``acknowledge`` says."""

    def __init__(self, acknowledge: bool = True) -> None:
        self.events: list[Event] = []
        self.acknowledge = acknowledge

    async def emit(self, key: str, event: Event, ack) -> None:
        assert key == f"{names.SOURCE_DOCKER}:{event.source.container_id}"
        self.events.append(event)
        if self.acknowledge and ack is not None:
            ack()

    def messages(self, container_id: str | None = None) -> list[str]:
        return [e.message for e in self.events if container_id is None or e.source.container_id == container_id]


async def wait_for(condition, timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not met in time")


@pytest.fixture
def engine() -> Iterator[FakeDockerEngine]:
    # A unix socket path must stay under ~100 bytes, which pytest's tmp_path does not promise.
    with (
        tempfile.TemporaryDirectory(prefix="fake-docker-", dir="/tmp") as directory,
        FakeDockerEngine(Path(directory) / "docker.sock", partial_bytes=32) as fake,
    ):
        yield fake


async def running(source: DockerInput, collected: Collected) -> asyncio.Task:
    return asyncio.create_task(source.run(collected.emit))


async def stopped(task: asyncio.Task) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_follows_selected_containers_new_ones_and_drops_exited(engine: FakeDockerEngine, tmp_path: Path) -> None:
    web = engine.create("web-1", LABELS, image="shop/web:2.1")
    console = engine.create("console", LABELS, tty=True)
    bystander = engine.create("bystander", {"team": "search"})
    engine.write(web, "started\n")
    engine.write(web, "warning: disk 91%\n", stream="stderr")
    engine.write(web, "a line longer than one partial message of thirty-two bytes\n")
    engine.write(console, "\x1b[32mready\x1b[0m\n")
    engine.write(bystander, "not for us\n")
    source = DockerInput(DockerSettings(docker_url=engine.url, labels=LABELS), CheckpointStore(tmp_path / "c.json"))
    collected = Collected()
    task = await running(source, collected)
    try:
        await wait_for(lambda: len(collected.events) == 4)
        by_message = {event.message: event for event in collected.events}
        assert by_message["warning: disk 91%"].source.stream == "stderr"
        assert by_message["started"].source.stream == "stdout"
        assert by_message["\x1b[32mready\x1b[0m"].source.container_name == "console"
        first = by_message["started"].source
        assert (first.kind, first.container_id, first.container_name, first.image, first.labels) == (
            names.SOURCE_DOCKER,
            web,
            "web-1",
            "shop/web:2.1",
            LABELS,
        )
        assert "a line longer than one partial message of thirty-two bytes" in by_message

        late = engine.create("late", LABELS)
        engine.write(late, "hello from a container started later\n")
        await wait_for(lambda: "hello from a container started later" in collected.messages(late))

        engine.write(web, "last words, no newline")
        engine.stop(web)
        await wait_for(lambda: "last words, no newline" in collected.messages(web))
        await wait_for(lambda: engine.log_streams(web) == 0 and web not in source.followers)
        assert engine.log_streams(console) == 1 and engine.log_streams(bystander) == 0
        assert not collected.messages(bystander)
    finally:
        await stopped(task)


async def test_a_restart_resumes_after_the_last_acknowledged_line(engine: FakeDockerEngine, tmp_path: Path) -> None:
    web = engine.create("web-1", LABELS)
    expected = []
    for n in range(30):
        # Three lines share each stamp, and stderr runs 0.3 s behind stdout: neither breaks resuming.
        stamp = 1_714_557_600_000_000_000 + (n // 3) * 400_000_000
        stream = "stderr" if n % 4 == 3 else "stdout"
        engine.write(web, f"line {n}\n", stream=stream, ts_ns=stamp - (300_000_000 if stream == "stderr" else 0))
        expected.append(f"line {n}")
    settings = DockerSettings(docker_url=engine.url, labels=LABELS)
    path = tmp_path / "checkpoints.json"
    first_run = LimitedAck(17)  # Kafka acknowledged the first 17 lines when the collector stopped
    checkpoints = CheckpointStore(path)
    task = await running(DockerInput(settings, checkpoints), first_run)
    await wait_for(lambda: len(first_run.events) == 30)
    await stopped(task)
    assert first_run.messages() == expected
    checkpoints.save()

    engine.write(web, "line 30\n")
    acknowledged = Collected()
    task = await running(DockerInput(settings, CheckpointStore(path)), acknowledged)
    try:
        await wait_for(lambda: "line 30" in acknowledged.messages())
        assert acknowledged.messages() == [*expected[17:], "line 30"]
        since = [request for request in engine.log_requests(web) if "since=" in request]
        assert since, "the resumed run asked the engine for everything again"
    finally:
        await stopped(task)


class LimitedAck(Collected):
    def __init__(self, limit: int) -> None:
        super().__init__(acknowledge=False)
        self.limit = limit

    async def emit(self, key: str, event: Event, ack) -> None:
        await super().emit(key, event, ack)
        if len(self.events) <= self.limit and ack is not None:
            ack()


async def test_a_removed_container_loses_its_checkpoint(engine: FakeDockerEngine, tmp_path: Path) -> None:
    web = engine.create("web-1", LABELS)
    engine.write(web, "one\n")
    checkpoints = CheckpointStore(tmp_path / "checkpoints.json")
    source = DockerInput(DockerSettings(docker_url=engine.url, labels=LABELS), checkpoints)
    collected = Collected()
    task = await running(source, collected)
    try:
        await wait_for(lambda: checkpoints.get(f"docker:{web}") is not None)
        engine.stop(web)
        engine.remove(web)
        await wait_for(lambda: checkpoints.get(f"docker:{web}") is None)
    finally:
        await stopped(task)


async def test_an_exited_container_with_a_checkpoint_is_drained_at_start(
    engine: FakeDockerEngine, tmp_path: Path
) -> None:
    web = engine.create("web-1", LABELS)
    engine.write(web, "before\n")
    checkpoints = CheckpointStore(tmp_path / "checkpoints.json")
    settings = DockerSettings(docker_url=engine.url, labels=LABELS)
    first = Collected()
    task = await running(DockerInput(settings, checkpoints), first)
    await wait_for(lambda: first.messages() == ["before"])
    await stopped(task)
    # While the collector is down the container writes its last lines and exits.
    engine.write(web, "while down\n")
    engine.stop(web)
    second = Collected()
    task = await running(DockerInput(settings, checkpoints), second)
    try:
        await wait_for(lambda: second.messages() == ["while down"])
    finally:
        await stopped(task)


async def test_streams_cut_by_the_engine_resume_without_loss_or_repeat(
    engine: FakeDockerEngine, tmp_path: Path
) -> None:
    web = engine.create("web-1", LABELS)
    for n in range(10):
        engine.write(web, f"line {n}\n")
    engine.write(web, "half a li")  # the stream is cut in the middle of this line
    source = DockerInput(DockerSettings(docker_url=engine.url, labels=LABELS), CheckpointStore(tmp_path / "c.json"))
    collected = Collected()
    task = await running(source, collected)
    try:
        await wait_for(lambda: len(collected.events) == 10)
        engine.interrupt_streams()  # as an engine restart does: logs and events streams end
        engine.write(web, "ne\n")
        for n in range(10, 15):
            engine.write(web, f"line {n}\n")
        late = engine.create("late", LABELS)  # seen only if the events stream was opened again
        engine.write(late, "after the cut\n")
        await wait_for(lambda: len(collected.events) == 17)
        assert collected.messages(web) == [f"line {n}" for n in range(10)] + ["half a line"] + [
            f"line {n}" for n in range(10, 15)
        ]
        assert collected.messages(late) == ["after the cut"]
        assert "since=" in engine.log_requests(web)[-1]
    finally:
        await stopped(task)


async def test_multiline_events_never_mix_stdout_and_stderr(engine: FakeDockerEngine, tmp_path: Path) -> None:
    web = engine.create("web-1", LABELS)
    for stream, text in [
        ("stderr", "Traceback:"),
        ("stderr", "  at a"),
        ("stderr", "  at b"),
        ("stdout", "GET / 200"),
        ("stdout", "  indented on stdout"),
        ("stderr", "Caused by:"),
        ("stdout", "tick"),
        ("stderr", "  at c"),
    ]:
        engine.write(web, text + "\n", stream=stream)
    settings = DockerSettings(
        docker_url=engine.url, labels=LABELS, multiline={"pattern": r"^\s", "what": "previous", "timeout_ms": 100}
    )
    collected = Collected()
    task = await running(DockerInput(settings, CheckpointStore(tmp_path / "c.json")), collected)
    try:
        await wait_for(lambda: len(collected.events) == 5)
        assert [(event.source.stream, event.message) for event in collected.events] == [
            ("stderr", "Traceback:\n  at a\n  at b"),
            ("stdout", "GET / 200\n  indented on stdout"),
            # An interleaved stdout line ends the stderr event: lines stay in the order they were written.
            ("stderr", "Caused by:"),
            ("stdout", "tick"),
            ("stderr", "  at c"),
        ]
    finally:
        await stopped(task)


async def test_a_container_started_again_continues_where_it_stopped(engine: FakeDockerEngine, tmp_path: Path) -> None:
    web = engine.create("web-1", LABELS)
    engine.write(web, "first run\n")
    source = DockerInput(DockerSettings(docker_url=engine.url, labels=LABELS), CheckpointStore(tmp_path / "c.json"))
    collected = Collected()
    task = await running(source, collected)
    try:
        await wait_for(lambda: collected.messages() == ["first run"])
        engine.stop(web)
        engine.start(web)  # a restart policy: same container, same log, new lines after the old ones
        engine.write(web, "second run\n")
        await wait_for(lambda: len(collected.events) >= 2)
        engine.stop(web)
        await wait_for(lambda: engine.log_streams(web) == 0 and web not in source.followers)
        assert collected.messages() == ["first run", "second run"]
    finally:
        await stopped(task)


async def test_a_stream_left_open_after_the_container_died_is_closed(
    engine: FakeDockerEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(docker_input, "DIE_GRACE_S", 0.2)
    engine.end_streams_on_exit = False
    web = engine.create("web-1", LABELS)
    source = DockerInput(DockerSettings(docker_url=engine.url, labels=LABELS), CheckpointStore(tmp_path / "c.json"))
    collected = Collected()
    task = await running(source, collected)
    try:
        await wait_for(lambda: web in source._responses)
        engine.write(web, "last words, no newline")
        engine.stop(web)
        await wait_for(lambda: web not in source.followers)
        assert collected.messages() == ["last words, no newline"]
    finally:
        await stopped(task)


async def test_start_position_end_skips_the_past_of_running_containers_only(
    engine: FakeDockerEngine, tmp_path: Path
) -> None:
    web = engine.create("web-1", LABELS)
    engine.write(web, "old news\n", ts_ns=time.time_ns() - 60 * 1_000_000_000)
    settings = DockerSettings(docker_url=engine.url, labels=LABELS, start_position="end")
    source = DockerInput(settings, CheckpointStore(tmp_path / "c.json"))
    collected = Collected()
    task = await running(source, collected)
    try:
        await wait_for(lambda: engine.log_streams(web) == 1)
        engine.write(web, "fresh\n")
        late = engine.create("late", LABELS)
        engine.write(late, "a later container is read from its first line\n", ts_ns=time.time_ns() - 10**9)
        await wait_for(lambda: len(collected.events) == 2)
        assert collected.messages(web) == ["fresh"]
        assert collected.messages(late) == ["a later container is read from its first line"]
    finally:
        await stopped(task)
