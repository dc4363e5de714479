"""Multiline joining (Logstash's multiline codec): continuation lines become part of one event.

Each line is tested against ``pattern`` (inverted by ``negate``). With ``what: previous`` a
matching line belongs to the line before it (indented stack-trace lines: ``^\\s``); with
``what: next`` a matching line belongs to the one after it (a trailing ``\\``). Lines are grouped
per source key only, so two files, containers or TCP connections never share an event.

A group is emitted when the rule says the event ended, when it reaches ``max_lines`` (tagged), or
when no line arrived for ``timeout_ms``. The joined event keeps the first line's source (its
offset is where the event starts) and acknowledges up to the end of its last line.

:class:`MultilineJoiner` is the logic, in memory and clock-free; :class:`MultilineEmit` wraps an
input's ``emit`` with it and a timer, so inputs only call ``sink.emit`` and ``sink.flush(key)``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from streamstash import names
from streamstash.config.collector import MultilineSettings
from streamstash.events.envelope import Event
from streamstash.services.collector.inputs.base import Acknowledge, Advance, Emit

log = logging.getLogger(__name__)

Ready = tuple[str, Event, Acknowledge | None]
CLOSE_FLUSH_TIMEOUT_S = 5.0


@dataclass
class _Group:
    events: list[Event] = field(default_factory=list)
    acks: list[Acknowledge] = field(default_factory=list)
    last_line_at: float = 0.0


def join_events(
    events: list[Event], acks: list[Acknowledge], max_lines_reached: bool = False
) -> tuple[Event, Acknowledge | None]:
    """One event from consecutive lines of one source; a single line is returned unchanged."""
    if len(events) == 1 and not max_lines_reached:
        return events[0], _join_acks(acks)
    first = events[0]
    tags: list[str] = []
    for event in events:
        for tag in event.tags:
            if tag not in tags:
                tags.append(tag)
    if len(events) > 1:
        tags.append(names.TAG_MULTILINE)
    if max_lines_reached:
        tags.append(names.TAG_MULTILINE_MAX_LINES)
    raw_b64 = None
    if any(event.raw_b64 is not None for event in events):
        # Keep the original bytes of the whole event when any of its lines was not valid UTF-8.
        raw = b"\n".join(
            base64.b64decode(e.raw_b64) if e.raw_b64 is not None else (e.message or "").encode() for e in events
        )
        raw_b64 = base64.b64encode(raw).decode("ascii")
    joined = Event(
        message="\n".join(event.message or "" for event in events),
        timestamp=first.timestamp,
        source=first.source,
        tags=tags,
        fields=first.fields,
        raw_b64=raw_b64,
    )
    return joined, _join_acks(acks)


def _join_acks(acks: list[Acknowledge]) -> Acknowledge | None:
    if not acks:
        return None
    if len(acks) == 1:
        return acks[0]
    first, last = acks[0], acks[-1]
    if (
        isinstance(first, Advance)
        and isinstance(last, Advance)
        and all(isinstance(ack, Advance) and ack.key == first.key for ack in acks)
    ):
        return Advance(first.checkpoints, first.key, last.path, first.start, last.end)

    def acknowledge_all() -> None:
        for ack in acks:
            ack()

    return acknowledge_all


class MultilineJoiner:
    def __init__(self, settings: MultilineSettings) -> None:
        self.settings = settings
        self._search = re.compile(settings.pattern).search
        self._negate = settings.negate
        self._previous = settings.what == "previous"
        self._timeout = settings.timeout_ms / 1000
        self.groups: dict[str, _Group] = {}

    def _matches(self, message: str) -> bool:
        return (self._search(message) is not None) != self._negate

    def push(self, key: str, event: Event, ack: Acknowledge | None, now: float) -> list[Ready]:
        ready: list[Ready] = []
        matches = self._matches(event.message or "")
        group = self.groups.get(key)
        if self._previous and not matches and group is not None:
            ready.extend(self.flush(key))  # a line that does not continue starts a new event
            group = None
        if group is None:
            group = self.groups[key] = _Group()
        group.events.append(event)
        if ack is not None:
            group.acks.append(ack)
        group.last_line_at = now
        if not self._previous and not matches:
            ready.extend(self.flush(key))  # what: next -- a line that does not continue ends the event
        elif len(group.events) >= self.settings.max_lines:
            ready.extend(self.flush(key, max_lines_reached=True))
        return ready

    def flush(self, key: str, max_lines_reached: bool = False) -> list[Ready]:
        group = self.groups.pop(key, None)
        if group is None or not group.events:
            return []
        event, ack = join_events(group.events, group.acks, max_lines_reached)
        return [(key, event, ack)]

    def expire(self, now: float) -> list[Ready]:
        """Groups that waited ``timeout_ms`` for a next line are complete."""
        stale = [key for key, group in self.groups.items() if now - group.last_line_at >= self._timeout]
        return [item for key in stale for item in self.flush(key)]

    def flush_all(self) -> list[Ready]:
        return [item for key in list(self.groups) for item in self.flush(key)]


class LineSink:
    """What an input writes lines to: ``emit`` per line, ``flush(key)`` when a source ends or restarts."""

    emit: Emit

    async def flush(self, key: str) -> None:
        return None

    async def __aenter__(self) -> LineSink:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        return None


class PassThrough(LineSink):
    def __init__(self, emit: Emit) -> None:
        self.emit = emit


class MultilineEmit(LineSink):
    """The joiner in front of ``emit``: one lock keeps lines and timer flushes of a source in order."""

    def __init__(self, settings: MultilineSettings, emit: Emit, clock: Callable[[], float] = time.monotonic) -> None:
        self.joiner = MultilineJoiner(settings)
        self._downstream = emit
        self._clock = clock
        self._lock = asyncio.Lock()
        self._timer: asyncio.Task[None] | None = None
        self._tick = min(0.25, max(0.01, settings.timeout_ms / 2000))

    async def emit(self, key: str, event: Event, ack: Acknowledge | None) -> None:
        async with self._lock:
            await self._send(self.joiner.push(key, event, ack, self._clock()))

    async def flush(self, key: str) -> None:
        async with self._lock:
            await self._send(self.joiner.flush(key))

    async def _send(self, ready: list[Ready]) -> None:
        for key, event, ack in ready:
            await self._downstream(key, event, ack)

    async def _expire_loop(self) -> None:
        while True:
            await asyncio.sleep(self._tick)
            if self.joiner.groups:
                async with self._lock:
                    await self._send(self.joiner.expire(self._clock()))

    async def __aenter__(self) -> MultilineEmit:
        self._timer = asyncio.create_task(self._expire_loop(), name="multiline-timeout")
        return self

    async def __aexit__(self, *_exc: object) -> None:
        if self._timer is not None:
            self._timer.cancel()
            await asyncio.gather(self._timer, return_exceptions=True)
        # Also on cancellation: lines already read are handed on rather than lost (bounded, Kafka may be down).
        with contextlib.suppress(TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(self._flush_all(), CLOSE_FLUSH_TIMEOUT_S)

    async def _flush_all(self) -> None:
        async with self._lock:
            await self._send(self.joiner.flush_all())


def line_sink(settings: MultilineSettings | None, emit: Emit) -> LineSink:
    """The sink an input writes to: ``emit`` itself, or ``emit`` behind a multiline joiner."""
    return PassThrough(emit) if settings is None else MultilineEmit(settings, emit)
