"""The publisher's monitor: batches leave after their linger; with none open it wakes only now and then."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from streamstash import names
from streamstash.config.common import BatchSettings
from streamstash.events.envelope import Event, Source
from streamstash.runtime.metrics import ServiceMetrics
from streamstash.services.collector import publisher as publishing
from streamstash.services.collector.checkpoints import CheckpointStore
from streamstash.services.collector.inputs.base import Advance
from streamstash.services.collector.publisher import Publisher
from tests.unit.collector.test_checkpoint_interval import AcknowledgingProducer

BATCH = BatchSettings(max_events=10, linger_ms=20)  # a batch of one line leaves on the linger


async def started(tmp_path: Path) -> tuple[Publisher, CheckpointStore, AcknowledgingProducer]:
    store = CheckpointStore(tmp_path / "checkpoints.json")
    publisher = Publisher(None, "raw", BATCH, ServiceMetrics("collector"), 1_000, checkpoints=store)
    await publisher.start()
    producer = AcknowledgingProducer()
    publisher.begin(producer, {0: 0}, set())
    return publisher, store, producer


def counting_ticks(publisher: Publisher) -> list[float]:
    ticks: list[float] = []
    tick = publisher._tick

    def counted(linger: float) -> None:
        ticks.append(linger)
        tick(linger)

    publisher._tick = counted  # type: ignore[method-assign]
    return ticks


async def test_an_idle_publisher_wakes_at_its_idle_tick_not_at_half_the_linger(tmp_path: Path) -> None:
    publisher, _, _ = await started(tmp_path)
    ticks = counting_ticks(publisher)
    await asyncio.sleep(0.3)  # 30 wake-ups at linger/2; the idle tick is 0.5 s
    assert len(ticks) <= 1
    await publisher.stop(timeout=1)


async def test_a_batch_opened_while_idle_leaves_after_its_linger(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(publishing, "IDLE_TICK_S", 60.0)  # only the batch's opening can wake the monitor in time
    publisher, store, producer = await started(tmp_path)
    await asyncio.sleep(0.05)  # the monitor is waiting, idle
    event = Event(message="one line", source=Source(kind=names.SOURCE_FILE, offset=0))
    await publisher.emit("file:h:1:2", event, Advance(store, "file:1:2", "/a.log", 0, 9))
    for _ in range(100):
        if producer.offset:
            break
        await asyncio.sleep(0.05)
    assert producer.offset == 1, "the batch waited for the idle tick"
    await publisher.stop(timeout=1)


async def test_a_stop_in_the_step_a_batch_opened_in_still_stops_the_monitor(tmp_path: Path) -> None:
    publisher, store, _ = await started(tmp_path)
    await asyncio.sleep(0.05)  # the monitor is waiting, idle
    event = Event(message="one line", source=Source(kind=names.SOURCE_FILE, offset=0))
    await publisher.emit("file:h:1:2", event, Advance(store, "file:1:2", "/a.log", 0, 9))  # never yields here
    # The monitor's wait ended as the batch opened and it is cancelled in the same step: Python 3.11's
    # wait_for swallowed such a cancel (python/cpython#86296), and stop() waited for the monitor forever.
    assert await asyncio.wait_for(publisher.stop(timeout=1), 10)
