"""Per-task aggregation, free of Faust: routing events to tasks, folding batches, closing on event time.

Table layout (a RocksDB-backed Faust table; keys and values are bytes, values orjson):

* ``<aggregation>|<task id>`` -> task state: ``seen`` (per `logs.raw` partition, the last
  (offset, position) folded in: an event delivered again after a crash or a rebalance is counted
  once), ``seq`` (aggregates emitted so far, for ids), ``open`` (accumulators: ``"s"`` for the
  task's current segment, or the start in ms of each open window).
* ``\\x00max_time\\x00<partition>`` -> the newest event time seen on that `logs.tasks` partition.

Event time, not the wall clock, decides everything that must hold on replay. Per partition the
watermark of an aggregation is ``newest event time - allowed_lateness``; a window closes when the
watermark reaches its end, a segment times out when it passes the last event + inactivity timeout
(or the first event + total timeout). An event whose windows already closed is *late*: it is not
dropped but emitted in an aggregate of its own tagged ``_aggregate_late`` (reason ``late``), one per
late event and window, with the event's id in the aggregate's id (so batching never changes them).

Which tasks are due is kept in memory per partition (a heap of deadlines, rebuilt from the table
after a rebalance), so the table never holds a growing list under one key.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from streamstash import names
from streamstash.aggregation.routing import WILDCARD, TaskRouter, event_time_ms, split_key
from streamstash.config.aggregator import AggregationSpec
from streamstash.events.envelope import Event, Source, format_timestamp, parse_event_id, to_working_dict
from streamstash.events.fieldpath import remove_field, set_field
from streamstash.services.aggregator.accumulators import Accumulator
from streamstash.services.aggregator.records import TaskGroup

SEGMENT = "s"
META_PREFIX = b"\x00"

TaskState = dict[str, Any]

REASON_EVERY = "every"
REASON_END = "end"
REASON_WINDOW = "window"
REASON_INACTIVITY = "inactivity"
REASON_TIMEOUT = "timeout"
REASON_IDLE = "idle"
REASON_LATE = "late"
REASON_TAGS = {
    REASON_INACTIVITY: names.TAG_AGGREGATE_INACTIVITY,
    REASON_TIMEOUT: names.TAG_AGGREGATE_TIMEOUT,
    REASON_IDLE: names.TAG_AGGREGATE_IDLE,
    REASON_LATE: names.TAG_AGGREGATE_LATE,
}


def iso_ms(epoch_ms: int) -> str:
    return format_timestamp(epoch_ms / 1000)


def new_state() -> TaskState:
    return {"seen": {}, "seq": 0, "open": {}}


def raw_position(event: Event) -> tuple[str, tuple[int, int]] | None:
    """The `logs.raw` partition an event entered on and its place there, from its id (for duplicates)."""
    position = parse_event_id(event.id)
    if position is None:
        return None
    return f"{position.topic}:{position.partition}", (position.offset, position.position)


def window_starts(time: int, size: int, step: int) -> list[int]:
    """Starts of the windows [start, start + size) holding ``time``, oldest first."""
    last = (time // step) * step
    starts = []
    start = last
    while start > time - size:
        starts.append(start)
        start -= step
    starts.reverse()
    return starts


@dataclass
class FoldResult:
    state: TaskState
    emitted: list[Event] = field(default_factory=list)
    folded: int = 0
    duplicates: int = 0
    late: int = 0


class TaskAggregator:
    """Folds one task's events into its state and decides, on event time, what is emitted."""

    def __init__(self, router: TaskRouter) -> None:
        self.router = router

    def spec_of(self, key: str) -> AggregationSpec:
        return self.router.by_name[split_key(key)[0]].spec

    # -- folding -----------------------------------------------------------------------------------

    def fold(
        self,
        key: str,
        state: TaskState | None,
        events: list[Event],
        newest_before: list[int | None],
        times: list[int | None],
    ) -> FoldResult:
        """Fold a batch of one task's events.

        ``newest_before[i]`` is the partition's newest event time before event ``i`` arrived (what
        lateness is judged against), ``times[i]`` the event's own time.
        """
        name, task_id = split_key(key)
        route = self.router.by_name[name]
        spec = route.spec
        result = FoldResult(state if state is not None else new_state())
        state = result.state
        live: dict[str, Accumulator] = {}
        lateness = spec.flush.allowed_lateness
        window = spec.flush.window
        for event, newest, time in zip(events, newest_before, times):
            position = raw_position(event)
            if position is not None:
                partition_key, at = position
                last = state["seen"].get(partition_key)
                if last is not None and tuple(last) >= at:
                    result.duplicates += 1
                    continue
                state["seen"][partition_key] = list(at)
            result.folded += 1
            doc = to_working_dict(event)
            watermark = None if newest is None else newest - lateness
            if window is not None:
                assert time is not None  # the router only routes timed events to windowed aggregations
                was_late = False
                for start in window_starts(time, window.size, window.step):
                    if watermark is not None and start + window.size <= watermark:
                        # One aggregate per late event and window: how late events happen to be batched
                        # must not change what is emitted, nor the ids.
                        alone = Accumulator(spec)
                        alone.add(doc, time, event.timestamp, event.id, route.kept)
                        result.emitted.append(self._emit_window(spec, task_id, start, alone, REASON_LATE))
                        was_late = True
                    else:
                        self._live(live, state, str(start), spec).add(doc, time, event.timestamp, event.id, route.kept)
                result.late += was_late
                continue
            segment = live.get(SEGMENT) or (
                Accumulator(spec, state["open"][SEGMENT]) if SEGMENT in state["open"] else None
            )
            if segment is not None:
                reason = _session_end(spec, segment, watermark, time)
                if reason is not None:
                    result.emitted.append(self._emit_segment(spec, task_id, state, segment, reason))
                    live.pop(SEGMENT, None)
                    segment = None
            if segment is None:
                segment = Accumulator(spec)
            live[SEGMENT] = segment
            segment.add(doc, time, event.timestamp, event.id, route.kept)
            if route.end_when is not None and route.end_when(doc):
                result.emitted.append(self._emit_segment(spec, task_id, state, segment, REASON_END))
                del live[SEGMENT]
            elif spec.flush.every is not None and segment.n >= spec.flush.every:
                result.emitted.append(self._emit_segment(spec, task_id, state, segment, REASON_EVERY))
                del live[SEGMENT]
        for open_key, acc in live.items():
            state["open"][open_key] = acc.dump()
        return result

    def _live(
        self, live: dict[str, Accumulator], state: TaskState, open_key: str, spec: AggregationSpec
    ) -> Accumulator:
        acc = live.get(open_key)
        if acc is None:
            acc = live[open_key] = Accumulator(spec, state["open"].get(open_key))
        return acc

    # -- closing on event time -----------------------------------------------------------------------

    def due_at(self, key: str, state: TaskState) -> int | None:
        """The partition's newest event time at which something of this task must be emitted."""
        spec = self.spec_of(key)
        return _due_at(spec, state)

    def expire(self, key: str, state: TaskState, max_time: int) -> list[Event]:
        """Emit (and remove from ``state``) whatever the watermark at ``max_time`` has closed."""
        name, task_id = split_key(key)
        spec = self.spec_of(key)
        watermark = max_time - spec.flush.allowed_lateness
        emitted = []
        window = spec.flush.window
        if window is not None:
            for start in sorted(int(open_key) for open_key in state["open"]):
                if start + window.size <= watermark:
                    acc = Accumulator(spec, state["open"].pop(str(start)))
                    emitted.append(self._emit_window(spec, task_id, start, acc, REASON_WINDOW))
            return emitted
        stored = state["open"].get(SEGMENT)
        if stored is not None:
            segment = Accumulator(spec, stored)
            deadline, reason = _segment_deadline(spec, segment)
            if deadline is not None and deadline <= watermark and reason is not None:
                del state["open"][SEGMENT]
                emitted.append(self._emit_segment(spec, task_id, state, segment, reason))
        return emitted

    def flush_idle(self, key: str, state: TaskState) -> tuple[list[Event], int | None]:
        """Emit everything open (wall-clock idle); returns the events and the latest window end closed."""
        name, task_id = split_key(key)
        spec = self.spec_of(key)
        emitted = []
        closed_until = None
        window = spec.flush.window
        for open_key in sorted(state["open"], key=lambda k: (k != SEGMENT, int(k) if k != SEGMENT else 0)):
            acc = Accumulator(spec, state["open"].pop(open_key))
            if window is not None:
                start = int(open_key)
                emitted.append(self._emit_window(spec, task_id, start, acc, REASON_IDLE))
                closed_until = max(closed_until or 0, start + window.size + spec.flush.allowed_lateness)
            else:
                emitted.append(self._emit_segment(spec, task_id, state, acc, REASON_IDLE))
        return emitted, closed_until

    # -- emitted events -------------------------------------------------------------------------------

    def _emit_segment(
        self, spec: AggregationSpec, task_id: str, state: TaskState, acc: Accumulator, reason: str
    ) -> Event:
        state["open"].pop(SEGMENT, None)
        state["seq"] += 1
        return self._event(spec, task_id, acc, reason, f"{spec.name}:{task_id}:{state['seq']}", acc.timestamp, {})

    def _emit_window(self, spec: AggregationSpec, task_id: str, start: int, acc: Accumulator, reason: str) -> Event:
        assert spec.flush.window is not None
        start_text = iso_ms(start)
        event_id = f"{spec.name}:{task_id}:w{start_text}"
        if reason == REASON_LATE:
            event_id = f"{event_id}:late:{acc.first_id}"
        extra = {names.FIELD_WINDOW_START: start_text, names.FIELD_WINDOW_END: iso_ms(start + spec.flush.window.size)}
        return self._event(spec, task_id, acc, reason, event_id, start_text, extra)

    def _event(
        self,
        spec: AggregationSpec,
        task_id: str,
        acc: Accumulator,
        reason: str,
        event_id: str,
        timestamp: str | None,
        extra: dict[str, Any],
    ) -> Event:
        fields: dict[str, Any] = {}
        kept = self.router.by_name[spec.name].kept
        if kept and kept[0] == WILDCARD:
            fields.update((key, value) for key, value in acc.fields.items() if key != names.FIELD_TIMESTAMP)
        else:
            for reference, value in acc.fields.items():
                if value is not None:
                    set_field(fields, reference, value)
        for reference in spec.remove_fields:
            remove_field(fields, reference)
        fields[names.FIELD_COUNT] = acc.n
        fields.update(acc.results())
        fields.update(extra)
        fields[names.FIELD_AGGREGATED] = True
        fields[names.FIELD_TASK_ID] = task_id
        fields[names.FIELD_AGGREGATION] = spec.name
        fields[names.FIELD_FLUSH_REASON] = reason
        message = fields.pop(names.FIELD_MESSAGE, None)
        tags = fields.pop(names.FIELD_TAGS, None)
        tags = list(tags) if isinstance(tags, list) else ([] if tags is None else [str(tags)])
        if reason in REASON_TAGS and REASON_TAGS[reason] not in tags:
            tags.append(REASON_TAGS[reason])
        return Event(
            message=None if message is None else str(message),
            timestamp=timestamp,
            source=Source(kind=names.SOURCE_AGGREGATE),
            tags=tags,
            fields=fields,
            id=event_id,
        )


