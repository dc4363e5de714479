"""Running the probe app (probe.py) as processes, feeding it, and reading what its agent did."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.structs import TopicPartition

from tests.helpers.waiting import wait_until

REPO = Path(__file__).resolve().parents[3]
STARTUP_S = 90.0  # a Faust worker's start and first assignment, on a busy machine
WAIT_S = 60.0


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def _create_topics(bootstrap: str, topics: dict[str, int]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1) for name, partitions in topics.items()])
    finally:
        await admin.close()


def create_topics(bootstrap: str, topics: dict[str, int]) -> None:
    asyncio.run(_create_topics(bootstrap, topics))


async def _send(bootstrap: str, topic: str, partition: int, values: list[dict[str, Any]]) -> list[int]:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        sent = [
            await producer.send_and_wait(topic, json.dumps(value).encode(), partition=partition) for value in values
        ]
    finally:
        await producer.stop()
    return [metadata.offset for metadata in sent]


def send(bootstrap: str, topic: str, partition: int, values: list[dict[str, Any]]) -> list[int]:
    """One record per value (JSON) to ``topic:partition``, in order; their offsets."""
    return asyncio.run(_send(bootstrap, topic, partition, values))


async def _send_at_once(bootstrap: str, topic: str, partition: int, values: list[dict[str, Any]]) -> list[int]:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=200, max_batch_size=4 << 20)
    await producer.start()
    try:
        pending = [await producer.send(topic, json.dumps(value).encode(), partition=partition) for value in values]
        sent = [await future for future in pending]
    finally:
        await producer.stop()
    return [metadata.offset for metadata in sent]


def send_at_once(bootstrap: str, topic: str, partition: int, values: list[dict[str, Any]]) -> list[int]:
    """As ``send``, in one batch: Kafka appends them together, so a consumer's first fetch has them all."""
    return asyncio.run(_send_at_once(bootstrap, topic, partition, values))


async def _committed(bootstrap: str, group: str, topic: str, partitions: int) -> dict[int, int | None]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(
            group, partitions=[TopicPartition(topic, partition) for partition in range(partitions)]
        )
    finally:
        await admin.close()
    found: dict[int, int | None] = dict.fromkeys(range(partitions))
    for tp, meta in offsets.items():
        found[tp.partition] = meta.offset if meta.offset >= 0 else None
    return found


def committed(bootstrap: str, group: str, topic: str, partitions: int) -> dict[int, int | None]:
    """What Kafka holds as the group's committed offset per partition of ``topic`` (None: never committed)."""
    return asyncio.run(_committed(bootstrap, group, topic, partitions))


def counted(done: Iterable[int]) -> list[int]:
    """The offsets of one partition an aggregator counts, given the order the agent finished them in.

    streamstash's aggregator keeps the newest raw position it handled (per task) and takes any record at or
    below it for a duplicate: a record handled only after a later one is lost to the aggregate even though
    it was read again, and a record handled twice counts once."""
    newest = -1
    kept = []
    for offset in done:
        if offset > newest:
            kept.append(offset)
            newest = offset
    return kept


