"""File input: tail files and globs like `tail -F`, resuming from acknowledged (inode, offset) checkpoints.

Checkpoints are keyed by device and inode, not path, so a file renamed by rotation is still
recognised (and finished) under its new name, and a new file at the old path starts at zero.
Each file is its own source key, so batches and multiline groups never mix two files.

Every line is acknowledged with an :class:`Advance` over the bytes from the end of the previous
line to the end of this one; the publisher writes these ranges into the records' headers, which is
how crash recovery tells exactly which lines reached Kafka.
"""

from __future__ import annotations

import asyncio
import fnmatch
import glob
import logging
import os
import socket
import time
from dataclasses import dataclass, field

from streamstash import names
from streamstash.config.collector import FileInput as FileSettings
from streamstash.events.envelope import Event, Source, format_timestamp
from streamstash.services.collector.checkpoints import CheckpointStore
from streamstash.services.collector.inputs.base import Advance, Emit
from streamstash.services.collector.lines import decode_line
from streamstash.services.collector.multiline import LineSink, line_sink

log = logging.getLogger(__name__)

# Small enough that the loop gets back to Kafka acknowledgements often while a big file is read.
READ_CHUNK = 256 * 1024
# How soon a file is looked at again after a look that found nothing, once it had lines (Filebeat's
# harvester backoff, reset on data): a file being written is read every 50 ms instead of every poll
# interval, which was up to a quarter of a second of each line's latency. Each file backs off on its own,
# doubling to the poll interval, so one busy file does not make every idle one be read 20 times a second.
READ_AGAIN_S = 0.05


class ReadBackoff:
    """When one file is next looked at: at once after lines were read; after an empty look, in a wait that
    starts short after lines and doubles up to ``poll_s``."""

    def __init__(self, poll_s: float) -> None:
        self.poll_s = poll_s
        self.wait_s = poll_s
        self.due = float("-inf")  # a file just opened is read at once

    def looked(self, now: float, read_lines: bool) -> None:
        if read_lines:
            self.wait_s = min(self.poll_s, READ_AGAIN_S)
            self.due = now
        else:
            self.due = now + self.wait_s
            self.wait_s = min(self.poll_s, self.wait_s * 2)


@dataclass
class WatchedFile:
    path: str
    identity: str  # "<device>:<inode>"
    handle: object
    offset: int  # bytes consumed into complete lines
    range_start: int  # where the next acknowledged range starts: the end of the last emitted line
    key: str  # the source key: one per file (identity), so a renamed file keeps its batches and groups
    checkpoint_key: str
    inode: int
    backoff: ReadBackoff
    pending: bytearray = field(default_factory=bytearray)
    skipping: bool = False  # inside an over-long line whose rest is being discarded


def file_identity(stat: os.stat_result) -> str:
    return f"{stat.st_dev}:{stat.st_ino}"


