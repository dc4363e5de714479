"""The contract between an input and the publisher."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

import msgspec

from streamstash.events.envelope import Event
from streamstash.services.collector.checkpoints import CheckpointStore

# Called by the publisher once Kafka acknowledged the event's batch, in the order events were emitted.
Acknowledge = Callable[[], None]
# emit(source_key, event, ack): the source key names where the line came from (one file, container,
# connection...) and starts with the input's kind and a colon (`tcp:host:port:peer`), which the metrics use.
Emit = Callable[[str, Event, Acknowledge | None], Awaitable[None]]


class Advance(msgspec.Struct):
    """An acknowledgement that says what it acknowledges: bytes ``[start, end)`` of checkpoint ``key``.

    The publisher writes these ranges into the Kafka record's headers, so after a crash the
    collector can tell which lines already reached ``logs.raw`` (see ``recovery.py``) and a
    batch replayed from the disk spill can move the checkpoint without the closure it lost.
    A msgspec struct because inputs make one per line, and it constructs several times faster
    than a dataclass.
    """

    checkpoints: CheckpointStore
    key: str
    path: str
    start: int
    end: int

    def __call__(self) -> None:
        self.checkpoints.set(self.key, {"path": self.path, "offset": self.end})


class SenderKeeps:
    """An acknowledgement to a sender that keeps its events until they are acknowledged, and sends them again
    otherwise (a Beat). The publisher treats such lines as it treats a file's: they wait for room in memory
    rather than go to the disk spill (the sender is their buffer), and what Kafka has not taken at stop is left
    to the sender rather than kept for the next run, which would only double it."""

    __slots__ = ()

    def __call__(self) -> None:
        raise NotImplementedError


class Input(Protocol):
    name: str

    async def run(self, emit: Emit) -> None:
        """Read until cancelled (or, for finite inputs, until the end); ``emit(source_key, event, ack)``."""