class Journal:
    """What a probe's agent and consumer did, in order (probe.py writes it)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def entries(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines() if line.endswith("}")]

    def of(self, entry: str, partition: int | None = None) -> list[dict[str, Any]]:
        return [
            item for item in self.entries() if item["e"] == entry and (partition is None or item.get("p") == partition)
        ]

    def first(self, entry: str, after: float = float("-inf")) -> float:
        """When the first ``entry`` after ``after`` was written (monotonic clock of the machine)."""
        times = [item["t"] for item in self.of(entry) if item["t"] > after]
        assert times, f"no {entry!r} in the journal after {after}"
        return float(times[0])

    def spans(self, start: str, end: str) -> list[tuple[float, float]]:
        """When each ``start`` entry was written, paired with when the next ``end`` entry was."""
        ends = [float(item["t"]) for item in self.of(end)]
        return [
            (begin, min((t for t in ends if t >= begin), default=float("inf")))
            for begin in (float(item["t"]) for item in self.of(start))
        ]

    def done_offsets(self, partition: int) -> list[int]:
        """Offsets of ``partition`` the agent finished, in the order it finished them (re-reads repeat)."""
        return [item["o"] for item in self.of("done", partition)]

    def generations(self) -> list[int]:
        return [item["g"] for item in self.of("assigned")]

    def flowing_in(self, generation: int) -> bool:
        """The flow resumed once the recovery of ``generation`` was through (its seek included)."""
        rebalanced = [item["t"] for item in self.of("rebalanced") if item["g"] == generation]
        return bool(rebalanced) and any(
            item["g"] == generation and item["t"] > rebalanced[-1] for item in self.of("flow")
        )


class Probe:
    """One probe app process (probe.py); its log and journal go to ``log_dir``."""

    def __init__(self, name: str, settings: dict[str, Any], log_dir: Path, start_after: Path | None = None) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self.journal = Journal(log_dir / f"{name}.journal")
        self.start_after = start_after
        settings = {**settings, "journal": str(self.journal.path)}
        if start_after is not None:
            settings["start_after"] = str(start_after)
        env = {**os.environ, "PROBE": json.dumps(settings), "PYTHONPATH": str(REPO)}
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in kill9()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.integration.faust_corrections.probe"],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=REPO,
        )

    def go(self) -> None:
        """Start the worker of a probe started with ``start_after``: it joins the group now."""
        assert self.start_after is not None
        self.start_after.touch()

    def _wait(self, probe: Callable[[], Any], timeout: float, what: str) -> Any:
        found = wait_until(
            lambda: probe() or self.process.poll() is not None, timeout=timeout, message=f"{self.name}: {what}"
        )
        assert self.process.poll() is None, f"{self.name} exited with {self.process.returncode} waiting for {what}"
        return found

    def wait_assigned(self) -> int:
        """The generation of the first assignment."""
        self._wait(self.journal.generations, STARTUP_S, "a first assignment")
        return self.journal.generations()[0]

    def wait_rebalanced(self) -> int:
        """The generation of the next assignment after the first: a rebalance happened."""
        self._wait(lambda: len(self.journal.generations()) >= 2, STARTUP_S, "a rebalance")
        return self.journal.generations()[-1]

    def wait_flowing(self, generation: int) -> None:
        self._wait(lambda: self.journal.flowing_in(generation), WAIT_S, f"the flow in generation {generation}")

    def wait_started(self, partition: int, offset: int) -> None:
        def started() -> bool:
            return any(item["o"] == offset for item in self.journal.of("start", partition))

        self._wait(started, STARTUP_S, f"record {partition}:{offset} started")

    def wait_done(self, partition: int, offset: int) -> None:
        self._wait(lambda: offset in self.journal.done_offsets(partition), STARTUP_S, f"record {partition}:{offset}")

    def wait_commit_round_after(self, records: list[tuple[int, int]]) -> None:
        """Until a commit round began after each of ``records`` (partition, offset) was done."""

        def round_after() -> bool:
            done_at = max(
                min(item["t"] for item in self.journal.of("done", partition) if item["o"] == offset)
                for partition, offset in records
            )
            return any(item["t"] > done_at for item in self.journal.of("commit_round"))

        self._wait(round_after, WAIT_S, "a commit round")

    def kill9(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
        self._log.close()


class Probes:
    """The probe processes of one test, all killed when it ends (their groups and topics are the test's own)."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.started: list[Probe] = []

    def start(self, name: str, settings: dict[str, Any]) -> Probe:
        probe = Probe(name, settings, self.log_dir)
        self.started.append(probe)
        return probe

    def start_later(self, name: str, settings: dict[str, Any]) -> Probe:
        """A probe whose process starts now (imports and all) and whose worker starts at ``go()``."""
        probe = Probe(name, settings, self.log_dir, start_after=self.log_dir / f"{name}.go")
        self.started.append(probe)
        return probe

    def kill_all(self) -> None:
        for probe in self.started:
            probe.kill9()
