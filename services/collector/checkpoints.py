"""Durable input positions: written atomically, advanced only after Kafka acknowledged the lines.

The document also holds what crash recovery needs (``recovery.py``): this collector's instance
id, which it writes into the headers of every record it produces, and per partition of
``logs.raw`` an offset from which every record it may have written without saving its position
can be found.

Saved with write-to-temp + rename while batches are acknowledged, at most once per the collector's
``checkpoint_interval_ms`` (a few times a second by default); a killed process loses the positions
acknowledged since, which recovery finds again in ``logs.raw``. Only
``close`` fsyncs: after a machine crash the file may be older, and older only means recovery
scans more (or, if the file is lost, lines are read again), never that lines are skipped.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import uuid
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

FORMAT_VERSION = 2


class CheckpointStore:
    """A small JSON document of positions, keyed by source; saved with write-to-temp + rename."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.positions: dict[str, Any] = {}
        self.kafka_topic: str | None = None
        self.kafka_offsets: dict[int, int] = {}  # partition -> where recovery starts reading
        self.instance = uuid.uuid4().hex
        self._dirty = False
        if path.exists():
            try:
                self._load(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError, TypeError, AttributeError) as exc:
                # A corrupt checkpoint must not stop collection; re-reading is safer than skipping.
                log.error(
                    "checkpoint unreadable, starting from configured positions",
                    extra={"path": str(path), "error": str(exc)},
                )
        else:
            self._dirty = True  # the instance id must be on disk before the first record carries it

    def _load(self, document: dict[str, Any]) -> None:
        if document.get("version") != FORMAT_VERSION:
            self.positions = dict(document)  # the first format: positions only
            self._dirty = True
            return
        self.positions = dict(document.get("positions") or {})
        self.instance = str(document.get("instance") or self.instance)
        kafka = document.get("kafka") or {}
        self.kafka_topic = kafka.get("topic")
        self.kafka_offsets = {int(partition): int(offset) for partition, offset in (kafka.get("offsets") or {}).items()}

    def get(self, key: str) -> Any:
        return self.positions.get(key)

    def set(self, key: str, value: Any) -> None:
        self.positions[key] = value
        self._dirty = True

    def advance(self, key: str, path: str, end: int) -> None:
        """Move a byte-offset checkpoint forward to ``end`` (never back): for positions found after a crash."""
        current = self.positions.get(key)
        if current is None or int(current.get("offset", 0)) < end:
            self.set(key, {"path": path, "offset": end})

    def forget(self, key: str) -> None:
        if self.positions.pop(key, None) is not None:
            self._dirty = True

    def set_kafka_offsets(self, topic: str, offsets: dict[int, int]) -> None:
        if topic != self.kafka_topic or offsets != self.kafka_offsets:
            self.kafka_topic = topic
            self.kafka_offsets = dict(offsets)
            self._dirty = True

    def document(self) -> dict[str, Any]:
        return {
            "version": FORMAT_VERSION,
            "instance": self.instance,
            "positions": self.positions,
            "kafka": {"topic": self.kafka_topic, "offsets": {str(p): o for p, o in self.kafka_offsets.items()}},
        }

    def save(self, durable: bool = False) -> None:
        if not self._dirty:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".checkpoint-")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(self.document(), out)
            if durable:
                out.flush()
                os.fsync(out.fileno())
        os.replace(temporary, self.path)
        self._dirty = False

    def close(self) -> None:
        self._dirty = True
        self.save(durable=True)
