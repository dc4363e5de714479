"""Property-based fuzzing of the code that meets untrusted text first: the grok compiler and the collector's
framers and syslog parser. Random input may only ever raise the documented error, and framing is lossless."""

from __future__ import annotations

import itertools
import re
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streamstash.grok import Grok, GrokError, load_pattern_library
from streamstash.services.collector.docker_stream import FRAME_HEADER, FramingError, MultiplexedFrames, RawMessages
from streamstash.services.collector.framing import FrameSplitter
from streamstash.services.collector.syslog import SyslogLine, parse_syslog

LIBRARY_NAMES = sorted(load_pattern_library())
FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Compiling grok expressions (static backtracking analysis plus two regex engines) is costly: fewer examples.
FUZZ_GROK = settings(FUZZ, max_examples=30)

REGEX_FRAGMENTS = [
    "(",
    ")",
    "[",
    "]",
    "{2,}",
    "*",
    "+?",
    "\\",
    "\\d+",
    "(?<name>\\w+)",
    "(?P<x>a)",
    "|",
    "^",
    "$",
    "(?:",
    "[^a-",
    "a{3}",
    "(?=b)",
    "\\k<name>",
    "(?#c)",
    "%{",
    "}",
    ":",
    "%",
    "%{}",
    "%{:x}",
]
FIELD_NAMES = st.sampled_from(["a", "b", "host", "[nested][field]", "x.y", "", "@ts", "a:b"])
TYPES = st.sampled_from(["", ":int", ":float", ":bool", ":string", ":weird"])


@st.composite
def grok_reference(draw: st.DrawFn) -> str:
    name = draw(st.one_of(st.sampled_from(LIBRARY_NAMES), st.sampled_from(["NOPE", "lower", "A B", ""])))
    if draw(st.booleans()):
        return f"%{{{name}}}"
    return f"%{{{name}:{draw(FIELD_NAMES)}{draw(TYPES)}}}"


GROK_PIECES = st.one_of(grok_reference(), st.sampled_from(REGEX_FRAGMENTS), st.text(max_size=6))


@FUZZ_GROK
@given(pieces=st.lists(GROK_PIECES, min_size=1, max_size=8), sample=st.text(max_size=80))
def test_grok_compiles_or_raises_grok_error(pieces: list[str], sample: str) -> None:
    try:
        grok = Grok(["".join(pieces)])
    except GrokError:
        return
    result = grok.match(sample)
    assert isinstance(result.matched, bool)


@FUZZ_GROK
@given(name=st.sampled_from(LIBRARY_NAMES), field=st.from_regex(r"[a-z]{1,8}", fullmatch=True))
def test_every_library_pattern_compiles_with_a_capture(name: str, field: str) -> None:
    try:
        Grok([f"%{{{name}:{field}}}"])
    except GrokError as error:  # only a documented refusal, with a message saying why
        assert str(error)


def _chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({cut % (len(data) + 1) for cut in cuts} | {0, len(data)})
    return [data[start:end] for start, end in itertools.pairwise(points)]


@FUZZ
@given(
    data=st.binary(max_size=400),
    cuts=st.lists(st.integers(0, 400), max_size=8),
    framing=st.sampled_from(["auto", "newline", "octet-counting"]),
    max_bytes=st.integers(1, 64),
)
def test_frame_splitter_never_raises_and_bounds_frames(
    data: bytes, cuts: list[int], framing: str, max_bytes: int
) -> None:
    splitter = FrameSplitter(framing, max_bytes)  # type: ignore[arg-type]
    frames = [frame for chunk in _chunked(data, cuts) for frame in splitter.feed(chunk)] + splitter.finish()
    assert all(len(frame.data) <= max_bytes for frame in frames)
    assert sum(len(frame.data) for frame in frames) <= len(data)


@FUZZ
@given(
    lines=st.lists(st.binary(max_size=40).filter(lambda line: b"\n" not in line), min_size=1, max_size=20),
    cuts=st.lists(st.integers(0, 1000), max_size=8),
)
def test_newline_framing_round_trips(lines: list[bytes], cuts: list[int]) -> None:
    splitter = FrameSplitter("newline", 64)
    stream = b"".join(line + b"\n" for line in lines)
    frames = [frame for chunk in _chunked(stream, cuts) for frame in splitter.feed(chunk)] + splitter.finish()
    assert [frame.data for frame in frames] == lines
    assert all(not frame.tags for frame in frames)


@FUZZ
@given(
    messages=st.lists(
        st.binary(min_size=1, max_size=40).filter(lambda m: not m.endswith(b"\n")), min_size=1, max_size=20
    ),
    cuts=st.lists(st.integers(0, 1000), max_size=8),
)
def test_octet_counting_round_trips(messages: list[bytes], cuts: list[int]) -> None:
    splitter = FrameSplitter("octet-counting", 64)
    stream = b"".join(f"{len(message)} ".encode() + message for message in messages)
    frames = [frame for chunk in _chunked(stream, cuts) for frame in splitter.feed(chunk)] + splitter.finish()
    assert [frame.data for frame in frames] == messages
    assert all(not frame.tags for frame in frames)


@FUZZ
@given(data=st.binary(max_size=300), cuts=st.lists(st.integers(0, 300), max_size=6))
def test_docker_multiplex_random_bytes_raise_only_framing_error(data: bytes, cuts: list[int]) -> None:
    frames = MultiplexedFrames()
    try:
        for chunk in _chunked(data, cuts):
            for kind, payload in frames.feed(chunk):
                assert isinstance(kind, int) and isinstance(payload, bytes)
    except FramingError:
        pass


@FUZZ
@given(
    payloads=st.lists(st.tuples(st.sampled_from([1, 2]), st.binary(max_size=50)), min_size=1, max_size=15),
    cuts=st.lists(st.integers(0, 2000), max_size=8),
)
def test_docker_multiplex_round_trips(payloads: list[tuple[int, bytes]], cuts: list[int]) -> None:
    stream = b"".join(FRAME_HEADER.pack(kind, b"\x00\x00\x00", len(payload)) + payload for kind, payload in payloads)
    frames = MultiplexedFrames()
    got = [frame for chunk in _chunked(stream, cuts) for frame in frames.feed(chunk)]
    assert got == payloads
    assert frames.pending_bytes == 0


@FUZZ
@given(data=st.binary(max_size=300), cuts=st.lists(st.integers(0, 300), max_size=6))
def test_raw_tty_messages_round_trip(data: bytes, cuts: list[int]) -> None:
    messages = RawMessages()
    pieces = [piece for chunk in _chunked(data, cuts) for piece in messages.feed(chunk)] + messages.finish()
    assert b"".join(pieces) == data


@FUZZ
@given(
    line=st.one_of(
        st.text(max_size=200),
        st.builds(lambda pri, rest: f"<{pri}>{rest}", st.integers(0, 99999), st.text(max_size=200)),
    )
)
def test_syslog_parser_never_raises(line: str) -> None:
    parsed = parse_syslog(line)
    assert parsed is None or isinstance(parsed, SyslogLine)
    assert (parsed is None) == (re.match(r"<\d{1,5}>", line) is None)  # None means "no <PRI>", nothing else


def test_bad_docker_header_is_a_framing_error() -> None:
    with pytest.raises(FramingError):
        MultiplexedFrames().feed(struct.pack(">B3sI", 9, b"\x00\x00\x00", 1) + b"x")