class FileInput:
    name = names.SOURCE_FILE

    def __init__(self, settings: FileSettings, checkpoints: CheckpointStore) -> None:
        self.settings = settings
        self.checkpoints = checkpoints
        self.host = socket.gethostname()
        self.watched: dict[str, WatchedFile] = {}  # by identity
        self._first_scan = True
        self._read_at = format_timestamp(time.time())  # @timestamp of the lines of the chunk being read
        self._max_line_bytes = settings.max_line_bytes
        self._add_fields = dict(settings.add_fields)

    async def run(self, emit: Emit) -> None:
        try:
            poll = self.settings.poll_interval_ms / 1000
            last_scan = float("-inf")
            async with line_sink(self.settings.multiline, emit) as sink:
                while True:
                    progressed = False
                    if time.monotonic() - last_scan >= poll:  # globbing per chunk would cost more than reading
                        self._discover()
                        await self._close_rotated_away(sink)
                        last_scan = time.monotonic()
                    for watched in list(self.watched.values()):
                        if watched.backoff.due <= time.monotonic():
                            read = await self._read_available(watched, sink)
                            watched.backoff.looked(time.monotonic(), read)
                            progressed |= read
                    if not progressed:
                        if self.settings.exit_at_eof and self._all_at_eof():
                            return
                        await asyncio.sleep(self._until_next_look(last_scan + poll))
        finally:
            for watched in self.watched.values():
                watched.handle.close()  # type: ignore[attr-defined]

    def _until_next_look(self, next_scan: float) -> float:
        due = min((watched.backoff.due for watched in self.watched.values()), default=next_scan)
        return max(0.0, min(due, next_scan) - time.monotonic())

    def _matching_paths(self) -> list[str]:
        found: list[str] = []
        for pattern in self.settings.paths:
            for path in sorted(glob.glob(os.path.expanduser(pattern))):
                if any(fnmatch.fnmatch(path, exclude) for exclude in self.settings.exclude):
                    continue
                if os.path.isfile(path) and path not in found:
                    found.append(path)
        return found

    def _discover(self) -> None:
        for path in self._matching_paths():
            try:
                stat = os.stat(path)
            except OSError:
                continue
            identity = file_identity(stat)
            if identity in self.watched:
                self.watched[identity].path = path  # renamed by rotation: same file, new name
                continue
            self._open(path, identity, stat)
        self._first_scan = False

    def _open(self, path: str, identity: str, stat: os.stat_result) -> None:
        saved = self.checkpoints.get(self._checkpoint_key(identity))
        if saved is not None and saved.get("offset", 0) <= stat.st_size:
            offset = int(saved["offset"])
        elif self._first_scan and self.settings.start_position == "end":
            offset = stat.st_size
        else:
            offset = 0  # a file that appears while running is read from its start, like tail -F
        try:
            handle = open(path, "rb")  # noqa: SIM115 - kept open while the file is followed
        except OSError as exc:
            log.warning("cannot open file", extra={"path": path, "error": str(exc)})
            return
        handle.seek(offset)
        self.watched[identity] = WatchedFile(
            path=path,
            identity=identity,
            handle=handle,
            offset=offset,
            range_start=offset,
            key=f"{names.SOURCE_FILE}:{self.host}:{identity}",
            checkpoint_key=self._checkpoint_key(identity),
            inode=stat.st_ino,
            backoff=ReadBackoff(self.settings.poll_interval_ms / 1000),
        )
        log.info("following file", extra={"path": path, "offset": offset})

    async def _read_available(self, watched: WatchedFile, sink: LineSink) -> bool:
        handle = watched.handle
        size = os.fstat(handle.fileno()).st_size  # type: ignore[attr-defined]
        if size < handle.tell():  # type: ignore[attr-defined] # truncated in place (copytruncate): start over
            log.info("file truncated, reading from the start", extra={"path": watched.path})
            await sink.flush(watched.key)  # the lines before and after the truncation are not one event
            handle.seek(0)  # type: ignore[attr-defined]
            watched.offset = watched.range_start = 0
            watched.pending.clear()
            watched.skipping = False
        chunk = handle.read(READ_CHUNK)  # type: ignore[attr-defined]
        if not chunk:
            return False
        self._read_at = format_timestamp(time.time())
        await self._emit_lines(watched, chunk, sink.emit)
        await asyncio.sleep(0)  # emit only yields when buffers are full: let sends and acks run
        return True

    async def _emit_lines(self, watched: WatchedFile, chunk: bytes, emit: Emit) -> None:
        start = 0
        if watched.pending or watched.skipping:
            start = await self._finish_carried_line(watched, chunk, emit)
            if start < 0:
                return
        last_newline = chunk.rfind(b"\n")
        if last_newline >= start:
            await self._emit_whole_lines(watched, chunk[start:last_newline].split(b"\n"), emit)
            start = last_newline + 1
        if start < len(chunk):
            await self._carry(watched, chunk[start:], emit)

    async def _emit_whole_lines(self, watched: WatchedFile, lines: list[bytes], emit: Emit) -> None:
        # The collector's hot loop: one pass per line, so the common case avoids every extra step.
        limit = self._max_line_bytes
        host, path, inode, key = self.host, watched.path, watched.inode, watched.key
        checkpoints, checkpoint_key, read_at, add_fields = (
            self.checkpoints,
            watched.checkpoint_key,
            self._read_at,
            self._add_fields,
        )
        offset = watched.offset
        for line in lines:
            end = offset + len(line) + 1
            raw_b64 = None
            if len(line) > limit or line.endswith(b"\r"):
                message, tags, raw_b64 = self._decode_unusual(line, False)
            else:
                try:
                    message = line.decode()
                    tags = []
                except UnicodeDecodeError:
                    message, tags, raw_b64 = self._decode_unusual(line, False)
            source = Source(kind=names.SOURCE_FILE, host=host, path=path, inode=inode, offset=offset)
            if add_fields:
                event = Event(
                    message=message,
                    timestamp=read_at,
                    source=source,
                    tags=tags,
                    fields=dict(add_fields),
                    raw_b64=raw_b64,
                )
            else:
                event = Event(message=message, timestamp=read_at, source=source, tags=tags, raw_b64=raw_b64)
            # The range starts where the previous line ended, so bytes skipped in between are covered.
            acknowledge = Advance(checkpoints, checkpoint_key, path, watched.range_start, end)
            watched.offset = watched.range_start = offset = end
            await emit(key, event, acknowledge)

    async def _finish_carried_line(self, watched: WatchedFile, chunk: bytes, emit: Emit) -> int:
        """Complete the line carried over from the previous chunk; where the chunk goes on, or -1."""
        newline = chunk.find(b"\n")
        if newline < 0:
            await self._carry(watched, chunk, emit)
            return -1
        consumed = newline + 1
        if watched.skipping:
            watched.skipping = False
            watched.offset += consumed
        else:
            line = bytes(watched.pending) + chunk[:newline]
            await self._emit(watched, line, len(watched.pending) + consumed, emit)
            watched.pending.clear()
        return consumed

    async def _carry(self, watched: WatchedFile, rest: bytes, emit: Emit) -> None:
        """Bytes after the last newline: kept until their newline comes (a partial line waits)."""
        if watched.skipping:
            watched.offset += len(rest)
            return
        watched.pending += rest
        if len(watched.pending) > self._max_line_bytes:
            # Emit the truncated head now; the rest of the line is skipped until its newline.
            await self._emit(watched, bytes(watched.pending), len(watched.pending), emit, truncated=True)
            watched.pending.clear()
            watched.skipping = True

    async def _emit(
        self, watched: WatchedFile, line: bytes, consumed: int, emit: Emit, truncated: bool = False
    ) -> None:
        line_offset = watched.offset
        end = watched.offset = line_offset + consumed
        message, tags, raw_b64 = self._decode_unusual(line, truncated)
        source = Source(
            kind=names.SOURCE_FILE, host=self.host, path=watched.path, inode=watched.inode, offset=line_offset
        )
        event = Event(
            message=message,
            timestamp=self._read_at,
            source=source,
            tags=tags,
            fields=dict(self._add_fields),
            raw_b64=raw_b64,
        )
        acknowledge = Advance(self.checkpoints, watched.checkpoint_key, watched.path, watched.range_start, end)
        watched.range_start = end
        await emit(watched.key, event, acknowledge)

    def _decode_unusual(self, line: bytes, truncated: bool) -> tuple[str, list[str], str | None]:
        decoded = decode_line(line, self._max_line_bytes)
        if truncated and names.TAG_TRUNCATED not in decoded.tags:
            decoded.tags.append(names.TAG_TRUNCATED)
        return decoded.message, decoded.tags, decoded.raw_b64

    async def _close_rotated_away(self, sink: LineSink) -> None:
        """Stop following files that no longer match (renamed out of the glob or deleted) once read."""
        current = set()
        for path in self._matching_paths():
            try:
                current.add(file_identity(os.stat(path)))
            except OSError:
                continue
        for identity, watched in list(self.watched.items()):
            if identity in current:
                continue
            handle = watched.handle
            if handle.tell() >= os.fstat(handle.fileno()).st_size:  # type: ignore[attr-defined]
                handle.close()  # type: ignore[attr-defined]
                del self.watched[identity]
                await sink.flush(watched.key)
                log.info("stopped following file", extra={"path": watched.path})

    def _all_at_eof(self) -> bool:
        return all(
            w.handle.tell() >= os.fstat(w.handle.fileno()).st_size  # type: ignore[attr-defined]
            for w in self.watched.values()
        )

    @staticmethod
    def _checkpoint_key(identity: str) -> str:
        return f"{names.SOURCE_FILE}:{identity}"
