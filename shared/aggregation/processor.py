"""One partition of `logs.tasks` at a time: folding records, closing what is due, idle flushes, rebuilds.

Free of Faust: the caller supplies the table (a loader for reads; writes come back in the outcome)
and sends what the outcome emitted. Which tasks are due is kept in memory per partition (a heap of
deadlines, rebuilt from the table after a rebalance), so the table never holds a growing list under
one key.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import orjson

from streamstash.aggregation.folding import TaskAggregator
from streamstash.aggregation.records import TaskGroup
from streamstash.aggregation.routing import event_time_ms, split_key
from streamstash.aggregation.state import Loader, TaskState, is_meta_key, load_state, max_time_key
from streamstash.config.aggregator import AggregationSpec
from streamstash.events.envelope import Event


@dataclass
class RecordOutcome:
    """What one `logs.tasks` record produced: aggregates to send first, then table writes."""

    emitted: list[Event] = field(default_factory=list)
    writes: dict[bytes, bytes] = field(default_factory=dict)
    folded: int = 0
    duplicates: int = 0
    late: int = 0


@dataclass
class PartitionView:
    """In-memory view of one partition: newest event time, deadlines, open tasks."""

    max_time: int | None = None
    heap: list[tuple[int, str]] = field(default_factory=list)
    scheduled: dict[str, int] = field(default_factory=dict)
    open_keys: set[str] = field(default_factory=set)

    def schedule(self, key: str, due: int | None) -> None:
        if due is None:
            return
        current = self.scheduled.get(key)
        if current is not None and current <= due:
            return  # an earlier entry is queued; when it pops, the task is looked at again
        self.scheduled[key] = due
        heapq.heappush(self.heap, (due, key))

    def pop_due(self) -> list[str]:
        keys = []
        while self.heap and self.max_time is not None and self.heap[0][0] <= self.max_time:
            due, key = heapq.heappop(self.heap)
            if self.scheduled.get(key) == due:
                del self.scheduled[key]
                keys.append(key)
        return keys


class RecordProcessor:
    """Handles `logs.tasks` records partition by partition; Faust only supplies the table and topics.

    Per record: fold each task's events, then close what the new watermark closed, and return the
    aggregates (to be sent and acknowledged first) and the table writes (to be applied after): a
    crash in between re-folds the same events into the old state and re-emits identical aggregates
    with identical ids.
    """

    def __init__(self, aggregator: TaskAggregator) -> None:
        self.aggregator = aggregator
        self.partitions: dict[int, PartitionView] = {}

    def forget(self) -> None:
        """Drop the in-memory view (after a rebalance); it is rebuilt from the table when needed."""
        self.partitions.clear()

    def has(self, partition: int) -> bool:
        return partition in self.partitions

    def rebuild(
        self, partitions: Iterable[int], items: Iterable[tuple[bytes, bytes]], partition_of: Callable[[str], int]
    ) -> None:
        """Rebuild the in-memory view of ``partitions`` from the table's items."""
        wanted = set(partitions)
        runtimes = {partition: PartitionView() for partition in wanted}
        for raw_key, raw_value in items:
            if is_meta_key(raw_key):
                for partition in wanted:
                    if raw_key == max_time_key(partition):
                        runtimes[partition].max_time = orjson.loads(raw_value)
                continue
            key = raw_key.decode()
            partition = partition_of(key)
            if partition not in wanted or split_key(key)[0] not in self.aggregator.router.by_name:
                continue
            state = orjson.loads(raw_value)
            if state["open"]:
                runtimes[partition].open_keys.add(key)
                runtimes[partition].schedule(key, self.aggregator.due_at(key, state))
        self.partitions.update(runtimes)

    def process(self, partition: int, groups: list[TaskGroup], load: Loader) -> RecordOutcome:
        runtime = self.partitions.setdefault(partition, PartitionView())
        outcome = RecordOutcome()
        states: dict[str, TaskState] = {}
        times = [[event_time_ms(event) for event in group.events] for group in groups]
        newest_before, newest = _newest_before(groups, times, runtime.max_time)
        for group, group_times, group_before in zip(groups, times, newest_before, strict=True):
            key = group.key
            if split_key(key)[0] not in self.aggregator.router.by_name:
                continue  # an aggregation removed from the pipeline since these events were re-keyed
            state = states.get(key) or load_state(load, key)
            result = self.aggregator.fold(key, state, group.events, group_before, group_times)
            states[key] = result.state
            outcome.emitted.extend(result.emitted)
            outcome.folded += result.folded
            outcome.duplicates += result.duplicates
            outcome.late += result.late
        if newest != runtime.max_time:
            runtime.max_time = newest
            outcome.writes[max_time_key(partition)] = orjson.dumps(newest)
        for key, state in states.items():
            self._track(runtime, key, state)
        for key in runtime.pop_due():
            state = states.get(key) or load_state(load, key)
            if state is None:
                continue
            assert runtime.max_time is not None
            outcome.emitted.extend(self.aggregator.expire(key, state, runtime.max_time))
            states[key] = state
            self._track(runtime, key, state)
        for key, state in states.items():
            outcome.writes[key.encode()] = orjson.dumps(state)
        # The newest time goes last, so that after a crash between writes no task lags behind it.
        if max_time_key(partition) in outcome.writes:
            outcome.writes[max_time_key(partition)] = outcome.writes.pop(max_time_key(partition))
        return outcome

    def idle_flush(self, partition: int, load: Loader, applies: Callable[[AggregationSpec], bool]) -> RecordOutcome:
        """Emit every open task of the partition whose aggregation ``applies`` (wall-clock idleness)."""
        runtime = self.partitions.setdefault(partition, PartitionView())
        outcome = RecordOutcome()
        newest = runtime.max_time
        for key in sorted(runtime.open_keys):
            spec = self.aggregator.spec_of(key)
            if not applies(spec):
                continue
            state = load_state(load, key)
            if state is None or not state["open"]:
                continue
            emitted, closed_until = self.aggregator.flush_idle(key, state)
            outcome.emitted.extend(emitted)
            outcome.writes[key.encode()] = orjson.dumps(state)
            self._track(runtime, key, state)
            if closed_until is not None and (newest is None or closed_until > newest):
                newest = closed_until  # later events of these windows are late, never a second copy
        if newest != runtime.max_time:
            runtime.max_time = newest
            outcome.writes[max_time_key(partition)] = orjson.dumps(newest)
        return outcome

    def _track(self, runtime: PartitionView, key: str, state: TaskState) -> None:
        if state["open"]:
            runtime.open_keys.add(key)
            runtime.schedule(key, self.aggregator.due_at(key, state))
        else:
            runtime.open_keys.discard(key)


def _newest_before(
    groups: list[TaskGroup], times: list[list[int | None]], newest: int | None
) -> tuple[list[list[int | None]], int | None]:
    """Per event, the newest event time on the partition before it, in the record's original order."""
    size = sum(len(group_times) for group_times in times)
    by_place: list[int | None] = [None] * size
    places = []
    next_place = 0
    for group, group_times in zip(groups, times, strict=True):
        order = group.order or list(range(next_place, next_place + len(group_times)))
        next_place += len(group_times)
        places.append(order)
        for place, time in zip(order, group_times, strict=True):
            by_place[place] = time
    before: list[int | None] = [None] * size
    for place, time in enumerate(by_place):
        before[place] = newest
        if time is not None and (newest is None or time > newest):
            newest = time
    return [[before[place] for place in order] for order in places], newest
