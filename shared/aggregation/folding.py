"""Folding one task's events into its state, and closing what event time has closed.

Duplicates are recognised by where an event entered `logs.raw` (its id): per `logs.raw` partition the
state keeps the last (offset, position) folded in, so an event delivered again after a crash or a
rebalance is counted once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from streamstash.aggregation.accumulators import Accumulator
from streamstash.aggregation.aggregates import segment_aggregate, window_aggregate
from streamstash.aggregation.flush import (
    REASON_END,
    REASON_EVERY,
    REASON_IDLE,
    REASON_LATE,
    REASON_WINDOW,
    due_at,
    segment_deadline,
    session_end,
    window_starts,
)
from streamstash.aggregation.routing import TaskRouter, split_key
from streamstash.aggregation.state import SEGMENT, TaskState, new_state
from streamstash.config.aggregator import AggregationSpec
from streamstash.events.envelope import Event, parse_event_id, to_working_dict


def raw_position(event: Event) -> tuple[str, tuple[int, int]] | None:
    """The `logs.raw` partition an event entered on and its place there, from its id (for duplicates)."""
    position = parse_event_id(event.id)
    if position is None:
        return None
    return f"{position.topic}:{position.partition}", (position.offset, position.position)


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
        keeps_all = route.keeps_all
        for event, newest, time in zip(events, newest_before, times, strict=True):
            position = raw_position(event)
            if position is not None:
                partition_key, at = position
                last = state["seen"].get(partition_key)
                if last is not None and tuple(last) >= at:
                    result.duplicates += 1
                    continue
                state["seen"][partition_key] = list(at)
            result.folded += 1
            # Metrics, kept fields and end_when read the input's fields too (`host`, `path`, ...); `*` keeps
            # the event's own fields only, like its document (only `*` reads them: not made otherwise). A route
            # that reads none of the working dict's added names reads `event.fields` (`Route.direct_fold`).
            plain = to_working_dict(event) if keeps_all else None
            doc = event.fields if route.direct_fold else self.router.input_fields.view(to_working_dict(event), event)
            watermark = None if newest is None else newest - lateness
            if window is not None:
                assert time is not None  # the router only routes timed events to windowed aggregations
                was_late = False
                for start in window_starts(time, window.size, window.step):
                    if watermark is not None and start + window.size <= watermark:
                        # One aggregate per late event and window: how late events happen to be batched
                        # must not change what is emitted, nor the ids.
                        alone = Accumulator(spec)
                        alone.add(doc, time, event.timestamp, event.id, route.kept, plain)
                        result.emitted.append(window_aggregate(route, task_id, start, alone, REASON_LATE))
                        was_late = True
                    else:
                        self._live(live, state, str(start), spec).add(
                            doc, time, event.timestamp, event.id, route.kept, plain
                        )
                result.late += was_late
                continue
            segment = live.get(SEGMENT) or (
                Accumulator(spec, state["open"][SEGMENT]) if SEGMENT in state["open"] else None
            )
            if segment is not None:
                reason = session_end(spec, segment, watermark, time)
                if reason is not None:
                    result.emitted.append(segment_aggregate(route, task_id, state, segment, reason))
                    live.pop(SEGMENT, None)
                    segment = None
            if segment is None:
                segment = Accumulator(spec)
            live[SEGMENT] = segment
            segment.add(doc, time, event.timestamp, event.id, route.kept, plain)
            if route.end_when is not None and route.end_when(doc):
                result.emitted.append(segment_aggregate(route, task_id, state, segment, REASON_END))
                del live[SEGMENT]
            elif spec.flush.every is not None and segment.n >= spec.flush.every:
                result.emitted.append(segment_aggregate(route, task_id, state, segment, REASON_EVERY))
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
        return due_at(self.spec_of(key), state)

    def expire(self, key: str, state: TaskState, max_time: int) -> list[Event]:
        """Emit (and remove from ``state``) whatever the watermark at ``max_time`` has closed."""
        name, task_id = split_key(key)
        route = self.router.by_name[name]
        spec = route.spec
        watermark = max_time - spec.flush.allowed_lateness
        emitted = []
        window = spec.flush.window
        if window is not None:
            for start in sorted(int(open_key) for open_key in state["open"]):
                if start + window.size <= watermark:
                    acc = Accumulator(spec, state["open"].pop(str(start)))
                    emitted.append(window_aggregate(route, task_id, start, acc, REASON_WINDOW))
            return emitted
        stored = state["open"].get(SEGMENT)
        if stored is not None:
            segment = Accumulator(spec, stored)
            deadline, reason = segment_deadline(spec, segment)
            if deadline is not None and deadline <= watermark and reason is not None:
                del state["open"][SEGMENT]
                emitted.append(segment_aggregate(route, task_id, state, segment, reason))
        return emitted

    def flush_idle(self, key: str, state: TaskState) -> tuple[list[Event], int | None]:
        """Emit everything open (wall-clock idle); returns the events and the latest window end closed."""
        name, task_id = split_key(key)
        route = self.router.by_name[name]
        spec = route.spec
        emitted = []
        closed_until = None
        window = spec.flush.window
        for open_key in sorted(state["open"], key=lambda k: (k != SEGMENT, int(k) if k != SEGMENT else 0)):
            acc = Accumulator(spec, state["open"].pop(open_key))
            if window is not None:
                start = int(open_key)
                emitted.append(window_aggregate(route, task_id, start, acc, REASON_IDLE))
                closed_until = max(closed_until or 0, start + window.size + spec.flush.allowed_lateness)
            else:
                emitted.append(segment_aggregate(route, task_id, state, acc, REASON_IDLE))
        return emitted, closed_until
