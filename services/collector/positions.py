"""What Kafka acknowledged, and the checkpoints that say so.

A source's checkpoint only ever moves forward over lines Kafka holds, in order. Besides the sources'
positions, the checkpoint file keeps, per partition of ``logs.raw``, an offset at or before every record
of ours whose positions may not be saved yet: after ``kill -9``, recovery (``recovery.py``) scans
``logs.raw`` from there for the ranges those records cover. Positions are saved at most once per
``checkpoint_interval_s`` (a few times a second by default), not after every batch: whatever was
acknowledged after the last save is found again by that scan.
"""

from __future__ import annotations

import time

from streamstash.services.collector.batches import Positions, SealedBatch
from streamstash.services.collector.checkpoints import CheckpointStore
from streamstash.services.collector.inputs.base import Acknowledge

# Saving positions after every acknowledgement costs a file replace each; recovery finds whatever
# was acknowledged after the last save in logs.raw, so saving a few times a second is enough.
DEFAULT_CHECKPOINT_INTERVAL_S = 0.5


class AcknowledgedOffsets:
    def __init__(self, topic: str, checkpoints: CheckpointStore | None, interval_s: float) -> None:
        self.topic = topic
        self.checkpoints = checkpoints
        self.interval_s = interval_s
        self._acked_next: dict[int, int] = {}  # partition -> offset after our highest acknowledged record
        self._inflight: dict[int, list[int]] = {}  # partition -> lower bounds of records sent, not yet acked
        self._last_save = 0.0

    def start_after(self, end_offsets: dict[int, int]) -> None:
        """Recovery found ``logs.raw`` ending here: everything of ours before is acknowledged."""
        for partition, offset in end_offsets.items():
            self._acked_next[partition] = max(self._acked_next.get(partition, 0), offset)

    def register(self, batch: SealedBatch, partition: int) -> None:
        """The batch is about to be sent to ``partition``: its record lands at or after what is acked there."""
        if any(registered == partition for registered, _ in batch.registrations):
            return
        lower_bound = self._acked_next.get(partition, 0)
        batch.registrations.append((partition, lower_bound))
        self._inflight.setdefault(partition, []).append(lower_bound)

    def acknowledged(self, batch: SealedBatch, partition: int | None, offset: int | None) -> None:
        for registered, lower_bound in batch.registrations:
            self._inflight[registered].remove(lower_bound)
        if partition is not None and offset is not None:
            self._acked_next[partition] = max(self._acked_next.get(partition, 0), offset + 1)

    def scan_from(self) -> dict[int, int]:
        """Per partition, an offset at or before every record of ours whose position may be unsaved."""
        offsets = dict(self._acked_next)
        for partition, bounds in self._inflight.items():
            if bounds:
                offsets[partition] = min(bounds)
        return offsets

    def save(self, force: bool = True) -> None:
        if self.checkpoints is None:
            return
        now = time.monotonic()
        if force or now - self._last_save >= self.interval_s:
            self._last_save = now
            self.checkpoints.set_kafka_offsets(self.topic, self.scan_from())
            self.checkpoints.save()

    def replayed_ack(self, positions: Positions) -> Acknowledge:
        """The acknowledgement of a batch read back from the spill: its closures are gone, its ranges are not."""
        checkpoints = self.checkpoints

        def acknowledge() -> None:
            if checkpoints is not None:
                for checkpoint_key, (_start, end, path) in positions.items():
                    checkpoints.advance(checkpoint_key, path, end)

        return acknowledge
