"""How often the publisher writes the checkpoint file: ``collector.checkpoint_interval_ms``."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from pydantic import ValidationError

from streamstash import names
from streamstash.config import parse_pipeline
from streamstash.config.collector import CollectorSettings
from streamstash.config.common import BatchSettings
from streamstash.events.envelope import Event, Source
from streamstash.runtime.metrics import ServiceMetrics
from streamstash.services.collector.app import build_publisher
from streamstash.services.collector.checkpoints import CheckpointStore
from streamstash.services.collector.inputs.base import Advance
from streamstash.services.collector.publisher import DEFAULT_CHECKPOINT_INTERVAL_S, Publisher

BATCH = BatchSettings(max_events=10, linger_ms=60_000)  # records leave when full, never on a timer
KEY = "file:1:2"


class AcknowledgingProducer:
    """Takes every record at once on one partition, the way Kafka acknowledges a healthy send."""

    def __init__(self) -> None:
        self.offset = 0

    async def partitions_for(self, _topic: str) -> set[int]:
        return {0}

    async def send(self, _topic: str, _value: bytes, **_kwargs: object) -> asyncio.Future[SimpleNamespace]:
        delivery: asyncio.Future[SimpleNamespace] = asyncio.get_running_loop().create_future()
        delivery.set_result(SimpleNamespace(partition=0, offset=self.offset))
        self.offset += 1
        return delivery


def on_disk(path: Path) -> int | None:
    position = json.loads(path.read_text(encoding="utf-8"))["positions"].get(KEY)
    return None if position is None else position["offset"]


async def publish_one_record(publisher: Publisher, store: CheckpointStore, first: int) -> None:
    for number in range(first, first + BATCH.max_events):
        event = Event(message=f"line {number}", source=Source(kind=names.SOURCE_FILE, offset=number))
        await publisher.emit("file:h:1:2", event, Advance(store, KEY, "/a.log", number, number + 1))
    await publisher.drain()


def test_the_setting_defaults_to_the_publishers_interval_and_refuses_negative_values() -> None:
    assert CollectorSettings().checkpoint_interval_ms == DEFAULT_CHECKPOINT_INTERVAL_S * 1000
    assert CollectorSettings(checkpoint_interval_ms=0).checkpoint_interval_ms == 0
    with pytest.raises(ValidationError):
        CollectorSettings(checkpoint_interval_ms=-1)


def test_the_collector_builds_its_publisher_with_the_pipelines_interval(tmp_path: Path) -> None:
    config = parse_pipeline("collector:\n  checkpoint_interval_ms: 2500\n", env={})
    publisher = build_publisher(config, ServiceMetrics("collector"), CheckpointStore(tmp_path / "cp.json"), None)
    assert publisher.checkpoint_interval_s == 2.5
    assert (
        build_publisher(
            parse_pipeline("{}\n", env={}), ServiceMetrics("collector"), CheckpointStore(tmp_path / "cp.json"), None
        ).checkpoint_interval_s
        == 0.5
    )


async def started(tmp_path: Path, interval_s: float) -> tuple[Publisher, CheckpointStore]:
    store = CheckpointStore(tmp_path / "checkpoints.json")
    publisher = Publisher(
        None, "raw", BATCH, ServiceMetrics("collector"), 1_000, checkpoints=store, checkpoint_interval_s=interval_s
    )
    await publisher.start()
    publisher.begin(AcknowledgingProducer(), {0: 0}, set())  # writes the file: the interval starts here
    return publisher, store


async def test_a_long_interval_leaves_the_file_behind_kafka_until_stop(tmp_path: Path) -> None:
    publisher, store = await started(tmp_path, interval_s=3600)
    await publish_one_record(publisher, store, 0)
    await publish_one_record(publisher, store, 10)
    # Acknowledged in memory, not on disk: what a kill -9 now leaves for recovery to find in logs.raw.
    assert store.get(KEY)["offset"] == 20
    assert on_disk(store.path) is None
    await publisher.stop(timeout=1)
    assert on_disk(store.path) == 20  # stopping writes whatever the interval


async def test_an_interval_of_zero_writes_the_file_on_every_acknowledgement(tmp_path: Path) -> None:
    publisher, store = await started(tmp_path, interval_s=0)
    await publish_one_record(publisher, store, 0)
    assert on_disk(store.path) == 10
    await publish_one_record(publisher, store, 10)
    assert on_disk(store.path) == 20
    await publisher.stop(timeout=1)


async def test_the_file_is_written_again_once_the_interval_has_passed(tmp_path: Path) -> None:
    publisher, store = await started(tmp_path, interval_s=0.5)
    await publish_one_record(publisher, store, 0)
    assert on_disk(store.path) is None  # acknowledged within the interval of begin()'s write
    await asyncio.sleep(0.55)
    await publish_one_record(publisher, store, 10)
    assert on_disk(store.path) == 20
    await publisher.stop(timeout=1)
