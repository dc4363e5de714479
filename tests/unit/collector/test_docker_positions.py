"""Resuming a container's log from a checkpointed position: no line lost, none repeated.

The engine is simulated in memory the way it answers ``GET /containers/{id}/logs?since=S``: every
message stamped at or after ``S`` seconds, in the order it was written, framed (or raw for a TTY).
For every line of a generated log, a collector that stopped right after that line and resumes from
its position must hand out exactly the lines that followed it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamstash.services.collector.docker_stream import MARGIN_S, ContainerLog, LogLine, Position

T0 = 1_714_557_600 * 1_000_000_000
SECOND = 1_000_000_000
PARTIAL_BYTES = 8


@dataclass(frozen=True)
class Message:
    stream: int  # 1 stdout, 2 stderr
    ts_ns: int
    content: bytes


def stamp(ts_ns: int) -> bytes:
    moment = datetime.fromtimestamp(ts_ns // SECOND, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S").encode() + b".%09dZ " % (ts_ns % SECOND)


def engine_response(messages: list[Message], tty: bool, since_s: int | None) -> bytes:
    out = bytearray()
    for message in messages:
        if since_s is not None and message.ts_ns < since_s * SECOND:
            continue
        payload = stamp(message.ts_ns) + message.content
        out += payload if tty else struct.pack(">BxxxI", message.stream, len(payload)) + payload
    return bytes(out)


def read(log: ContainerLog, data: bytes, chunk: int) -> list[LogLine]:
    lines = []
    for start in range(0, len(data), chunk):
        lines.extend(log.feed(data[start : start + chunk]))
    return lines + log.finish()


@st.composite
def container_logs(draw: st.DrawFn) -> tuple[list[Message], bool]:
    """Lines cut into partial messages, stamps that repeat, jump seconds, and run stderr slightly behind."""
    tty = draw(st.booleans())
    messages: list[Message] = []
    clock = T0
    for _ in range(draw(st.integers(1, 20))):
        stream = 1 if tty else draw(st.sampled_from([1, 2]))
        text = draw(st.binary(min_size=0, max_size=20).map(lambda raw: raw.replace(b"\n", b"_")))
        body = text + (b"\r\n" if tty else b"\n")
        clock += draw(st.sampled_from([0, 0, 1, 1_000, 400_000_000, SECOND, 3 * SECOND]))
        behind = draw(st.sampled_from([0, 0, 0, 250_000_000, 900_000_000])) if stream == 2 else 0
        while body:
            # Partial messages only without a TTY: in a raw stream nothing shows where one ends.
            cut = len(body) if tty else PARTIAL_BYTES
            part, body = body[:cut], body[cut:]
            if body in (b"\n", b"\r\n"):
                part, body = part + body, b""
            messages.append(Message(stream, clock - behind, part))
            clock += draw(st.sampled_from([0, 1, 50_000_000]))
    if draw(st.booleans()):  # the container exited in the middle of a line
        messages.append(Message(1, clock, b"last words"))
    return messages, tty


def described(lines: list[LogLine]) -> list[tuple[str, bytes, int | None]]:
    return [(line.stream, line.raw, line.ts_ns) for line in lines]


@given(container_logs(), st.sampled_from([3, 64, 1 << 20]))
@settings(max_examples=100, deadline=None)
def test_resuming_after_any_line_hands_out_exactly_the_lines_after_it(log_and_tty, chunk: int) -> None:
    messages, tty = log_and_tty
    everything = read(ContainerLog(tty, max_line_bytes=1000), engine_response(messages, tty, None), chunk)
    for index, line in enumerate(everything):
        resumed_log = ContainerLog(tty, max_line_bytes=1000, position=Position.decode(line.end))
        since = resumed_log.since()
        resumed = read(resumed_log, engine_response(messages, tty, since), chunk)
        assert described(resumed) == described(everything[index + 1 :]), f"resumed after line {index}"
        # The resumed run numbers the same lines the same way, so checkpoints keep growing across runs.
        assert [(r.start, r.end) for r in resumed] == [(e.start, e.end) for e in everything[index + 1 :]]


@given(container_logs())
@settings(max_examples=100, deadline=None)
def test_positions_chain_and_grow_with_every_line(log_and_tty) -> None:
    messages, tty = log_and_tty
    lines = read(ContainerLog(tty, max_line_bytes=1000), engine_response(messages, tty, None), 7)
    previous = 0
    for line in lines:
        assert line.start == previous
        assert line.end > line.start
        previous = line.end


def test_a_lost_connection_resumes_in_the_same_run() -> None:
    messages = [Message(1, T0 + n * 300_000_000, b"line %d\n" % n) for n in range(20)]
    log = ContainerLog(tty=False, max_line_bytes=100)
    data = engine_response(messages, False, None)
    first = log.feed(data[: len(data) // 2])  # the connection breaks in the middle of a frame
    log.restart()
    rest = read(log, engine_response(messages, False, log.since()), 3)
    assert [line.raw for line in first + rest] == [b"line %d" % n for n in range(20)]


def test_lines_stamped_before_emit_from_are_consumed_but_not_handed_out() -> None:
    messages = [Message(1, T0 + n * SECOND, b"line %d\n" % n) for n in range(6)]
    log = ContainerLog(tty=False, max_line_bytes=100, emit_from_ns=T0 + 3 * SECOND)
    lines = read(log, engine_response(messages, False, None), 1000)
    assert [line.raw for line in lines] == [b"line 3", b"line 4", b"line 5"]
    assert lines[0].start == 0  # the first range handed out starts where reading started
    resumed = read(
        ContainerLog(False, 100, Position.decode(lines[0].end)),
        engine_response(messages, False, Position.decode(lines[0].end).since_s),
        1000,
    )
    assert [line.raw for line in resumed] == [b"line 4", b"line 5"]


def test_fewer_published_messages_than_counted_does_not_swallow_new_lines() -> None:
    # The engine rotated old messages away: the checkpoint counts more than it returns.
    position = Position(since_s=T0 // SECOND, stdout=5, stderr=0)
    log = ContainerLog(tty=False, max_line_bytes=100, position=position)
    newer = [Message(1, T0 + (MARGIN_S + 1) * SECOND, b"new\n")]
    assert [line.raw for line in read(log, engine_response(newer, False, log.since()), 100)] == [b"new"]
    assert log.skipped_missing == 5


@pytest.mark.parametrize("position", [Position(), Position(1_714_557_600, 3, 0), Position(4_102_444_800, 10**9, 7)])
def test_positions_round_trip_through_one_integer(position: Position) -> None:
    assert Position.decode(position.encode()) == position