def _session_end(spec: AggregationSpec, segment: Accumulator, watermark: int | None, time: int | None) -> str | None:
    """Why the open segment ends before an event at ``time`` is folded, if it does.

    Either the watermark had already passed its deadline (it would have been closed by then, whatever
    batch the event came in), or the event itself is past it (more than the inactivity timeout after
    the last event, or the total timeout after the first).
    """
    deadline, reason = _segment_deadline(spec, segment)
    if deadline is None:
        return None
    if watermark is not None and deadline <= watermark:
        return reason
    if time is None:
        return None
    flush = spec.flush
    candidates = []
    if (
        flush.inactivity_timeout is not None
        and segment.last_time is not None
        and time - segment.last_time > flush.inactivity_timeout
    ):
        candidates.append((segment.last_time + flush.inactivity_timeout + 1, REASON_INACTIVITY))
    if (
        flush.total_timeout is not None
        and segment.first_time is not None
        and time >= segment.first_time + flush.total_timeout
    ):
        candidates.append((segment.first_time + flush.total_timeout, REASON_TIMEOUT))
    return min(candidates)[1] if candidates else None


def _segment_deadline(spec: AggregationSpec, segment: Accumulator) -> tuple[int | None, str | None]:
    """The watermark at which a segment times out (inactivity: strictly past last + timeout)."""
    flush = spec.flush
    candidates = []
    if flush.inactivity_timeout is not None and segment.last_time is not None:
        candidates.append((segment.last_time + flush.inactivity_timeout + 1, REASON_INACTIVITY))
    if flush.total_timeout is not None and segment.first_time is not None:
        candidates.append((segment.first_time + flush.total_timeout, REASON_TIMEOUT))
    return min(candidates) if candidates else (None, None)


