"""The lumberjack decoder: frames split anywhere, compressed and nested frames, v1 data frames, and its limits."""

from __future__ import annotations

import json
import struct
import zlib

import pytest

from streamstash.services.collector.lumberjack import Data, Decoder, ProtocolError, Window, encode_ack
from tests.helpers.lumberjack import compressed, data_frame_v1, json_frame, window


def decode_in_pieces(data: bytes, piece: int, max_frame_bytes: int = 1 << 20) -> list[object]:
    decoder = Decoder(max_frame_bytes)
    frames: list[object] = []
    for start in range(0, len(data), piece):
        decoder.feed(data[start : start + piece])
        frames.extend(decoder.frames())
    assert decoder.pending_bytes == 0
    return frames


STREAM = (
    window(3)
    + json_frame(1, {"message": "one"})
    + compressed(json_frame(2, {"message": "two"}) + json_frame(3, {"message": "three"}))
    + window(1)
    + data_frame_v1(1, {"line": "legacy", "host": "h"})
)
EXPECTED = [
    Window(ord("2"), 3),
    Data(ord("2"), 1, b'{"message": "one"}'),
    Data(ord("2"), 2, b'{"message": "two"}'),
    Data(ord("2"), 3, b'{"message": "three"}'),
    Window(ord("2"), 1),
    Data(ord("1"), 1, {"line": "legacy", "host": "h"}),
]


@pytest.mark.parametrize("piece", [1, 2, 3, 7, 64, len(STREAM)])
def test_frames_come_out_whole_however_the_bytes_arrive(piece: int) -> None:
    assert decode_in_pieces(STREAM, piece) == EXPECTED


def test_nested_compression_and_big_windows() -> None:
    events = [json_frame(n, {"n": n, "pad": "x" * 300}) for n in range(1, 2001)]
    stream = window(2000) + compressed(compressed(b"".join(events[:900])) + b"".join(events[900:]))
    frames = decode_in_pieces(stream, 65536)
    assert frames[0] == Window(ord("2"), 2000)
    assert [json.loads(frame.payload)["n"] for frame in frames[1:]] == list(range(1, 2001))  # type: ignore[union-attr]


def test_a_zip_bomb_is_read_in_slices_without_holding_it_whole() -> None:
    # 64 MiB of one repeated frame, compressed to ~64 KiB: taken frame by frame, never inflated at once.
    frame = json_frame(1, {"message": "x" * 1000})
    bomb = compressed(frame * (64 * 1024 * 1024 // len(frame)), level=9)
    decoder = Decoder(1 << 20)
    decoder.feed(window(1) + bomb)
    frames = decoder.frames()
    next(frames)
    assert next(frames) == Data(ord("2"), 1, frame[10:])
    assert decoder.pending_bytes == 0


@pytest.mark.parametrize(
    ("stream", "message"),
    [
        (b"GET / HTTP/1.1\r\n", "unknown protocol version"),
        (b"\x16\x03\x01\x02\x00", "unknown protocol version"),
        (b"2X\x00\x00", "unknown frame type"),
        (b"2J" + struct.pack(">II", 1, 2_000_000), "exceeds max_frame_bytes"),
        (b"2C" + struct.pack(">I", 5) + b"nope!", "does not inflate"),
        (compressed(json_frame(1, {"a": 1})[:-3]), "ends inside a frame"),
        (b"2C" + struct.pack(">I", 4) + zlib.compress(b"2W\x00\x00\x00\x01")[:4], "ends before"),
    ],
)
def test_garbage_and_broken_limits_are_protocol_errors(stream: bytes, message: str) -> None:
    decoder = Decoder(1 << 20)
    decoder.feed(stream)
    with pytest.raises(ProtocolError, match=message):
        list(decoder.frames())


def test_acks() -> None:
    assert encode_ack(ord("2"), 2048) == b"2A\x00\x00\x08\x00"
