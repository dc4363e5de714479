from __future__ import annotations

import asyncio
import base64

from streamstash import names
from streamstash.config.collector import MultilineSettings
from streamstash.events.envelope import Event, Source
from streamstash.services.collector.checkpoints import CheckpointStore
from streamstash.services.collector.inputs.base import Advance
from streamstash.services.collector.multiline import MultilineEmit, MultilineJoiner, line_sink

JAVA_TRACE = MultilineSettings(pattern=r"^\s+at |^Caused by:|^\s+\.\.\. \d+ more", what="previous")
INDENTED = MultilineSettings(pattern=r"^\s", what="previous")


def line(message: str, offset: int = 0, tags: list[str] | None = None, raw: bytes | None = None) -> Event:
    return Event(
        message=message,
        source=Source(kind=names.SOURCE_FILE, path="/app.log", offset=offset),
        tags=list(tags or []),
        raw_b64=base64.b64encode(raw).decode() if raw is not None else None,
    )


def push_all(joiner: MultilineJoiner, key: str, messages: list[str]) -> list[str]:
    out = []
    for number, message in enumerate(messages):
        out += [event.message for _, event, _ in joiner.push(key, line(message, number), None, now=0.0)]
    return out


def test_java_stack_trace_is_one_event_and_the_next_line_starts_another() -> None:
    joiner = MultilineJoiner(JAVA_TRACE)
    trace = [
        "2024-05-01 ERROR boom",
        "java.lang.IllegalStateException: bad",
        "    at a.B.c(B.java:10)",
        "    at a.D.e(D.java:20)",
        "Caused by: java.io.IOException: disk",
        "    ... 3 more",
    ]
    emitted = push_all(joiner, "k", [*trace, "2024-05-01 INFO next"])
    # "java.lang..." does not match the pattern, so with what: previous it starts its own event.
    assert emitted == ["2024-05-01 ERROR boom", "\n".join(trace[1:])]
    assert [event.message for _, event, _ in joiner.flush_all()] == ["2024-05-01 INFO next"]


def test_negate_joins_every_line_not_starting_with_a_timestamp() -> None:
    settings = MultilineSettings(pattern=r"^\d{4}-\d\d-\d\d ", negate=True, what="previous")
    joiner = MultilineJoiner(settings)
    emitted = push_all(joiner, "k", ["2024-05-01 ERROR boom", "java.lang.X: y", "\tat a.b", "2024-05-01 INFO ok"])
    assert emitted == ["2024-05-01 ERROR boom\njava.lang.X: y\n\tat a.b"]
    assert [e.message for _, e, _ in joiner.flush_all()] == ["2024-05-01 INFO ok"]


def test_what_next_joins_a_line_ending_in_backslash_with_the_following_one() -> None:
    joiner = MultilineJoiner(MultilineSettings(pattern=r"\\$", what="next"))
    emitted = push_all(joiner, "k", ["one \\", "two \\", "three", "four"])
    assert emitted == ["one \\\ntwo \\\nthree", "four"]
    assert joiner.groups == {}


def test_sources_never_share_an_event() -> None:
    joiner = MultilineJoiner(INDENTED)
    ready = []
    ready += joiner.push("file-a", line("a1"), None, 0)
    ready += joiner.push("file-b", line("b1"), None, 0)
    ready += joiner.push("file-a", line("  a2"), None, 0)
    ready += joiner.push("file-b", line("  b2"), None, 0)
    ready += joiner.flush_all()
    assert sorted((key, event.message) for key, event, _ in ready) == [("file-a", "a1\n  a2"), ("file-b", "b1\n  b2")]


def test_max_lines_flushes_and_tags() -> None:
    joiner = MultilineJoiner(MultilineSettings(pattern=r"^\s", what="previous", max_lines=3))
    emitted = []
    for number, message in enumerate(["head", " 1", " 2", " 3", " 4"]):
        emitted += joiner.push("k", line(message, number), None, 0)
    assert [e.message for _, e, _ in emitted] == ["head\n 1\n 2"]
    assert names.TAG_MULTILINE_MAX_LINES in emitted[0][1].tags
    rest = joiner.flush_all()[0][1]
    assert rest.message == " 3\n 4" and names.TAG_MULTILINE in rest.tags


def test_timeout_flushes_a_group_that_got_no_next_line() -> None:
    joiner = MultilineJoiner(MultilineSettings(pattern=r"^\s", timeout_ms=500))
    joiner.push("k", line("head"), None, now=10.0)
    joiner.push("k", line("  more"), None, now=10.2)
    assert joiner.expire(now=10.6) == []  # 0.4 s since the last line
    (expired,) = joiner.expire(now=10.8)
    assert expired[1].message == "head\n  more"


def test_joined_event_keeps_first_source_tags_of_all_lines_and_original_bytes() -> None:
    joiner = MultilineJoiner(INDENTED)
    joiner.push("k", line("head", offset=100), None, 0)
    joiner.push("k", line("  caf\ufffd", offset=105, tags=[names.TAG_INVALID_UTF8], raw=b"  caf\xe9"), None, 0)
    ((_, event, _),) = joiner.flush_all()
    assert event.source.offset == 100
    assert event.tags == [names.TAG_INVALID_UTF8, names.TAG_MULTILINE]
    assert base64.b64decode(event.raw_b64) == b"head\n  caf\xe9"


def test_joined_event_acknowledges_from_its_first_line_to_the_end_of_its_last(tmp_path) -> None:
    store = CheckpointStore(tmp_path / "cp.json")
    joiner = MultilineJoiner(INDENTED)
    joiner.push("k", line("head"), Advance(store, "file:1:2", "/app.log", 0, 5), 0)
    joiner.push("k", line("  x"), Advance(store, "file:1:2", "/app.log", 5, 9), 0)
    ((_, _, ack),) = joiner.push("k", line("next"), Advance(store, "file:1:2", "/app.log", 9, 14), 0)
    assert ack == Advance(store, "file:1:2", "/app.log", 0, 9)
    ack()
    assert store.get("file:1:2") == {"path": "/app.log", "offset": 9}


def test_single_lines_pass_through_unchanged() -> None:
    joiner = MultilineJoiner(INDENTED)
    first = line("one")
    joiner.push("k", first, None, 0)
    ((_, event, _),) = joiner.push("k", line("two"), None, 0)
    assert event is first and event.tags == []


async def test_multiline_emit_flushes_on_timeout_and_on_close() -> None:
    received: list[tuple[str, str]] = []

    async def emit(key, event, ack):
        received.append((key, event.message))

    async with MultilineEmit(MultilineSettings(pattern=r"^\s", timeout_ms=50), emit) as sink:
        await sink.emit("k", line("head"), None)
        await sink.emit("k", line("  tail"), None)
        for _ in range(100):
            if received:
                break
            await asyncio.sleep(0.02)
        assert received == [("k", "head\n  tail")]
        await sink.emit("k", line("last"), None)
    assert received[-1] == ("k", "last")  # closing hands on what is still grouped


async def test_without_settings_the_sink_is_the_emit_itself() -> None:
    async def emit(key, event, ack):
        return None

    async with line_sink(None, emit) as sink:
        assert sink.emit is emit