def _due_at(spec: AggregationSpec, state: TaskState) -> int | None:
    lateness = spec.flush.allowed_lateness
    window = spec.flush.window
    if window is not None:
        starts = [int(open_key) for open_key in state["open"]]
        return min(starts) + window.size + lateness if starts else None
    stored = state["open"].get(SEGMENT)
    if stored is None or (spec.flush.inactivity_timeout is None and spec.flush.total_timeout is None):
        return None
    deadline, _ = _segment_deadline(spec, Accumulator(spec, stored))
    return None if deadline is None else deadline + lateness


# -- one partition of logs.tasks --------------------------------------------------------------------------


def max_time_key(partition: int) -> bytes:
    return META_PREFIX + b"max_time" + META_PREFIX + str(partition).encode()


def is_meta_key(key: bytes) -> bool:
    return key.startswith(META_PREFIX)


@dataclass
class RecordOutcome:
    """What one `logs.tasks` record produced: aggregates to send first, then table writes."""

    emitted: list[Event] = field(default_factory=list)
    writes: dict[bytes, bytes] = field(default_factory=dict)
    folded: int = 0
    duplicates: int = 0
    late: int = 0


@dataclass
class PartitionRuntime:
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


Loader = Callable[[bytes], bytes | None]


class RecordProcessor:
    """Handles `logs.tasks` records partition by partition; Faust only supplies the table and topics.

    Per record: fold each task's events, then close what the new watermark closed, and return the
    aggregates (to be sent and acknowledged first) and the table writes (to be applied after): a
    crash in between re-folds the same events into the old state and re-emits identical aggregates
    with identical ids.
    """

    def __init__(self, aggregator: TaskAggregator) -> None:
        self.aggregator = aggregator
        self.partitions: dict[int, PartitionRuntime] = {}

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
        runtimes = {partition: PartitionRuntime() for partition in wanted}
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
        runtime = self.partitions.setdefault(partition, PartitionRuntime())
        outcome = RecordOutcome()
        states: dict[str, TaskState] = {}
        times = [[event_time_ms(event) for event in group.events] for group in groups]
        newest_before, newest = _newest_before(groups, times, runtime.max_time)
        for group, group_times, group_before in zip(groups, times, newest_before):
            key = group.key
            if split_key(key)[0] not in self.aggregator.router.by_name:
                continue  # an aggregation removed from the pipeline since these events were re-keyed
            state = states.get(key) or _load(load, key)
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
            state = states.get(key) or _load(load, key)
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
        runtime = self.partitions.setdefault(partition, PartitionRuntime())
        outcome = RecordOutcome()
        newest = runtime.max_time
        for key in sorted(runtime.open_keys):
            spec = self.aggregator.spec_of(key)
            if not applies(spec):
                continue
            state = _load(load, key)
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

    def _track(self, runtime: PartitionRuntime, key: str, state: TaskState) -> None:
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
    for group, group_times in zip(groups, times):
        order = group.order or list(range(next_place, next_place + len(group_times)))
        next_place += len(group_times)
        places.append(order)
        for place, time in zip(order, group_times):
            by_place[place] = time
    before: list[int | None] = [None] * size
    for place, time in enumerate(by_place):
        before[place] = newest
        if time is not None and (newest is None or time > newest):
            newest = time
    return [[before[place] for place in order] for order in places], newest


def _load(load: Loader, key: str) -> TaskState | None:
    stored = load(key.encode())
    return orjson.loads(stored) if stored else None
