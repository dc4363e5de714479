"""Where events wait while Kafka is slow or away: memory up to ``buffer_max_events``, then the disk spill.

Lines of files simply wait for memory (the file input stops reading: the file is its own buffer), and
lines that cannot be read again (TCP, UDP, stdin, ...) are written to the disk spill (``spill.py``) and
read back when their turn comes; once the spill is full as well, those inputs are paused too (UDP then
loses and counts). The fill shows in ``streamstash_buffer_fill{buffer="memory"|"spill"}``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from streamstash.runtime.metrics import ServiceMetrics
from streamstash.services.collector.batches import SealedBatch
from streamstash.services.collector.spill import Spill, SpillMeta

log = logging.getLogger(__name__)

REPORT_EVERY_S = 5.0


class Buffers:
    def __init__(
        self, memory_limit: int, spill: Spill | None, metrics: ServiceMetrics, figures: Callable[[], dict[str, object]]
    ) -> None:
        self.memory_limit = memory_limit
        self.spill = spill
        self.memory_events = 0
        self.paused_inputs = 0
        self._figures = figures
        self._room = asyncio.Event()
        self._last_pause_log = 0.0
        self._memory_gauge = metrics.buffer_fill.labels(metrics.service, "memory")
        self._spill_gauge = metrics.buffer_fill.labels(metrics.service, "spill")

    @property
    def full(self) -> bool:
        return self.memory_events >= self.memory_limit

    @property
    def spilled_events(self) -> int:
        return self.spill.events if self.spill is not None else 0

    def _spill_has_room(self) -> bool:
        return self.spill is not None and self.spill.has_room()

    async def wait_for_room(self, replayable: bool) -> None:
        # Lines of files wait for memory and are never spilled: the file is their buffer, and
        # copying it to disk again would only slow a backlog down. Other lines go to the spill.
        if replayable:
            while self.full:
                self._room.clear()
                await self._room.wait()
            return
        if not self.full or self._spill_has_room():
            return
        self.paused_inputs += 1
        if self.paused_inputs == 1 and time.monotonic() - self._last_pause_log >= REPORT_EVERY_S:
            self._last_pause_log = time.monotonic()
            log.warning("buffers full, inputs paused until Kafka catches up", extra=self._figures())
        try:
            while self.full and not self._spill_has_room():
                self._room.clear()
                await self._room.wait()
        finally:
            self.paused_inputs -= 1

    def took(self) -> None:
        """One more event in memory."""
        self.memory_events += 1

    def should_spill(self, batch: SealedBatch) -> bool:
        """A batch sealed beyond the memory limit goes to disk, unless its lines can be had again (a file's,
        a sender's that keeps them)."""
        return (
            self.spill is not None
            and self.memory_events > self.memory_limit
            and not batch.positions
            and not batch.kept_by_sender
        )

    def spill_batch(self, batch: SealedBatch) -> None:
        assert self.spill is not None and batch.value is not None
        if self.spill.events == 0 and self.memory_events > self.memory_limit:
            log.warning("memory buffer full, spilling batches to disk", extra=self._figures())
        batch.spilled = self.spill.append(
            SpillMeta(batch.key, batch.batch_id, batch.sequence, batch.count, batch.positions), batch.value
        )
        batch.value = None
        self.memory_events -= batch.count

    def read(self, batch: SealedBatch) -> bytes:
        if batch.value is not None:
            return batch.value
        assert self.spill is not None and batch.spilled is not None
        return self.spill.read(batch.spilled)

    def release(self, batch: SealedBatch) -> None:
        """Kafka has the batch: its room in memory or on disk is free again."""
        if batch.spilled is not None and self.spill is not None:
            self.spill.release(batch.spilled, batch.count)
        else:
            self.memory_events -= batch.count
        self._room.set()
        self.report()

    def report(self) -> None:
        self._memory_gauge.set(self.memory_events)
        self._spill_gauge.set(self.spilled_events)
