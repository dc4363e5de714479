"""What the collector's integration tests share: topics, reading logs.raw, checkpoints, a private stand-in."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from streamstash import names
from streamstash.events.envelope import Event
from streamstash.kafka.topics import ensure_topics
from streamstash.stack.manager import LocalStack, StackAddresses
from tests.helpers.kafka import read_events, read_to_end
from tests.helpers.pipelines import TestPipeline
from tests.helpers.waiting import wait_until


def create_topics(pipeline: TestPipeline, kafka: str) -> None:
    asyncio.run(ensure_topics(pipeline.config.kafka.model_copy(update={"bootstrap_servers": kafka})))


def raw_events(kafka: str, pipeline: TestPipeline) -> list[Event]:
    return read_events(kafka, pipeline.topics.raw)


def published_positions(kafka: str, pipeline: TestPipeline, timeout: float = 30) -> dict[str, int]:
    """Per checkpoint key, the furthest position the records in logs.raw carry (their headers' ranges)."""
    furthest: dict[str, int] = {}
    for record in asyncio.run(asyncio.wait_for(read_to_end(kafka, pipeline.topics.raw), timeout)):
        ranges = dict(record.headers or ()).get(names.HEADER_POSITIONS)
        for key, (_start, end, _path) in json.loads(ranges or b"{}").items():
            furthest[key] = max(furthest.get(key, end), end)
    return furthest


def file_lines(path: Path) -> dict[int, str]:
    """Every complete line of ``path`` by its byte offset."""
    lines: dict[int, str] = {}
    offset = 0
    for raw in path.read_bytes().splitlines(keepends=True):
        if raw.endswith(b"\n"):
            lines[offset] = raw[:-1].decode()
        offset += len(raw)
    return lines


def assert_every_line_exactly_once(events: list[Event], path: Path) -> None:
    expected = file_lines(path)
    inode = path.stat().st_ino
    seen = Counter((event.source.inode, event.source.offset) for event in events)
    duplicates = {position: n for position, n in seen.items() if n > 1}
    missing = [offset for offset in expected if (inode, offset) not in seen]
    assert not duplicates, f"{len(duplicates)} lines delivered more than once, e.g. {list(duplicates.items())[:5]}"
    assert not missing, f"{len(missing)} of {len(expected)} lines missing, first at offsets {missing[:5]}"
    assert len(events) == len(expected), f"{len(events)} events for {len(expected)} lines"
    for event in events:
        assert event.message == expected[event.source.offset], event


def checkpoint_offset(state_dir: Path) -> int:
    path = state_dir / "collector" / "checkpoints.json"
    try:
        positions = json.loads(path.read_text())["positions"]
    except (OSError, ValueError, KeyError):
        return -1
    return max((position["offset"] for position in positions.values()), default=-1)


def wait_until_checkpointed(state_dir: Path, size: int, timeout: float = 120) -> None:
    wait_until(
        lambda: checkpoint_offset(state_dir) >= size, timeout=timeout, message=f"checkpoint did not reach {size}"
    )


def access_lines(start: int, count: int) -> str:
    return "".join(
        f'10.0.{n % 250}.{n % 199} - - [01/May/2024:10:00:00 +0000] "GET /item/{n} HTTP/1.1" 200 '
        f'{n % 5000} "-" "bench/{n}"\n'
        for n in range(start, start + count)
    )


@dataclass
class StandIn:
    """A private local stack (this run's Kafka engine) whose Kafka a test may stop and start; never the
    shared one. Only Kafka goes away: the outage the collector has to ride out, Elasticsearch untouched."""

    stack: LocalStack
    addresses: StackAddresses

    @property
    def kafka(self) -> str:
        return self.addresses.kafka

    @property
    def elasticsearch(self) -> str:
        return self.addresses.elasticsearch

    def stop_kafka(self, hard: bool = False) -> None:
        self.stack.stop_kafka(hard=hard)

    def start_kafka(self) -> None:
        self.stack.start_kafka()


@contextmanager
def private_stand_in(directory: Path) -> Iterator[StandIn]:
    from tests.conftest import session_engine

    stack = LocalStack(directory, kafka_engine=session_engine())
    addresses = stack.up()
    try:
        yield StandIn(stack, addresses)
    finally:
        stack.down()


def wait_seconds(seconds: float) -> None:
    """Let time pass on purpose (an outage's length), never used as an assertion."""
    time.sleep(seconds)
