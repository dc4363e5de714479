"""A container's log stream as the Docker Engine sends it, turned into lines and resumable positions.

Framing. ``GET /containers/{id}/logs`` answers a container without a TTY with a multiplexed
stream: frames of an 8-byte header (stream type: 0 stdin, 1 stdout, 2 stderr, 3 engine error;
three zero bytes; payload length as uint32 big-endian) and the payload. The engine writes one
frame per log *message*: a line, or a 16 KiB piece of a longer one (a "partial" message, without
its newline). A TTY container gets the raw bytes instead, stdout only, messages ended by newlines.
HTTP chunks cut frames anywhere, so headers and payloads are reassembled here.

Timestamps. With ``timestamps=1`` every message starts with the engine's RFC 3339 stamp and a
space (``2024-05-01T10:00:00.123456789Z hello``). The first message of a line gives the line its
time; the stamps of its partial continuations are dropped rather than left inside the line.

Positions. The engine can only be asked for messages ``since`` a time, and neither stamps are
unique (several messages can share one) nor in order across streams (stdout and stderr are
stamped by separate copiers, so a stderr message may be written after a stdout one with a later
stamp). A position is therefore ``(since_s, stdout, stderr)``: asking for messages since
``since_s`` (whole seconds), the first ``stdout`` stdout messages and ``stderr`` stderr messages
returned were already published. ``since_s`` trails the newest stamp consumed by
:data:`MARGIN_S` seconds, so a message stamped slightly earlier than one already consumed is still
returned. Messages count as consumed only once the line holding their last byte was handed out,
so a position always falls between lines. :meth:`Position.encode` packs a position into one
integer that grows with every line, which is what the collector's checkpoints and crash
recovery compare.
"""

from __future__ import annotations

import calendar
import re
import struct
import time
from dataclasses import dataclass, field

STDOUT = "stdout"
STDERR = "stderr"
STREAMS = (STDOUT, STDERR)
# Stream type byte of a multiplexed frame. Stdin is only ever echoed to attached clients; it is
# read as stdout. Type 3 carries an error of the engine itself, not a line of the container.
STREAM_TYPES = {0: STDOUT, 1: STDOUT, 2: STDERR}
ENGINE_ERROR = 3
FRAME_HEADER = struct.Struct(">B3sI")
_PADDING = b"\x00\x00\x00"

# Seconds between the newest consumed stamp and the `since` asked for on resume: how far stdout
# and stderr stamps may disagree with the order the engine wrote the messages in.
MARGIN_S = 2
_COUNT_BITS = 40
_COUNT_MASK = (1 << _COUNT_BITS) - 1
_NS = 1_000_000_000
_TIMESTAMP = re.compile(rb"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d) ")


class FramingError(ValueError):
    """The bytes are not a multiplexed stream (a bad header); the connection cannot be trusted further."""


@dataclass(frozen=True, slots=True)
class Position:
    since_s: int = 0
    stdout: int = 0
    stderr: int = 0

    def encode(self) -> int:
        return _encode(self.since_s, self.stdout, self.stderr)

    @classmethod
    def decode(cls, value: int) -> Position:
        return cls(value >> (2 * _COUNT_BITS), (value >> _COUNT_BITS) & _COUNT_MASK, value & _COUNT_MASK)

    def consumed(self, stream: str) -> int:
        return self.stdout if stream == STDOUT else self.stderr


def _encode(since_s: int, stdout: int, stderr: int) -> int:
    return (since_s << (2 * _COUNT_BITS)) | (min(stdout, _COUNT_MASK) << _COUNT_BITS) | min(stderr, _COUNT_MASK)


class MultiplexedFrames:
    """Cuts a multiplexed byte stream into ``(stream type, payload)`` frames, whatever the chunking."""

    def __init__(self) -> None:
        self.rest = b""  # an incomplete frame carried over to the next chunk

    def feed(self, chunk: bytes) -> list[tuple[int, bytes]]:
        data = self.rest + chunk if self.rest else chunk
        frames: list[tuple[int, bytes]] = []
        position = 0
        available = len(data)
        unpack = FRAME_HEADER.unpack_from
        while available - position >= FRAME_HEADER.size:
            kind, padding, length = unpack(data, position)
            if padding != _PADDING or (kind not in STREAM_TYPES and kind != ENGINE_ERROR):
                raise FramingError(f"bad frame header {data[position : position + 8].hex()}")
            end = position + FRAME_HEADER.size + length
            if end > available:
                break
            frames.append((kind, data[position + FRAME_HEADER.size : end]))
            position = end
        self.rest = data[position:]
        return frames

    @property
    def pending_bytes(self) -> int:
        return len(self.rest)


