"""The lumberjack protocol (v2, as Filebeat and the other Beats speak it, and v1's data frames), free of I/O.

A sender opens a window (`2W` + count), sends that many data frames (`2J` + sequence + length + JSON, or v1's
`1D` key/value pairs), possibly inside compressed frames (`2C` + length + zlib of more frames), and waits for
the receiver's acknowledgement (`2A` + the sequence of the last frame taken, which acknowledges every frame
before it too). Sequences count from 1 in each window. See logstash-input-beats' PROTOCOL.md and Elastic's
go-lumber.

:class:`Decoder` takes bytes as they arrive and yields whole frames; a compressed frame is inflated in slices as
its frames are taken, so a small frame that inflates to gigabytes (a zip bomb) costs no more memory than one
slice, and frames larger than ``max_frame_bytes`` are refused before they are buffered.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

VERSION_1 = ord("1")
VERSION_2 = ord("2")
WINDOW = ord("W")
JSON = ord("J")
DATA = ord("D")
COMPRESSED = ord("C")
ACK = ord("A")

# Output of one inflate step: bounds the memory a compressed frame costs, whatever it inflates to.
INFLATE_SLICE = 256 * 1024
# Compressed frames inside compressed frames are legal; deeper than this is an attack, not a Beat.
MAX_NESTING = 2

_UINT32 = struct.Struct(">I")
_TWO_UINT32 = struct.Struct(">II")


class ProtocolError(Exception):
    """The peer does not speak lumberjack (or broke a limit): the connection is closed."""


@dataclass(slots=True)
class Window:
    version: int
    size: int


@dataclass(slots=True)
class Data:
    version: int
    sequence: int
    payload: bytes | dict[str, str]  # JSON text (v2) or the pairs of a v1 data frame


Frame = Window | Data


def encode_ack(version: int, sequence: int) -> bytes:
    return bytes((version, ACK)) + _UINT32.pack(sequence)


class Decoder:
    def __init__(self, max_frame_bytes: int, _depth: int = 0) -> None:
        self.max_frame_bytes = max_frame_bytes
        self._depth = _depth
        self._buffer = bytearray()
        self._position = 0

    @property
    def pending_bytes(self) -> int:
        """Bytes received that are not a whole frame yet."""
        return len(self._buffer) - self._position

    def feed(self, data: bytes) -> None:
        if self._position:
            del self._buffer[: self._position]
            self._position = 0
        self._buffer += data

    def frames(self) -> Iterator[Frame]:
        """Every whole frame fed so far, in order; stops when the next one is incomplete."""
        buffer = self._buffer
        while True:
            available = len(buffer) - self._position
            if available < 2:
                return
            start = self._position
            version, kind = buffer[start], buffer[start + 1]
            if version not in (VERSION_1, VERSION_2):
                raise ProtocolError(f"unknown protocol version byte {version:#04x} (not a Beat? TLS expected?)")
            if kind == WINDOW:
                if available < 6:
                    return
                self._position = start + 6
                yield Window(version, _UINT32.unpack_from(buffer, start + 2)[0])
            elif kind == JSON:
                if available < 10:
                    return
                sequence, length = _TWO_UINT32.unpack_from(buffer, start + 2)
                self._check_size(length, "json frame")
                if available < 10 + length:
                    return
                self._position = start + 10 + length
                yield Data(version, sequence, bytes(buffer[start + 10 : start + 10 + length]))
            elif kind == DATA:
                parsed = self._data_frame(start, available)
                if parsed is None:
                    return
                yield parsed
            elif kind == COMPRESSED:
                if available < 6:
                    return
                length = _UINT32.unpack_from(buffer, start + 2)[0]
                self._check_size(length, "compressed frame")
                if available < 6 + length:
                    return
                compressed = bytes(buffer[start + 6 : start + 6 + length])
                self._position = start + 6 + length
                yield from self._inflate(compressed)
            else:
                raise ProtocolError(f"unknown frame type {kind:#04x}")

    def _check_size(self, length: int, what: str) -> None:
        if length > self.max_frame_bytes:
            raise ProtocolError(f"{what} of {length} bytes exceeds max_frame_bytes ({self.max_frame_bytes})")

    def _data_frame(self, start: int, available: int) -> Data | None:
        buffer = self._buffer
        if available < 10:
            return None
        sequence, pairs = _TWO_UINT32.unpack_from(buffer, start + 2)
        offset = start + 10
        end = start + available
        fields: dict[str, str] = {}
        for _ in range(pairs):
            texts = []
            for _part in range(2):
                if end - offset < 4:
                    return None
                length = _UINT32.unpack_from(buffer, offset)[0]
                self._check_size(offset + 4 + length - start, "data frame")
                if end - offset - 4 < length:
                    return None
                texts.append(bytes(buffer[offset + 4 : offset + 4 + length]).decode("utf-8", errors="replace"))
                offset += 4 + length
            fields[texts[0]] = texts[1]
        self._position = offset
        return Data(VERSION_1, sequence, fields)

    def _inflate(self, compressed: bytes) -> Iterator[Frame]:
        if self._depth >= MAX_NESTING:
            raise ProtocolError("compressed frames nested too deep")
        inflater = zlib.decompressobj()
        inner = Decoder(self.max_frame_bytes, self._depth + 1)
        data = compressed
        try:
            while True:
                inner.feed(inflater.decompress(data, INFLATE_SLICE))
                yield from inner.frames()
                data = inflater.unconsumed_tail
                if not data:
                    break
            inner.feed(inflater.flush())
        except zlib.error as exc:
            raise ProtocolError(f"compressed frame does not inflate: {exc}") from exc
        yield from inner.frames()
        if not inflater.eof:
            raise ProtocolError("compressed frame ends before its zlib stream")
        if inner.pending_bytes:
            raise ProtocolError("compressed frame ends inside a frame")
