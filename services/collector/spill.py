"""The disk spill: encoded batches waiting for Kafka, appended to segment files, deleted once acknowledged.

It holds lines that cannot be read again (network, stdin); lines of files wait in memory instead,
except at shutdown, when whatever Kafka did not take is spilled with its checkpoint ranges.

Layout: ``<state_dir>/collector/spill/segment-<n>.spill``. A record is a 12-byte header
(metadata length, value length, CRC32 of both), the metadata as JSON (source key, batch id,
sequence number, event count, checkpoint ranges) and the batch's Kafka value as it will be sent.
Segments are only appended to; a segment is deleted when every batch in it was acknowledged, so
the bytes in use never exceed ``max_bytes`` by more than one batch.

Records are written (not fsynced) on append: they survive a crash of the collector process, not of
the machine. At start the segments left by a previous run are read back in sequence order and
sent first; a torn record at the end of a segment (the process died while writing it) is skipped,
and its lines are read again from their files (their checkpoints never moved past them).
"""

from __future__ import annotations

import contextlib
import json
import logging
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

_HEADER = struct.Struct(">III")
SEGMENT_GLOB = "segment-*.spill"


@dataclass(slots=True)
class SpillMeta:
    key: str
    batch_id: str
    sequence: int
    count: int
    positions: dict[str, list[Any]] = field(default_factory=dict)  # checkpoint key -> [start, end, path]

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "key": self.key,
                "batch_id": self.batch_id,
                "sequence": self.sequence,
                "count": self.count,
                "positions": self.positions,
            }
        ).encode()

    @classmethod
    def from_json(cls, data: bytes) -> SpillMeta:
        raw = json.loads(data)
        return cls(
            key=raw["key"],
            batch_id=raw["batch_id"],
            sequence=int(raw["sequence"]),
            count=int(raw["count"]),
            positions=raw.get("positions") or {},
        )


@dataclass(slots=True, frozen=True)
class SpillRef:
    segment: int
    offset: int
    length: int  # whole record, header included
    value_offset: int
    value_length: int


@dataclass
class _Segment:
    number: int
    path: Path
    size: int = 0
    live: int = 0  # batches not acknowledged yet


class Spill:
    def __init__(self, directory: Path, max_bytes: int, segment_bytes: int) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self.segment_bytes = segment_bytes
        self.segments: dict[int, _Segment] = {}
        self._writing: _Segment | None = None
        self._handle: Any = None
        self.bytes_used = 0
        self.events = 0

    def has_room(self) -> bool:
        return self.bytes_used < self.max_bytes

    def append(self, meta: SpillMeta, value: bytes) -> SpillRef:
        encoded = meta.to_json()
        crc = zlib.crc32(value, zlib.crc32(encoded))
        record = _HEADER.pack(len(encoded), len(value), crc) + encoded + value
        segment = self._segment_for(len(record))
        offset = segment.size
        self._handle.write(record)
        self._handle.flush()
        segment.size += len(record)
        segment.live += 1
        self.bytes_used += len(record)
        self.events += meta.count
        return SpillRef(segment.number, offset, len(record), offset + _HEADER.size + len(encoded), len(value))

    def read(self, ref: SpillRef) -> bytes:
        with open(self.segments[ref.segment].path, "rb") as handle:
            handle.seek(ref.value_offset)
            return handle.read(ref.value_length)

    def release(self, ref: SpillRef, count: int) -> None:
        """The batch at ``ref`` is in Kafka: its segment goes once nothing in it is waiting."""
        segment = self.segments.get(ref.segment)
        if segment is None:
            return
        segment.live -= 1
        self.events -= count
        if segment.live <= 0:
            if segment is self._writing:
                self._handle.close()
                self._writing = self._handle = None
            self.segments.pop(segment.number, None)
            self.bytes_used -= segment.size
            with contextlib.suppress(FileNotFoundError):
                segment.path.unlink()

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None
            self._writing = None

    def _segment_for(self, record_size: int) -> _Segment:
        current = self._writing
        if current is not None and current.size + record_size <= self.segment_bytes:
            return current
        if self._handle is not None:
            self._handle.close()
        self.directory.mkdir(parents=True, exist_ok=True)
        number = max(self.segments, default=0) + 1
        segment = _Segment(number, self.directory / f"segment-{number:012d}.spill")
        self._handle = open(segment.path, "ab")  # noqa: SIM115 - kept open while the segment is written
        self.segments[number] = segment
        self._writing = segment
        return segment

    def load(self) -> list[tuple[SpillMeta, SpillRef]]:
        """Batches a previous run left behind, oldest first; they count as live until released."""
        found: list[tuple[SpillMeta, SpillRef]] = []
        if not self.directory.is_dir():
            return found
        for path in sorted(self.directory.glob(SEGMENT_GLOB)):
            try:
                number = int(path.stem.split("-")[1])
            except (IndexError, ValueError):
                continue
            data = path.read_bytes()
            segment = _Segment(number, path, size=len(data))
            records = list(_records(number, data, path))
            if not records:
                path.unlink()
                continue
            segment.live = len(records)
            self.segments[number] = segment
            self.bytes_used += segment.size
            for meta, ref in records:
                self.events += meta.count
                found.append((meta, ref))
        found.sort(key=lambda item: item[0].sequence)
        return found


def _records(number: int, data: bytes, path: Path) -> Iterator[tuple[SpillMeta, SpillRef]]:
    offset = 0
    while offset + _HEADER.size <= len(data):
        meta_length, value_length, crc = _HEADER.unpack_from(data, offset)
        end = offset + _HEADER.size + meta_length + value_length
        meta_bytes = data[offset + _HEADER.size : offset + _HEADER.size + meta_length]
        value = data[offset + _HEADER.size + meta_length : end]
        if end > len(data) or zlib.crc32(value, zlib.crc32(meta_bytes)) != crc:
            log.warning(
                "spill segment ends in a torn record, ignoring its rest",
                extra={"path": str(path), "offset": offset, "bytes": len(data) - offset},
            )
            return
        yield (
            SpillMeta.from_json(meta_bytes),
            SpillRef(number, offset, end - offset, offset + _HEADER.size + meta_length, value_length),
        )
        offset = end
