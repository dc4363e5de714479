"""The contract between an input and the publisher."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from streamstash.envelope import Event

# Called by the publisher once Kafka acknowledged the event's batch, in the order events were emitted.
Acknowledge = Callable[[], None]
Emit = Callable[[str, Event, Acknowledge | None], Awaitable[None]]


class Input(Protocol):
    name: str

    async def run(self, emit: Emit) -> None:
        """Read until cancelled (or, for finite inputs, until the end); ``emit(source_key, event, ack)``."""
