"""Flush rules on event time: window starts, segment deadlines, and when a task is next due.

Event time, not the wall clock, decides everything that must hold on replay. Per partition the
watermark of an aggregation is ``newest event time - allowed_lateness``; a window closes when the
watermark reaches its end, a segment times out when it passes the last event + inactivity timeout
(or the first event + total timeout). An event whose windows already closed is *late*: it is not
dropped but emitted in an aggregate of its own tagged ``_aggregate_late`` (reason ``late``).
"""

from __future__ import annotations

from streamstash import names
from streamstash.aggregation.accumulators import Accumulator
from streamstash.aggregation.state import SEGMENT, TaskState
from streamstash.config.aggregator import AggregationSpec

# Values of an aggregate's `flush_reason` field.
REASON_EVERY = "every"
REASON_END = "end"
REASON_WINDOW = "window"
REASON_INACTIVITY = "inactivity"
REASON_TIMEOUT = "timeout"
REASON_IDLE = "idle"
REASON_LATE = "late"
# What Logstash's aggregate filter would have pushed on a timeout (timeout_tags, timeout_code apply).
TIMEOUT_REASONS = frozenset({REASON_INACTIVITY, REASON_TIMEOUT, REASON_IDLE})
REASON_TAGS = {
    REASON_INACTIVITY: names.TAG_AGGREGATE_INACTIVITY,
    REASON_TIMEOUT: names.TAG_AGGREGATE_TIMEOUT,
    REASON_IDLE: names.TAG_AGGREGATE_IDLE,
    REASON_LATE: names.TAG_AGGREGATE_LATE,
}


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


def session_end(spec: AggregationSpec, segment: Accumulator, watermark: int | None, time: int | None) -> str | None:
    """Why the open segment ends before an event at ``time`` is folded, if it does.

    Either the watermark had already passed its deadline (it would have been closed by then, whatever
    batch the event came in), or the event itself is past it (more than the inactivity timeout after
    the last event, or the total timeout after the first).
    """
    deadline, reason = segment_deadline(spec, segment)
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


def segment_deadline(spec: AggregationSpec, segment: Accumulator) -> tuple[int | None, str | None]:
    """The watermark at which a segment times out (inactivity: strictly past last + timeout)."""
    flush = spec.flush
    candidates = []
    if flush.inactivity_timeout is not None and segment.last_time is not None:
        candidates.append((segment.last_time + flush.inactivity_timeout + 1, REASON_INACTIVITY))
    if flush.total_timeout is not None and segment.first_time is not None:
        candidates.append((segment.first_time + flush.total_timeout, REASON_TIMEOUT))
    return min(candidates) if candidates else (None, None)


def due_at(spec: AggregationSpec, state: TaskState) -> int | None:
    lateness = spec.flush.allowed_lateness
    window = spec.flush.window
    if window is not None:
        starts = [int(open_key) for open_key in state["open"]]
        return min(starts) + window.size + lateness if starts else None
    stored = state["open"].get(SEGMENT)
    if stored is None or (spec.flush.inactivity_timeout is None and spec.flush.total_timeout is None):
        return None
    deadline, _ = segment_deadline(spec, Accumulator(spec, stored))
    return None if deadline is None else deadline + lateness
