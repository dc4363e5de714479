"""Docker log streams in memory: multiplexed frames, TTY raw streams, the engine's timestamps, lines."""

from __future__ import annotations

import struct
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamstash.services.collector.docker_stream import (
    STDERR,
    STDOUT,
    ContainerLog,
    FramingError,
    MultiplexedFrames,
    RawMessages,
    format_nanos,
    parse_timestamp,
    since_parameter,
)

T0 = 1_714_557_600 * 1_000_000_000  # 2024-05-01T10:00:00Z


def frame(stream: int, payload: bytes) -> bytes:
    return struct.pack(">BxxxI", stream, len(payload)) + payload


def stamp(ts_ns: int) -> bytes:
    moment = datetime.fromtimestamp(ts_ns // 1_000_000_000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S").encode() + b".%09dZ " % (ts_ns % 1_000_000_000)


def feed_in_pieces(target, data: bytes, sizes: list[int]):
    out = []
    position = 0
    index = 0
    while position < len(data):
        size = sizes[index % len(sizes)] if sizes else len(data)
        out.extend(target.feed(data[position : position + size]))
        position += size
        index += 1
    return out


# -- multiplexed framing ------------------------------------------------------------------------

FRAMES = [(1, b"hello\n"), (2, b"oops\n"), (1, b""), (1, b"x" * 70_000), (2, b"\x00\x1b[31mred\x1b[0m\n")]


@pytest.mark.parametrize("sizes", [[1], [3, 1, 7], [8], [9], [4096], []], ids=str)
def test_frames_survive_any_chunking(sizes: list[int]) -> None:
    data = b"".join(frame(kind, payload) for kind, payload in FRAMES)
    decoder = MultiplexedFrames()
    assert feed_in_pieces(decoder, data, sizes) == FRAMES
    assert decoder.pending_bytes == 0


@given(
    st.lists(st.tuples(st.sampled_from([0, 1, 2]), st.binary(max_size=40)), max_size=12),
    st.lists(st.integers(1, 50), min_size=1, max_size=8),
)
@settings(max_examples=200, deadline=None)
def test_frames_split_anywhere_come_out_whole(frames: list[tuple[int, bytes]], sizes: list[int]) -> None:
    data = b"".join(frame(kind, payload) for kind, payload in frames)
    assert feed_in_pieces(MultiplexedFrames(), data, sizes) == frames


def test_header_split_waits_for_its_rest() -> None:
    decoder = MultiplexedFrames()
    data = frame(1, b"abc\n")
    assert decoder.feed(data[:5]) == []
    assert decoder.pending_bytes == 5
    assert decoder.feed(data[5:9]) == []
    assert decoder.feed(data[9:]) == [(1, b"abc\n")]


@pytest.mark.parametrize(
    "header",
    [b"\x01\x00\x01\x00\x00\x00\x00\x01", b"\x07\x00\x00\x00\x00\x00\x00\x01", b"2024-05-"],
    ids=["padding", "stream-type", "raw-text"],
)
def test_a_bad_header_is_a_framing_error(header: bytes) -> None:
    with pytest.raises(FramingError):
        MultiplexedFrames().feed(header + b"x")


def test_engine_errors_are_reported_not_emitted() -> None:
    log = ContainerLog(tty=False, max_line_bytes=1000)
    lines = log.feed(
        frame(1, stamp(T0) + b"before\n")
        + frame(3, b"error from daemon: file gone\n")
        + frame(1, stamp(T0 + 1) + b"after\n")
    )
    assert [line.raw for line in lines] == [b"before", b"after"]
    assert log.engine_errors == ["error from daemon: file gone"]


# -- TTY raw streams ----------------------------------------------------------------------------


def test_raw_messages_end_at_newlines_only() -> None:
    raw = RawMessages()
    assert raw.feed(b"a\r\nprogress 10%\rprogress 20%\r") == [b"a\r\n"]
    assert raw.feed(b"\nb") == [b"progress 10%\rprogress 20%\r\n"]
    assert raw.finish() == [b"b"]
    assert raw.finish() == []


@pytest.mark.parametrize("sizes", [[1], [2, 5], [1000]], ids=str)
def test_tty_lines_keep_stdout_and_lose_the_carriage_return(sizes: list[int]) -> None:
    data = stamp(T0) + b"first\r\n" + stamp(T0 + 5) + b"\x1b[1mbold\x1b[0m\r\n" + stamp(T0 + 9) + b"unfinished"
    log = ContainerLog(tty=True, max_line_bytes=1000)
    lines = feed_in_pieces(log, data, sizes)
    assert [(line.stream, line.raw, line.ts_ns) for line in lines] == [
        (STDOUT, b"first\r", T0),
        (STDOUT, b"\x1b[1mbold\x1b[0m\r", T0 + 5),
    ]
    last = log.finish()
    assert [(line.raw, line.ts_ns) for line in last] == [(b"unfinished", T0 + 9)]


# -- timestamps ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (b"2024-05-01T10:00:00.123456789Z ", T0 + 123_456_789),
        (b"2024-05-01T10:00:00.5Z ", T0 + 500_000_000),  # RFC3339Nano trims trailing zeros
        (b"2024-05-01T10:00:00Z ", T0),
        (b"2024-05-01T12:00:00.000000001+02:00 ", T0 + 1),
        (b"2024-05-01T07:30:00.000000000-02:30 ", T0),
    ],
)
def test_engine_timestamps_parse_to_nanoseconds(text: bytes, expected: int) -> None:
    ts_ns, rest = parse_timestamp(text + b"message text")
    assert ts_ns == expected
    assert rest == b"message text"


