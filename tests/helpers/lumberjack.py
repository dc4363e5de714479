"""Lumberjack frames written by hand, for tests that play a Beat without Go."""

from __future__ import annotations

import json
import struct
import zlib


def window(size: int) -> bytes:
    return b"2W" + struct.pack(">I", size)


def json_frame(sequence: int, event: object) -> bytes:
    payload = event if isinstance(event, bytes) else json.dumps(event).encode()
    return b"2J" + struct.pack(">II", sequence, len(payload)) + payload


def compressed(inner: bytes, level: int = 3) -> bytes:
    data = zlib.compress(inner, level)
    return b"2C" + struct.pack(">I", len(data)) + data


def data_frame_v1(sequence: int, pairs: dict[str, str]) -> bytes:
    out = b"1D" + struct.pack(">II", sequence, len(pairs))
    for key, value in pairs.items():
        for text in (key.encode(), value.encode()):
            out += struct.pack(">I", len(text)) + text
    return out


def events_window(events: list[object], compress: bool = False) -> bytes:
    frames = b"".join(json_frame(number, event) for number, event in enumerate(events, start=1))
    return window(len(events)) + (compressed(frames) if compress else frames)


def read_ack(data: bytes) -> tuple[int, int]:
    """(version, sequence) of one 6-byte ACK frame."""
    assert data[1:2] == b"A", data
    return data[0], struct.unpack(">I", data[2:6])[0]
