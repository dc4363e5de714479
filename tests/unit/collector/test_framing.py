from __future__ import annotations

import pytest

from streamstash import names
from streamstash.services.collector.framing import FrameSplitter


def feed_bytewise(splitter: FrameSplitter, data: bytes) -> list[tuple[bytes, list[str]]]:
    frames = []
    for index in range(len(data)):
        frames += splitter.feed(data[index : index + 1])
    frames += splitter.finish()
    return [(frame.data, frame.tags) for frame in frames]


def octet(message: bytes) -> bytes:
    return str(len(message)).encode() + b" " + message


def test_newline_framing_across_chunk_boundaries_and_last_line_without_newline() -> None:
    data = b"one\ntwo\r\nthree"
    assert feed_bytewise(FrameSplitter("newline", 1024), data) == [(b"one", []), (b"two\r", []), (b"three", [])]


def test_octet_counting_frames_may_contain_newlines() -> None:
    messages = [b"<13>hello", b"<14>multi\nline", b"<15>" + b"x" * 300]
    data = b"".join(octet(message) for message in messages)
    assert feed_bytewise(FrameSplitter("octet-counting", 1024), data) == [(m, []) for m in messages]


def test_auto_recognises_octet_counting_from_the_first_frame() -> None:
    data = octet(b"<13>one") + octet(b"<13>two")
    splitter = FrameSplitter("auto", 1024)
    assert [frame.data for frame in splitter.feed(data)] == [b"<13>one", b"<13>two"]
    assert splitter.mode == "octet-counting"


@pytest.mark.parametrize("first_line", [b"200 OK", b"12345", b"hello", b"<13>syslog over newlines"])
def test_auto_falls_back_to_newlines_for_anything_else(first_line: bytes) -> None:
    splitter = FrameSplitter("auto", 1024)
    frames = feed_bytewise(splitter, first_line + b"\nsecond\n")
    assert frames == [(first_line, []), (b"second", [])]
    assert splitter.mode == "newline"


def test_over_long_newline_line_is_truncated_and_the_rest_skipped() -> None:
    splitter = FrameSplitter("newline", 100)
    frames = [f for chunk in (b"a" * 60, b"a" * 60, b"a" * 500, b"\nnext\n") for f in splitter.feed(chunk)]
    assert [(f.data, f.tags) for f in frames] == [(b"a" * 100, [names.TAG_TRUNCATED]), (b"next", [])]


def test_over_long_counted_frame_is_truncated_without_being_held_whole() -> None:
    splitter = FrameSplitter("octet-counting", 100)
    big = b"<13>" + b"b" * 10_000
    frames = splitter.feed(octet(big)[:200])
    assert [(f.data, f.tags) for f in frames] == [(big[:100], [names.TAG_TRUNCATED])]
    frames = splitter.feed(octet(big)[200:] + octet(b"<13>after"))
    assert len(splitter.buffer) == 0
    assert [f.data for f in frames] == [b"<13>after"]


def test_broken_octet_header_is_handed_on_tagged_up_to_the_newline() -> None:
    splitter = FrameSplitter("octet-counting", 1024)
    frames = splitter.feed(b"garbage here\n" + octet(b"<13>ok"))
    assert [(f.data, f.tags) for f in frames] == [(b"garbage here", [names.TAG_FRAMING_ERROR]), (b"<13>ok", [])]


def test_connection_closed_inside_a_counted_frame_keeps_what_arrived_tagged() -> None:
    splitter = FrameSplitter("octet-counting", 1024)
    assert splitter.feed(b"20 <13>short") == []
    assert [(f.data, f.tags) for f in splitter.finish()] == [(b"20 <13>short", [names.TAG_FRAMING_ERROR])]


def test_trailing_newlines_after_counted_frames_are_ignored() -> None:
    splitter = FrameSplitter("octet-counting", 1024)
    frames = splitter.feed(octet(b"<13>a") + b"\n" + octet(b"<13>b") + b"\r\n")
    assert [f.data for f in frames + splitter.finish()] == [b"<13>a", b"<13>b"]