@pytest.mark.parametrize("text", [b"no stamp here", b"2024-05-01T10:00:00.123Z", b"2024-13-45T10:00:00Z x", b""])
def test_text_without_a_stamp_is_left_alone(text: bytes) -> None:
    assert parse_timestamp(text) == (None, text)


def test_timestamp_formatting_keeps_milliseconds_exact() -> None:
    assert format_nanos(T0 + 999_999_999) == "2024-05-01T10:00:00.999Z"
    assert format_nanos(T0 + 1_000_000) == "2024-05-01T10:00:00.001Z"
    assert format_nanos(T0 + 999_999) == "2024-05-01T10:00:00.000Z"
    assert since_parameter(T0 + 42) == "1714557600.000000042"


# -- lines ----------------------------------------------------------------------------------------


def test_partial_messages_become_one_line_with_the_first_stamp() -> None:
    # The engine cuts a long line into 16 KiB messages, each stamped; only the first stamp counts.
    data = (
        frame(1, stamp(T0 + 1) + b"A" * 10)
        + frame(2, stamp(T0 + 2) + b"err\n")
        + frame(1, stamp(T0 + 3) + b"B" * 10)
        + frame(1, stamp(T0 + 4) + b"C\n")
    )
    for sizes in ([1], [7, 2], [len(data)]):
        lines = feed_in_pieces(ContainerLog(tty=False, max_line_bytes=1000), data, sizes)
        assert [(line.stream, line.raw, line.ts_ns) for line in lines] == [
            (STDERR, b"err", T0 + 2),
            (STDOUT, b"A" * 10 + b"B" * 10 + b"C", T0 + 1),
        ]


def test_an_unfinished_last_line_waits_until_the_stream_ends() -> None:
    log = ContainerLog(tty=False, max_line_bytes=1000)
    assert log.feed(frame(1, stamp(T0) + b"no newline yet")) == []
    assert [line.raw for line in log.finish()] == [b"no newline yet"]


def test_bytes_that_are_not_text_pass_through_untouched() -> None:
    body = b"bad \xff\xfe utf-8, nul \x00 and \x1b[32mcolour\x1b[0m"
    lines = ContainerLog(tty=False, max_line_bytes=1000).feed(frame(2, stamp(T0) + body + b"\n"))
    assert [(line.stream, line.raw) for line in lines] == [(STDERR, body)]


def test_long_lines_are_cut_at_max_line_bytes_and_flagged() -> None:
    log = ContainerLog(tty=False, max_line_bytes=64)
    lines = log.feed(
        frame(1, stamp(T0) + b"x" * 50)
        + frame(1, stamp(T0 + 1) + b"y" * 50 + b"\n")
        + frame(1, stamp(T0 + 2) + b"short\n")
    )
    assert [(line.raw, line.truncated) for line in lines] == [(b"x" * 50 + b"y" * 14, True), (b"short", False)]


def test_a_message_without_a_stamp_is_still_a_line() -> None:
    lines = ContainerLog(tty=False, max_line_bytes=100).feed(frame(1, b"plain\n"))
    assert [(line.raw, line.ts_ns) for line in lines] == [(b"plain", None)]