class RawMessages:
    """A TTY container's raw stream: one message per newline-ended piece; an unfinished one waits."""

    def __init__(self) -> None:
        self.buffer = bytearray()

    def feed(self, chunk: bytes) -> list[bytes]:
        self.buffer += chunk
        last = self.buffer.rfind(b"\n")
        if last < 0:
            return []
        complete = bytes(self.buffer[:last])
        del self.buffer[: last + 1]
        # Only newlines end a message (a lone \r of a progress bar does not), as in the engine.
        return [piece + b"\n" for piece in complete.split(b"\n")]

    def finish(self) -> list[bytes]:
        rest = bytes(self.buffer)
        self.buffer.clear()
        return [rest] if rest else []


_second_cache: dict[bytes, int] = {}


def parse_timestamp(payload: bytes) -> tuple[int | None, bytes]:
    """``(nanoseconds since the epoch, the rest)`` of a message the engine stamped; ``(None, payload)`` if not."""
    match = _TIMESTAMP.match(payload)
    if match is None:
        return None, payload
    whole, fraction, zone = match.groups()
    seconds = _second_cache.get(whole)
    if seconds is None:
        try:
            seconds = calendar.timegm(time.strptime(whole.decode("ascii"), "%Y-%m-%dT%H:%M:%S"))
        except ValueError:
            return None, payload
        if len(_second_cache) > 4096:
            _second_cache.clear()
        _second_cache[whole] = seconds
    if zone != b"Z":
        sign = 1 if zone[:1] == b"+" else -1
        seconds -= sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    nanos = int(fraction.ljust(9, b"0")) if fraction else 0
    return seconds * _NS + nanos, payload[match.end() :]


