"""The file input on real files: rotation, truncation, globs, partial and odd lines, resuming."""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
from pathlib import Path

import pytest

from streamstash import names
from streamstash.config.collector import FileInput as FileSettings
from streamstash.config.collector import MultilineSettings
from streamstash.events.envelope import Event
from streamstash.services.collector.checkpoints import CheckpointStore
from streamstash.services.collector.inputs.file import FileInput, ReadBackoff

POLL_MS = 20


class Collected:
    """Plays the publisher: keeps what was emitted and acknowledges at once, as Kafka would."""

    def __init__(self) -> None:
        self.items: list[tuple[str, Event]] = []

    async def emit(self, key: str, event: Event, ack) -> None:
        self.items.append((key, event))
        if ack is not None:
            ack()

    @property
    def messages(self) -> list[str]:
        return [event.message for _, event in self.items]


async def wait_for(condition, timeout: float = 10.0) -> None:
    for _ in range(int(timeout / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not met in time")


class Running:
    def __init__(self, settings: FileSettings, store: CheckpointStore) -> None:
        self.collected = Collected()
        self.input = FileInput(settings, store)
        self.task: asyncio.Task | None = None

    async def __aenter__(self) -> Collected:
        self.task = asyncio.create_task(self.input.run(self.collected.emit))
        return self.collected

    async def __aexit__(self, *_exc: object) -> None:
        assert self.task is not None
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


def settings(*paths: Path | str, **overrides: object) -> FileSettings:
    return FileSettings(paths=[str(p) for p in paths], poll_interval_ms=POLL_MS, **overrides)


def append(path: Path, text: str | bytes) -> None:
    with open(path, "ab") as out:
        out.write(text.encode() if isinstance(text, str) else text)


def lines(prefix: str, count: int) -> str:
    return "".join(f"{prefix} {number}\n" for number in range(count))


async def test_rotation_by_rename_reads_the_old_file_to_its_end_and_the_new_one_from_zero(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    append(log, lines("old", 50))
    store = CheckpointStore(tmp_path / "cp.json")
    async with Running(settings(log, start_position="beginning"), store) as got:
        await wait_for(lambda: len(got.items) == 50)
        os.rename(log, tmp_path / "app.log.1")
        append(tmp_path / "app.log.1", lines("late", 5))  # the writer still holds the old file
        append(log, lines("new", 20))
        await wait_for(lambda: len(got.items) == 75)
        await asyncio.sleep(0.2)
    assert sorted(got.messages) == sorted(
        lines("old", 50).splitlines() + lines("late", 5).splitlines() + lines("new", 20).splitlines()
    )
    new_inode = os.stat(log).st_ino
    assert {event.source.offset for _, event in got.items if event.message.startswith("new")} == {
        len(lines("new", n)) for n in range(20)
    }
    assert all(event.source.inode == new_inode for _, event in got.items if event.message.startswith("new"))
    assert len({key for key, _ in got.items}) == 2  # one source per file, never mixed


async def test_copytruncate_starts_over_at_the_start_of_the_file(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    append(log, lines("before", 30))
    store = CheckpointStore(tmp_path / "cp.json")
    async with Running(settings(log, start_position="beginning"), store) as got:
        await wait_for(lambda: len(got.items) == 30)
        shutil.copy(log, tmp_path / "app.log.1")
        os.truncate(log, 0)
        await asyncio.sleep(0.1)
        append(log, lines("after", 3))
        await wait_for(lambda: len(got.items) == 33)
    assert got.messages[30:] == lines("after", 3).splitlines()
    assert [event.source.offset for _, event in got.items[30:]] == [0, len("after 0\n"), 2 * len("after 0\n")]


async def test_files_appearing_later_in_a_glob_are_read_from_their_start(tmp_path: Path) -> None:
    append(tmp_path / "a.log", lines("a-existing", 3))
    store = CheckpointStore(tmp_path / "cp.json")
    async with Running(settings(tmp_path / "*.log", exclude=["*/skip*"]), store) as got:
        await asyncio.sleep(0.1)
        append(tmp_path / "b.log", lines("b", 4))
        append(tmp_path / "skip.log", lines("skip", 4))
        append(tmp_path / "a.log", lines("a-new", 2))
        await wait_for(lambda: len(got.items) == 6)
        await asyncio.sleep(0.1)
    # start_position "end" applies to files present at start only; a.log's old lines stay unread.
    assert sorted(got.messages) == sorted(lines("b", 4).splitlines() + lines("a-new", 2).splitlines())


@pytest.mark.parametrize(("start", "expected"), [("beginning", ["x 0", "x 1", "y 0"]), ("end", ["y 0"])])
async def test_start_position(tmp_path: Path, start: str, expected: list[str]) -> None:
    log = tmp_path / "app.log"
    append(log, lines("x", 2))
    async with Running(settings(log, start_position=start), CheckpointStore(tmp_path / "cp.json")) as got:
        await asyncio.sleep(0.1)
        append(log, lines("y", 1))
        await wait_for(lambda: len(got.items) == len(expected))
    assert got.messages == expected


async def test_a_partial_last_line_waits_for_its_newline(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    append(log, "complete\npart")
    store = CheckpointStore(tmp_path / "cp.json")
    async with Running(settings(log, start_position="beginning"), store) as got:
        await wait_for(lambda: len(got.items) == 1)
        await asyncio.sleep(0.15)
        assert got.messages == ["complete"]
        assert store.get(next(iter(store.positions)))["offset"] == len("complete\n")
        append(log, "ial\n")
        await wait_for(lambda: len(got.items) == 2)
    assert got.messages == ["complete", "partial"]


async def test_invalid_utf8_nul_and_ansi_escapes(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    raw_latin1 = b"caf\xe9 cr\xe8me"
    append(log, raw_latin1 + b"\n" + b"nul\x00inside\n" + b"\x1b[31mred\x1b[0m text\n" + b"crlf\r\n")
    async with Running(settings(log, start_position="beginning"), CheckpointStore(tmp_path / "c.json")) as got:
        await wait_for(lambda: len(got.items) == 4)
    latin, nul, ansi, crlf = (event for _, event in got.items)
    assert latin.tags == [names.TAG_INVALID_UTF8]
    assert latin.message == "caf\ufffd cr\ufffdme"
    assert base64.b64decode(latin.raw_b64) == raw_latin1
    assert (nul.message, nul.tags) == ("nul\x00inside", [])
    assert (ansi.message, ansi.tags) == ("\x1b[31mred\x1b[0m text", [])
    assert crlf.message == "crlf"


async def test_a_line_over_max_line_bytes_is_truncated_and_tagged_by_default_at_one_mib(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    one_mib = 1024 * 1024
    append(log, b"A" * (3 * one_mib + 17) + b"\nafter\n")
    store = CheckpointStore(tmp_path / "cp.json")
    async with Running(settings(log, start_position="beginning"), store) as got:
        await wait_for(lambda: len(got.items) == 2)
    big, after = (event for _, event in got.items)
    assert len(big.message) == one_mib and big.tags == [names.TAG_TRUNCATED]
    assert (after.message, after.source.offset) == ("after", 3 * one_mib + 18)
    assert store.get(next(iter(store.positions)))["offset"] == log.stat().st_size


async def test_restart_resumes_after_the_last_acknowledged_line(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    append(log, lines("first", 100))
    checkpoint = tmp_path / "cp.json"
    store = CheckpointStore(checkpoint)
    async with Running(settings(log, start_position="beginning"), store) as got:
        await wait_for(lambda: len(got.items) == 100)
    store.save()
    append(log, lines("second", 10))
    async with Running(settings(log, start_position="beginning"), CheckpointStore(checkpoint)) as again:
        await wait_for(lambda: len(again.items) == 10)
        await asyncio.sleep(0.1)
    assert again.messages == lines("second", 10).splitlines()


async def test_multiline_in_the_file_input_checkpoints_the_end_of_the_last_line(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    trace = "ERROR boom\n  at a.B(B.java:1)\n  at c.D(D.java:2)\n"
    append(log, trace + "INFO next\n")
    store = CheckpointStore(tmp_path / "cp.json")
    multiline = MultilineSettings(pattern=r"^\s", what="previous", timeout_ms=100)
    async with Running(settings(log, start_position="beginning", multiline=multiline), store) as got:
        await wait_for(lambda: len(got.items) == 2)
    assert got.messages == [trace.rstrip("\n"), "INFO next"]
    assert names.TAG_MULTILINE in got.items[0][1].tags
    assert store.get(next(iter(store.positions)))["offset"] == log.stat().st_size


async def test_exit_at_eof_ends_the_input(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    append(log, lines("x", 3))
    collected = Collected()
    source = FileInput(settings(log, start_position="beginning", exit_at_eof=True), CheckpointStore(tmp_path / "c"))
    await asyncio.wait_for(source.run(collected.emit), 10)
    assert collected.messages == ["x 0", "x 1", "x 2"]


def test_a_file_that_had_lines_is_looked_at_again_soon_then_backs_off_to_the_poll() -> None:
    backoff = ReadBackoff(poll_s=1.0)
    assert backoff.due == float("-inf")  # just opened: read at once
    backoff.looked(now=10.0, read_lines=False)
    assert backoff.due == 11.0  # never had lines: the poll interval
    backoff.looked(now=11.0, read_lines=True)
    assert backoff.due == 11.0  # lines read: read on at once
    dues = []
    now = 11.0
    for _ in range(7):
        backoff.looked(now, read_lines=False)
        dues.append(backoff.due - now)
        now = backoff.due
    assert dues == pytest.approx([0.05, 0.1, 0.2, 0.4, 0.8, 1.0, 1.0])
    backoff.looked(now, read_lines=True)
    backoff.looked(now, read_lines=False)
    assert backoff.due - now == pytest.approx(0.05)


def test_the_look_again_wait_never_exceeds_a_short_poll_interval() -> None:
    backoff = ReadBackoff(poll_s=0.02)
    backoff.looked(now=0.0, read_lines=True)
    waits = []
    for now in (0.0, 1.0, 2.0):
        backoff.looked(now, read_lines=False)
        waits.append(backoff.due - now)
    assert waits == pytest.approx([0.02, 0.02, 0.02])


async def test_a_busy_file_does_not_make_idle_files_be_read_more_often(tmp_path: Path) -> None:
    """Each file backs off on its own: while one file keeps getting lines, an idle one is looked at about
    once a poll interval, not at the busy file's pace."""
    busy, idle = tmp_path / "busy.log", tmp_path / "idle.log"
    busy.write_text("")
    idle.write_text("")
    store = CheckpointStore(tmp_path / "cp.json")
    source = FileInput(
        FileSettings(paths=[str(busy), str(idle)], poll_interval_ms=400, start_position="beginning"), store
    )
    looks: dict[str, int] = {"busy.log": 0, "idle.log": 0}
    read_available = source._read_available

    async def counted(watched, sink):  # type: ignore[no-untyped-def]
        looks[Path(watched.path).name] += 1
        return await read_available(watched, sink)

    source._read_available = counted  # type: ignore[method-assign]
    collected = Collected()
    started = asyncio.get_running_loop().time()
    task = asyncio.create_task(source.run(collected.emit))
    for number in range(20):  # a line every 50 ms for a second
        append(busy, f"line {number}\n")
        await asyncio.sleep(0.05)
    await wait_for(lambda: len(collected.items) == 20)
    elapsed = asyncio.get_running_loop().time() - started
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    # The idle file: a look when opened, then one per 400 ms poll however slow the machine (the bound grows
    # with the time taken). Looked at with the busy file, it would have had a look per busy look.
    assert looks["idle.log"] <= elapsed / 0.4 + 2
    assert looks["busy.log"] > looks["idle.log"]
