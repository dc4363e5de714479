"""The publisher's buffering before Kafka was ever reached (nothing is sent until recovery ran)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from streamstash import names
from streamstash.config.common import BatchSettings
from streamstash.events.envelope import Event, Source
from streamstash.runtime.metrics import ServiceMetrics
from streamstash.services.collector.checkpoints import CheckpointStore
from streamstash.services.collector.inputs.base import Advance, SenderKeeps
from streamstash.services.collector.publisher import Publisher, partition_for
from streamstash.services.collector.spill import Spill

MEMORY = 1_000
BATCH = BatchSettings(max_events=100, linger_ms=10)


def event(number: int) -> Event:
    return Event(message=f"line {number} " + "x" * 200, source=Source(kind=names.SOURCE_TCP, offset=number))


async def emit_until_blocked(
    publisher: Publisher,
    key: str,
    ack_for=lambda n: None,
    check=lambda: None,
) -> int:
    """Emit until ``emit`` stops returning; ``check`` runs while it is blocked."""
    emitted = 0

    async def produce() -> None:
        nonlocal emitted
        while True:
            await publisher.emit(key, event(emitted), ack_for(emitted))
            emitted += 1

    task = asyncio.create_task(produce())
    last = -1
    while emitted != last:  # blocked once a pause of the loop sees no progress
        last = emitted
        await asyncio.sleep(0.1)
    check()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    return emitted


async def test_lines_that_cannot_be_read_again_spill_then_wait(tmp_path: Path) -> None:
    spill = Spill(tmp_path / "spill", max_bytes=256 * 1024, segment_bytes=64 * 1024)
    publisher = Publisher(None, "raw", BATCH, ServiceMetrics("collector"), MEMORY, spill=spill)
    await publisher.start()
    paused = []
    emitted = await emit_until_blocked(
        publisher, "tcp:h:1:peer", check=lambda: paused.append((publisher.blocked, publisher.ready))
    )
    assert publisher.memory_events <= MEMORY + BATCH.max_events
    assert 256 * 1024 <= spill.bytes_used < 256 * 1024 + 64 * 1024
    assert emitted == publisher.memory_events + spill.events
    assert paused == [(True, False)]
    await publisher.stop(timeout=0.1)


async def test_lines_of_files_wait_in_memory_and_are_never_spilled(tmp_path: Path) -> None:
    spill = Spill(tmp_path / "spill", max_bytes=256 * 1024, segment_bytes=64 * 1024)
    store = CheckpointStore(tmp_path / "cp.json")
    publisher = Publisher(None, "raw", BATCH, ServiceMetrics("collector"), MEMORY, checkpoints=store, spill=spill)
    await publisher.start()
    paused = []
    emitted = await emit_until_blocked(
        publisher,
        "file:h:1:2",
        lambda n: Advance(store, "file:1:2", "/a.log", n * 10, n * 10 + 10),
        check=lambda: paused.append(publisher.blocked),
    )
    assert emitted == MEMORY
    assert spill.events == 0
    assert paused == [False]  # a paused file is normal backpressure, not an alarm
    await publisher.stop(timeout=0.1)


async def test_what_kafka_did_not_take_at_stop_is_spilled_and_read_back_in_order(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path / "cp.json")
    spill = Spill(tmp_path / "spill", max_bytes=10 * 1024 * 1024, segment_bytes=64 * 1024)
    publisher = Publisher(None, "raw", BATCH, ServiceMetrics("collector"), MEMORY, checkpoints=store, spill=spill)
    await publisher.start()
    for number in range(250):
        await publisher.emit("file:h:1:2", event(number), Advance(store, "file:1:2", "/a.log", number, number + 1))
    await publisher.stop(timeout=0.1)
    assert store.get("file:1:2") is None  # nothing was acknowledged

    again = Publisher(
        None,
        "raw",
        BATCH,
        ServiceMetrics("collector"),
        MEMORY,
        checkpoints=store,
        spill=Spill(tmp_path / "spill", 10 * 1024 * 1024, 64 * 1024),
    )
    await again.start()
    left = again._left_behind
    assert [meta.count for meta, _ in left] == [100, 100, 50]
    assert [meta.positions["file:1:2"][:2] for meta, _ in left] == [[0, 100], [100, 200], [200, 250]]
    await again.stop(timeout=0.1)


def test_partitioning_matches_kafkas_default_partitioner() -> None:
    from aiokafka.partitioner import DefaultPartitioner

    partitions = [0, 1, 2, 3, 4, 5]
    for key in (b"file:h:1:2", b"tcp:h:5514:10.0.0.1:4000", b"x"):
        assert partition_for(key, partitions) == DefaultPartitioner()(key, partitions, partitions)


class _BeatAck(SenderKeeps):
    __slots__ = ("acked",)

    def __init__(self) -> None:
        self.acked = False

    def __call__(self) -> None:
        self.acked = True


async def test_lines_their_sender_keeps_wait_in_memory_and_are_left_to_it_at_stop(tmp_path: Path) -> None:
    spill = Spill(tmp_path / "spill", max_bytes=256 * 1024, segment_bytes=64 * 1024)
    publisher = Publisher(None, "raw", BATCH, ServiceMetrics("collector"), MEMORY, spill=spill)
    await publisher.start()
    acks: list[_BeatAck] = []

    def ack_for(_number: int) -> _BeatAck:
        acks.append(_BeatAck())
        return acks[-1]

    emitted = await emit_until_blocked(publisher, "beats:h:5044:peer", ack_for)
    assert emitted == MEMORY  # backpressure on the Beat, not the disk
    assert spill.events == 0
    await publisher.stop(timeout=0.1)  # Kafka never came: nothing kept for the next run, the Beat resends
    assert spill.events == 0 and Spill(tmp_path / "spill", 256 * 1024, 64 * 1024).load() == []
    assert not any(ack.acked for ack in acks)


async def test_cancel_leaves_no_send_of_a_source_running(tmp_path: Path) -> None:
    """Every batch of one source still waiting to be sent is cancelled, not only the last one sealed."""
    publisher = Publisher(None, "raw", BATCH, ServiceMetrics("collector"), MEMORY, spill=None)
    await publisher.start()
    for number in range(5 * BATCH.max_events):  # five sealed batches of one source, none sent: no recovery ran
        await publisher.emit("tcp:h:1:cancelled-peer", event(number), None)
    await asyncio.sleep(0.05)  # the last batch's linger
    sends = [task for task in asyncio.all_tasks() if task.get_name() == "send:tcp:h:1:cancelled-peer"]
    assert len(sends) == 5
    await publisher.sender.cancel()
    assert all(task.cancelled() for task in sends)
    await publisher.stop(timeout=0.1)
