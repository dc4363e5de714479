"""Micro-batches: events per source key gathered until a batch is full or old enough, then sealed.

A batch is sealed when it reaches ``max_events`` or ``max_bytes`` or has waited ``linger_ms``. A sealed
batch is one Kafka record: the encoded events, the acknowledgements to run once Kafka has it, and the
checkpoint ranges its lines cover (written into the record's headers, see ``recovery.py``).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from streamstash.config.common import BatchSettings
from streamstash.events.envelope import Batch, Event, encode
from streamstash.services.collector.inputs.base import Acknowledge, Advance, SenderKeeps
from streamstash.services.collector.spill import SpillRef

Positions = dict[str, list[Any]]  # checkpoint key -> [start, end, path]


@dataclass(slots=True)
class PendingBatch:
    events: list[Event] = field(default_factory=list)
    acks: list[Acknowledge] = field(default_factory=list)
    advances: dict[str, list[Advance]] = field(default_factory=dict)  # checkpoint key -> [first, last]
    size: int = 0
    started: float = field(default_factory=time.monotonic)
    kept_by_sender: bool = False  # its lines' sender sends them again unless acknowledged (SenderKeeps)


@dataclass(eq=False, slots=True)
class SealedBatch:
    key: str
    count: int
    sequence: int
    batch_id: str
    acks: list[Acknowledge]
    positions: Positions
    value: bytes | None  # None once spilled
    spilled: SpillRef | None = None
    sent_at: float | None = None
    registrations: list[tuple[int, int]] = field(default_factory=list)  # (partition, lower bound of its offset)
    handed_over: asyncio.Event = field(default_factory=asyncio.Event)  # producer.send was called (or gave up)
    kept_by_sender: bool = False


class Batcher:
    """The batches still open, one per source key."""

    def __init__(self, settings: BatchSettings) -> None:
        self.settings = settings
        self.pending: dict[str, PendingBatch] = {}
        self.opened = asyncio.Event()  # set when a batch opens: the publisher's idle monitor waits on it
        self.sequence = 0  # of the next sealed batch; batches of a previous run's spill come first

    def add(self, key: str, event: Event, ack: Acknowledge | None) -> bool:
        """Add an event; True when its batch is full and must be sealed."""
        batch = self.pending.get(key)
        if batch is None:
            batch = self.pending[key] = PendingBatch()
            self.opened.set()
        batch.events.append(event)
        if ack is not None:
            if isinstance(ack, Advance) and not isinstance(ack, SenderKeeps):
                ends = batch.advances.get(ack.key)
                if ends is None:
                    batch.advances[ack.key] = [ack, ack]
                else:
                    ends[1] = ack
            else:
                batch.acks.append(ack)
                batch.kept_by_sender = batch.kept_by_sender or isinstance(ack, SenderKeeps)
        batch.size += len(event.message or "") * 2 + 256  # envelope.encoded_size, inlined: once per line
        return len(batch.events) >= self.settings.max_events or batch.size >= self.settings.max_bytes

    def seal(self, key: str) -> SealedBatch | None:
        pending = self.pending.pop(key, None)
        if pending is None or not pending.events:
            return None
        acks = pending.acks
        positions: Positions = {}
        for checkpoint_key, (first, last) in pending.advances.items():
            positions[checkpoint_key] = [first.start, last.end, last.path]
            acks.append(last)  # the last range's acknowledgement moves the checkpoint over all of them
        sealed = SealedBatch(
            key,
            len(pending.events),
            self.sequence,
            uuid.uuid4().hex,
            acks,
            positions,
            encode(Batch(events=pending.events)),
        )
        sealed.kept_by_sender = pending.kept_by_sender
        self.sequence += 1
        return sealed

    def lingering(self, now: float, linger_s: float) -> list[str]:
        return [key for key, batch in self.pending.items() if now - batch.started >= linger_s]
