"""Durable input positions: written atomically, advanced only after Kafka acknowledged the lines."""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class CheckpointStore:
    """A small JSON document of positions, keyed by source; saved with write-to-temp + rename."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.positions: dict[str, Any] = {}
        self._dirty = False
        if path.exists():
            try:
                self.positions = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                # A corrupt checkpoint must not stop collection; re-reading is safer than skipping.
                log.error("checkpoint unreadable, starting from configured positions",
                          extra={"path": str(path), "error": str(exc)})

    def get(self, key: str) -> Any:
        return self.positions.get(key)

    def set(self, key: str, value: Any) -> None:
        self.positions[key] = value
        self._dirty = True

    def forget(self, key: str) -> None:
        if self.positions.pop(key, None) is not None:
            self._dirty = True

    def save(self) -> None:
        if not self._dirty:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".checkpoint-")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(self.positions, out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, self.path)
        self._dirty = False
