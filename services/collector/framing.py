"""Cutting a TCP byte stream into lines: newline framing and RFC 6587 octet counting (``<len> <msg>``).

:class:`FrameSplitter` is fed chunks as they arrive and returns complete frames, so it is tested
without sockets. With ``framing: auto`` the first frame of a connection decides: ``<digits> <``
(a length, then a syslog ``<PRI>``) means octet counting, anything else newline framing. Requiring
the ``<`` keeps a plain line such as ``200 OK`` from being read as a 200-byte frame.

Frames longer than ``max_bytes`` are cut to their first ``max_bytes`` and tagged ``_truncated``;
the rest is discarded as it arrives, so a huge frame never sits in memory. A frame that breaks the
octet-counting grammar is handed on up to the next newline, tagged ``_framing_error``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from streamstash import names

Framing = Literal["auto", "newline", "octet-counting"]
MAX_LENGTH_DIGITS = 9
_OCTET_HEADER = re.compile(rb"([1-9]\d{0,8}) ")
_AUTO_OCTET = re.compile(rb"[1-9]\d{0,8} <\d")


@dataclass(slots=True)
class Frame:
    data: bytes
    tags: list[str] = field(default_factory=list)


class FrameSplitter:
    def __init__(self, framing: Framing, max_bytes: int) -> None:
        self.mode: Framing = framing
        self.max_bytes = max_bytes
        self.buffer = bytearray()
        self._skip_bytes = 0  # rest of an over-long octet-counted frame, discarded as it arrives
        self._skip_line = False  # rest of an over-long newline-framed line

    def feed(self, chunk: bytes) -> list[Frame]:
        self.buffer += chunk
        frames: list[Frame] = []
        while True:
            if self._skip_bytes:
                dropped = min(self._skip_bytes, len(self.buffer))
                del self.buffer[:dropped]
                self._skip_bytes -= dropped
                if self._skip_bytes:
                    return frames
            if self.mode == "auto" and not self._decide():
                return frames
            frame = self._next_octet_frame() if self.mode == "octet-counting" else self._next_line()
            if frame is None:
                return frames
            frames.append(frame)

    def finish(self) -> list[Frame]:
        """The connection closed: what is left is a last line without its newline (or a cut frame)."""
        rest = bytes(self.buffer).rstrip(b"\r\n") if self.mode == "octet-counting" else bytes(self.buffer)
        self.buffer.clear()
        if not rest or self._skip_bytes or self._skip_line:
            return []
        tags = [names.TAG_FRAMING_ERROR] if self.mode == "octet-counting" else []
        return [self._bounded(rest, tags)]

    def _decide(self) -> bool:
        head = bytes(self.buffer[: MAX_LENGTH_DIGITS + 3])
        if not head:
            return False
        if _AUTO_OCTET.match(head):
            self.mode = "octet-counting"
            return True
        digits = len(head) - len(head.lstrip(b"0123456789"))
        if (digits == len(head) and digits <= MAX_LENGTH_DIGITS) or head[digits:] == b" ":
            return False  # "123" or "123 ": not enough yet to tell
        self.mode = "newline"
        return True

    def _next_line(self) -> Frame | None:
        newline = self.buffer.find(b"\n")
        if newline < 0:
            if not self._skip_line and len(self.buffer) > self.max_bytes:
                frame = Frame(bytes(self.buffer[: self.max_bytes]), [names.TAG_TRUNCATED])
                self.buffer.clear()
                self._skip_line = True
                return frame
            if self._skip_line:
                self.buffer.clear()
            return None
        line = bytes(self.buffer[:newline])
        del self.buffer[: newline + 1]
        if self._skip_line:
            self._skip_line = False
            return self._next_line()
        return self._bounded(line, [])

    def _next_octet_frame(self) -> Frame | None:
        while self.buffer and self.buffer[0] in b"\n\r":  # some senders end each counted frame with a newline anyway
            del self.buffer[:1]
        if not self.buffer:
            return None
        header = _OCTET_HEADER.match(self.buffer)
        if header is None:
            if self.buffer[: MAX_LENGTH_DIGITS + 1].isdigit() and len(self.buffer) <= MAX_LENGTH_DIGITS:
                return None  # the length is still arriving
            newline = self.buffer.find(b"\n")
            if newline < 0:
                if len(self.buffer) <= self.max_bytes:
                    return None
                newline = self.max_bytes
            line = bytes(self.buffer[:newline])
            del self.buffer[: newline + 1]
            return self._bounded(line, [names.TAG_FRAMING_ERROR])
        length = int(header.group(1))
        start = header.end()
        if length > self.max_bytes:
            if len(self.buffer) < start + self.max_bytes:
                return None
            frame = Frame(bytes(self.buffer[start : start + self.max_bytes]), [names.TAG_TRUNCATED])
            del self.buffer[: start + self.max_bytes]
            self._skip_bytes = length - self.max_bytes
            return frame
        if len(self.buffer) < start + length:
            return None
        data = bytes(self.buffer[start : start + length])
        del self.buffer[: start + length]
        return Frame(data.removesuffix(b"\n"))

    def _bounded(self, data: bytes, tags: list[str]) -> Frame:
        if len(data) > self.max_bytes:
            return Frame(data[: self.max_bytes], [*tags, names.TAG_TRUNCATED])
        return Frame(data, tags)
