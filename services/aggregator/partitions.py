"""The aggregator's partitions of `logs.tasks` at run time, between Faust and the record processor.

Which partitions this instance owns (from Faust's assignments), when each last had events (wall
clock, for `idle_flush`), and the processor's in-memory index of open tasks, forgotten on every
rebalance (a partition may come back changed by another instance) and rebuilt from the table when a
partition's first record arrives.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable

from streamstash.aggregation.processor import RecordOutcome, RecordProcessor
from streamstash.aggregation.records import TaskRecord, partition_for
from streamstash.aggregation.state import Loader
from streamstash.config.aggregator import AggregationSpec

log = logging.getLogger(__name__)

TableItems = Callable[[], Iterable[tuple[bytes, bytes]]]


class TaskPartitions:
    def __init__(
        self,
        processor: RecordProcessor,
        partitions: int,
        specs: list[AggregationSpec],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.processor = processor
        self.partitions = partitions
        self.clock = clock
        self.owned: set[int] = set()
        self.last_events_at: dict[int, float] = {}
        self._last_tick_at: dict[int, float] = {}
        idle = [spec.flush.idle_flush for spec in specs if spec.flush.idle_flush is not None]
        self.shortest_idle_s: float | None = min(idle) / 1000 if idle else None

    # ---- rebalances -------------------------------------------------------------------------------

    def assigned(self, partitions: Iterable[int]) -> None:
        self.processor.forget()
        self.owned = set(partitions)

    def revoked(self) -> None:
        self.processor.forget()

    def index(self, partition: int, items: TableItems) -> None:
        """Rebuild the open-task index of the owned partitions that lack one, if ``partition`` does."""
        if self.processor.has(partition):
            return
        missing = sorted(owned for owned in self.owned | {partition} if not self.processor.has(owned))
        started = self.clock()
        self.processor.rebuild(missing, items(), lambda key: partition_for(key, self.partitions))
        open_tasks = sum(len(self.processor.partitions[owned].open_keys) for owned in missing)
        log.info(
            "rebuilt open-task index from the table",
            extra={"partitions": missing, "open_tasks": open_tasks, "seconds": round(self.clock() - started, 3)},
        )

    # ---- records ----------------------------------------------------------------------------------

    def process(self, partition: int, record: TaskRecord, load: Loader) -> RecordOutcome:
        if record.idle_tick:
            return self._idle_outcome(partition, load)
        self.last_events_at[partition] = self.clock()
        return self.processor.process(partition, record.groups, load)

    def _idle_outcome(self, partition: int, load: Loader) -> RecordOutcome:
        now = self.clock()
        quiet_for = now - self.last_events_at.get(partition, now)

        def applies(spec: AggregationSpec) -> bool:
            return spec.flush.idle_flush is not None and quiet_for * 1000 >= spec.flush.idle_flush

        return self.processor.idle_flush(partition, load, applies)

    # ---- idle ticks -------------------------------------------------------------------------------

    def due_idle_ticks(self) -> list[int]:
        """Owned partitions quiet long enough with open tasks: their owner is asked (through the partition
        itself, so the tick is ordered with the events) to flush idle tasks."""
        if self.shortest_idle_s is None:
            return []
        now = self.clock()
        due = []
        for partition in sorted(self.owned):
            view = self.processor.partitions.get(partition)
            if view is None or not view.open_keys:
                continue
            quiet = now - self.last_events_at.setdefault(partition, now)
            if (
                quiet >= self.shortest_idle_s
                and now - self._last_tick_at.get(partition, 0.0) >= self.shortest_idle_s / 2
            ):
                self._last_tick_at[partition] = now
                due.append(partition)
        return due
