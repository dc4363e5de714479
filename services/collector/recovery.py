"""After a crash: which lines already reached ``logs.raw``, so a restart neither repeats nor skips any.

The gap: Kafka acknowledged batches, but the process died before it saved the checkpoints they
move (saves happen a few times a second). Recovery closes it, before any file is read:

1. The checkpoint file holds, per partition of ``logs.raw``, an offset at or before every record
   whose position may not have been saved (``Publisher.scan_from``: the lowest offset any batch
   still in flight can land at, else the end of our last acknowledged record), and this
   collector's instance id, which every record it produces carries in a header.
2. At start the records from those offsets to the current end are scanned (normally a few
   hundred at most). Records of this instance give their batch ids and the byte ranges
   ``[start, end)`` of the checkpoints their lines cover.
3. A checkpoint moves over ranges that continue it (``start <= offset < end``), chained: only
   lines that are in Kafka are skipped, and a range with a hole before it is not taken. (A
   source's batches are sent one after another, so there are no holes unless a send failed.)
4. Batches of the previous run still in the disk spill whose id is already in Kafka are dropped
   (they were sent, but the spill was not told); the others are sent first, and the files are
   read only after they were acknowledged, so a file's lines are never in flight twice.

Only this instance's records are looked at, so collectors on other hosts sharing the topic (and
their identical inode numbers) do not interfere. A checkpoint file without Kafka offsets (the
first run, or the first format) needs no recovery: nothing of ours can be in Kafka unsaved.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError

from streamstash import names
from streamstash.kafka.compat.internals import force_metadata_update
from streamstash.runtime.backoff import retry_delay
from streamstash.services.collector.checkpoints import CheckpointStore

log = logging.getLogger(__name__)


@dataclass
class TailScan:
    end_offsets: dict[int, int] = field(default_factory=dict)
    batch_ids: set[str] = field(default_factory=set)
    ranges: dict[str, list[tuple[int, int, str]]] = field(default_factory=dict)  # checkpoint key -> ranges
    records: int = 0


def merge_ranges(checkpoints: CheckpointStore, ranges: dict[str, list[tuple[int, int, str]]]) -> dict[str, int]:
    """Advance each checkpoint over the chain of ranges that continue it; returns the moves made."""
    moved: dict[str, int] = {}
    for checkpoint_key, found in ranges.items():
        saved = checkpoints.get(checkpoint_key)
        ordered = sorted(found)
        if saved is None:
            # Nothing of this source was saved: its first batch starts where reading started.
            offset, path = ordered[0][0], ordered[0][2]
        else:
            offset, path = int(saved.get("offset", 0)), saved.get("path", "")
        start_offset = offset
        for start, end, range_path in ordered:
            if start <= offset < end:
                offset, path = end, range_path
        if offset != start_offset:
            checkpoints.set(checkpoint_key, {"path": path, "offset": offset})
            moved[checkpoint_key] = offset
    return moved


def read_headers(headers: Any) -> dict[str, bytes]:
    return dict(headers or ())


async def scan_tail(
    consumer: AIOKafkaConsumer, topic: str, instance: str, from_offsets: dict[int, int], recovery_needed: bool
) -> TailScan:
    """Read this instance's records from ``from_offsets`` (missing partition: from its start) to the end."""
    scan = TailScan()
    partitions = consumer.partitions_for_topic(topic)
    if partitions is None:
        await force_metadata_update(consumer)
        partitions = consumer.partitions_for_topic(topic) or set()
    if not partitions:
        return scan  # the topic does not exist yet: nothing can be in it
    assignment = [TopicPartition(topic, partition) for partition in sorted(partitions)]
    consumer.assign(assignment)
    ends = await consumer.end_offsets(assignment)
    scan.end_offsets = {tp.partition: offset for tp, offset in ends.items()}
    if not recovery_needed:
        return scan
    wanted = instance.encode()
    remaining = {tp for tp in assignment if from_offsets.get(tp.partition, 0) < ends[tp]}
    if not remaining:
        return scan
    consumer.assign(sorted(remaining, key=lambda tp: tp.partition))
    for tp in remaining:
        consumer.seek(tp, from_offsets.get(tp.partition, 0))
    while remaining:
        batches = await consumer.getmany(*remaining, timeout_ms=1000)
        for tp, records in batches.items():
            for record in records:
                if record.offset >= ends[tp]:
                    break
                scan.records += 1
                headers = read_headers(record.headers)
                if headers.get(names.HEADER_COLLECTOR) != wanted:
                    continue
                batch_id = headers.get(names.HEADER_BATCH_ID)
                if batch_id:
                    scan.batch_ids.add(batch_id.decode())
                positions = headers.get(names.HEADER_POSITIONS)
                if positions:
                    for checkpoint_key, (start, end, path) in json.loads(positions).items():
                        scan.ranges.setdefault(checkpoint_key, []).append((int(start), int(end), str(path)))
        for tp in list(remaining):
            if await consumer.position(tp) >= ends[tp]:
                remaining.discard(tp)
    return scan


async def recover(make_consumer: Callable[[], AIOKafkaConsumer], topic: str, checkpoints: CheckpointStore) -> TailScan:
    """Scan the tail (retrying until Kafka answers) and move the checkpoints over what it holds."""
    recovery_needed = checkpoints.kafka_topic == topic and bool(checkpoints.kafka_offsets)
    attempt = 0
    while True:
        consumer = make_consumer()
        try:
            await consumer.start()
            scan = await scan_tail(consumer, topic, checkpoints.instance, checkpoints.kafka_offsets, recovery_needed)
            break
        except (KafkaError, OSError) as exc:
            attempt += 1
            delay = retry_delay(attempt)
            log.warning(
                "recovery cannot reach kafka, retrying; files are read once it can",
                extra={"topic": topic, "attempt": attempt, "error": repr(exc), "retry_in_s": round(delay, 2)},
            )
            await asyncio.sleep(delay)
        finally:
            await consumer.stop()
    moved = merge_ranges(checkpoints, scan.ranges)
    if recovery_needed:
        log.info(
            "recovered positions from the topic",
            extra={
                "topic": topic,
                "records_scanned": scan.records,
                "batches_of_ours": len(scan.batch_ids),
                "checkpoints_moved": moved,
            },
        )
    checkpoints.save()
    return scan


async def start_producer(make_producer: Callable[[], AIOKafkaProducer], topic: str) -> AIOKafkaProducer:
    """A started producer, retrying until Kafka answers (a failed start leaves no usable client)."""
    attempt = 0
    while True:
        producer = make_producer()
        try:
            await producer.start()
            return producer
        except (KafkaError, OSError) as exc:
            attempt += 1
            delay = retry_delay(attempt)
            log.warning(
                "cannot start the kafka producer, retrying; inputs are buffered meanwhile",
                extra={"topic": topic, "attempt": attempt, "error": repr(exc), "retry_in_s": round(delay, 2)},
            )
            with contextlib.suppress(Exception):
                await producer.stop()
            await asyncio.sleep(delay)