def format_nanos(ts_ns: int) -> str:
    """``@timestamp`` (UTC, milliseconds) of a stamp in nanoseconds, without going through a float."""
    seconds, nanos = divmod(ts_ns, _NS)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{nanos // 1_000_000:03d}Z"


def since_parameter(ts_ns: int) -> str:
    """The engine's ``since`` for a stamp, at full precision (``<seconds>.<nanoseconds>``)."""
    seconds, nanos = divmod(ts_ns, _NS)
    return f"{seconds}.{nanos:09d}"


@dataclass(slots=True)
class LogLine:
    stream: str
    ts_ns: int | None  # the engine's stamp of the line's first message
    raw: bytes  # without the newline, at most max_line_bytes
    truncated: bool
    start: int  # encoded position before and after the line
    end: int


@dataclass(slots=True)
class _Line:
    data: bytearray = field(default_factory=bytearray)
    truncated: bool = False
    ts_ns: int | None = None
    seconds: list[int] = field(default_factory=list)  # stamps (s) of the messages the line is made of


class ContainerLog:
    """One container's log stream -> lines, each with the position after it. In memory, no I/O.

    ``feed`` takes the response body as it arrives; ``finish`` ends it for good (the container
    exited: an unfinished last line is a line); ``restart`` forgets a broken connection's
    unfinished lines and prepares to ask again from :attr:`position`.
    """

    def __init__(
        self, tty: bool, max_line_bytes: int, position: Position | None = None, emit_from_ns: int | None = None
    ) -> None:
        self.tty = tty
        self.max_line_bytes = max_line_bytes
        position = position or Position()
        self._parts = (position.since_s, position.stdout, position.stderr)
        # Lines stamped before this are consumed without being handed out (start_position: end).
        self.emit_from_ns = emit_from_ns
        self.engine_errors: list[str] = []
        self.skipped_missing = 0  # published messages the engine no longer returned (rotated away)
        self._returned_end = position.encode()
        self.restart()

    @property
    def position(self) -> Position:
        """After the last complete line (handed out or not)."""
        return Position(*self._parts)

    def restart(self) -> None:
        """Start over from :attr:`position`: the next request asks ``since`` it and skips what it covers."""
        position = self.position
        self._frames = MultiplexedFrames()
        self._raw = RawMessages()
        self._lines = {stream: _Line() for stream in STREAMS}
        self._counts: dict[str, dict[int, int]] = {stream: {} for stream in STREAMS}
        self._totals = dict.fromkeys(STREAMS, 0)
        self._since_s = position.since_s
        self._max_second: int | None = self._since_s + MARGIN_S if self._since_s else None
        self._requested_since = self._since_s
        self._skip = {STDOUT: position.stdout, STDERR: position.stderr}
        self._last_second = self._max_second or 0

    def since(self) -> int | None:
        """The ``since`` to ask the engine for (whole seconds), or None for the whole log."""
        return self._requested_since or None

    def feed(self, chunk: bytes) -> list[LogLine]:
        lines: list[LogLine] = []
        if self.tty:
            for message in self._raw.feed(chunk):
                self._message(STDOUT, message, lines)
        else:
            for kind, payload in self._frames.feed(chunk):
                if kind == ENGINE_ERROR:
                    self.engine_errors.append(payload.decode("utf-8", errors="replace").strip())
                    continue
                self._message(STREAM_TYPES[kind], payload, lines)
        return lines

    def finish(self) -> list[LogLine]:
        """The stream ended because the container stopped: unfinished last lines are complete."""
        lines: list[LogLine] = []
        if self.tty:
            for message in self._raw.finish():
                self._message(STDOUT, message, lines)
        for stream in STREAMS:
            line = self._lines[stream]
            if line.data or line.truncated:
                self._complete(stream, line.seconds, lines)
            elif line.seconds:  # only empty pieces: consumed, but there is no line to hand out
                self._complete(stream, line.seconds, lines, hand_out=False)
        return lines

    @property
    def unframed_bytes(self) -> int:
        """Bytes of a frame the stream ended in the middle of."""
        return self._frames.pending_bytes

    def _message(self, stream: str, payload: bytes, lines: list[LogLine]) -> None:
        ts_ns, content = parse_timestamp(payload)
        second = ts_ns // _NS if ts_ns is not None else self._last_second
        self._last_second = second
        if self._requested_since and self._skip[stream]:
            if second < self._requested_since:
                return  # an engine that ignored `since`: before the window, so published
            if self._max_second is None or second <= self._max_second:
                self._skip[stream] -= 1
                self._count(stream, second)
                return
            # Newer than anything published, yet fewer published messages came back than counted.
            self.skipped_missing += self._skip[stream]
            self._skip[stream] = 0
        elif self._requested_since and second < self._requested_since:
            return
        line = self._lines[stream]
        if line.ts_ns is None and not line.seconds:
            line.ts_ns = ts_ns
        line.seconds.append(second)
        start = 0
        while True:
            newline = content.find(b"\n", start)
            if newline < 0:
                self._append(line, content[start:] if start else content)
                return
            self._append(line, content[start:newline])
            if newline + 1 == len(content):
                self._complete(stream, line.seconds, lines)
                return
            # More lines in one message: the message counts as consumed with its last line.
            self._complete(stream, line.seconds[:-1], lines)
            line = self._lines[stream]
            line.ts_ns = ts_ns
            line.seconds.append(second)
            start = newline + 1

    def _append(self, line: _Line, piece: bytes) -> None:
        room = self.max_line_bytes - len(line.data)
        if len(piece) > room:
            line.data += piece[: max(room, 0)]
            line.truncated = True
        else:
            line.data += piece

    def _complete(self, stream: str, seconds: list[int], lines: list[LogLine], hand_out: bool = True) -> None:
        line = self._lines[stream]
        self._lines[stream] = _Line()
        for second in seconds:
            self._count(stream, second)
        totals = self._totals
        self._parts = (self._since_s, totals[STDOUT], totals[STDERR])
        if not hand_out or (
            self.emit_from_ns is not None and line.ts_ns is not None and line.ts_ns < self.emit_from_ns
        ):
            return
        end = _encode(*self._parts)
        lines.append(LogLine(stream, line.ts_ns, bytes(line.data), line.truncated, self._returned_end, end))
        self._returned_end = end

    def _count(self, stream: str, second: int) -> None:
        if self._max_second is None or second > self._max_second:
            self._max_second = second
            since = second - MARGIN_S
            if since > self._since_s:
                self._since_s = since
                for name in STREAMS:
                    counts = self._counts[name]
                    for old in [old for old in counts if old < since]:
                        self._totals[name] -= counts.pop(old)
        if second >= self._since_s:
            counts = self._counts[stream]
            counts[second] = counts.get(second, 0) + 1
            self._totals[stream] += 1
