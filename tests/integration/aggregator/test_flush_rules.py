"""Every flush rule through a real aggregator process: tumbling and hopping windows with allowed lateness and
late events, inactivity and total timeouts, the end-of-task marker. Parsed events go straight onto
`logs.parsed`; what must come out is computed here from the same events, plainly."""

from __future__ import annotations

import random
from collections import defaultdict
from pathlib import Path

import pytest

from streamstash import names
from streamstash.events.envelope import Event, Source, event_id, format_timestamp
from tests.helpers.pipelines import write_pipeline
from tests.helpers.processes import stop_all
from tests.helpers.waiting import wait_until
from tests.integration.aggregator.support import (
    aggregates_by_id,
    create_topics,
    feed_parsed,
    metric,
    serving_port,
    start,
)

pytestmark = pytest.mark.integration

BASE_S = 1_795_255_200  # 2026-11-21T10:00:00Z
WINDOW_S, HOP_S, LATENESS_S = 60, 20, 5
INACTIVITY_S, TOTAL_S = 20, 120
CLOSING_S = 10_000
ROUTES_PER_KIND = {"w": 2, "s": 1}  # window events feed two aggregations

AGGREGATIONS = [
    {
        "name": "tumbling",
        "task_id": "%{host}",
        "when": '[kind] == "w"',
        "metrics": {"n": {"type": "count"}, "total": {"type": "sum", "field": "v"}},
        "flush": {"window": {"size": f"{WINDOW_S}s"}, "allowed_lateness": f"{LATENESS_S}s"},
    },
    {
        "name": "hopping",
        "task_id": "%{host}",
        "when": '[kind] == "w"',
        "metrics": {"n": {"type": "count"}, "total": {"type": "sum", "field": "v"}},
        "flush": {"window": {"size": f"{WINDOW_S}s", "advance": f"{HOP_S}s"}, "allowed_lateness": f"{LATENESS_S}s"},
    },
    {
        "name": "sessions",
        "task_id": "%{job}",
        "when": '[kind] == "s"',
        "metrics": {"n": {"type": "count"}, "total": {"type": "sum", "field": "v"}},
        "flush": {
            "inactivity_timeout": f"{INACTIVITY_S}s",
            "total_timeout": f"{TOTAL_S}s",
            "end_when": '[step] == "end"',
        },
    },
]


class Feed:
    """Parsed events with ids as the parser gives them: one source, one raw partition, in order."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def add(self, seconds: float, **fields: object) -> Event:
        position = len(self.events)
        event = Event(
            timestamp=format_timestamp(BASE_S + seconds),
            source=Source(kind="file", path="/app.log"),
            fields=dict(fields),
            id=event_id("logs.raw", 0, position // 100, position % 100),
        )
        self.events.append(event)
        return event


def seconds_of(event: Event) -> float:
    return float(event.fields["at"])


def window_totals(events: list[Event], step: int) -> dict[tuple[str, int], list[int]]:
    """(host, window start s) -> [count, sum] over ``events``, windows of WINDOW_S every ``step`` s."""
    totals: dict[tuple[str, int], list[int]] = defaultdict(lambda: [0, 0])
    for event in events:
        at = seconds_of(event)
        start = int(at // step) * step
        while start > at - WINDOW_S:
            cell = totals[(event.fields["host"], start)]
            cell[0] += 1
            cell[1] += event.fields["v"]
            start -= step
    return totals


def sessions(events: list[Event]) -> list[tuple[str, int, int, str]]:
    """(job, count, sum, reason) per segment, from the rules' definitions."""
    out = []
    open_segments: dict[str, dict] = {}
    for event in events:
        job, at = event.fields["job"], seconds_of(event)
        segment = open_segments.get(job)
        if segment is not None:
            # Whichever limit the segment reached first (inactivity: strictly more than the timeout).
            ends = []
            if at - segment["last"] > INACTIVITY_S:
                ends.append((segment["last"] + INACTIVITY_S + 0.001, "inactivity"))
            if at >= segment["first"] + TOTAL_S:
                ends.append((segment["first"] + TOTAL_S, "timeout"))
            if ends:
                out.append((job, segment["n"], segment["sum"], min(ends)[1]))
                segment = None
        if segment is None:
            segment = open_segments[job] = {"n": 0, "sum": 0, "first": at, "last": at}
        segment["n"] += 1
        segment["sum"] += event.fields["v"]
        segment["last"] = at
        if event.fields.get("step") == "end":
            out.append((job, segment["n"], segment["sum"], "end"))
            del open_segments[job]
    return out


def test_every_flush_rule_on_event_time(servers, tmp_path: Path, log_dir: Path) -> None:
    rng = random.Random(42)
    feed = Feed()
    on_time, late = [], []
    clock = 0.0
    while clock < 600:
        clock += rng.uniform(0.5, 3)
        at = clock - (rng.uniform(0, LATENESS_S - 1) if rng.random() < 0.2 else 0)  # out of order, within lateness
        on_time.append(feed.add(at, kind="w", host=rng.choice(["h1", "h2", "h3"]), v=rng.randint(1, 9), at=at))
        if rng.random() < 0.4:
            job = rng.choices(["build", "deploy", "batch"], weights=[7, 2, 1])[0]
            step = "end" if job == "deploy" and rng.random() < 0.15 else "work"
            feed.add(clock, kind="s", job=job, step=step, v=rng.randint(1, 9), at=clock)
        if rng.random() < 0.01:
            clock += rng.uniform(INACTIVITY_S, INACTIVITY_S * 2)  # a quiet spell: sessions time out
    phase_one = list(feed.events)
    # Minutes behind every host's newest event: their windows are closed.
    for host in ("h1", "h2", "h3"):
        at = rng.uniform(0, 300)
        late.append(feed.add(at, kind="w", host=host, v=100, at=at))
    phase_two = feed.events[len(phase_one) :]
    closers = [feed.add(CLOSING_S, kind="w", host=host, v=0, at=CLOSING_S) for host in ("h1", "h2", "h3")]
    closers += [feed.add(CLOSING_S, kind="s", job=job, v=0, at=CLOSING_S) for job in ("build", "deploy", "batch")]

    pipeline = write_pipeline(tmp_path, {"aggregations": AGGREGATIONS})
    create_topics(pipeline, servers.kafka)
    (aggregator,) = start(["aggregator"], pipeline, servers, log_dir)
    port = serving_port(aggregator)
    folded = 0
    try:
        # In phases, so that the late events are surely judged after the events that make them late.
        for batch in (phase_one, phase_two, closers):
            feed_parsed(servers.kafka, pipeline, batch, per_record=100)
            folded += sum(ROUTES_PER_KIND[event.fields["kind"]] for event in batch)
            wait_until(
                lambda wanted=folded: (
                    metric(port, "streamstash_events_received_total", topic=pipeline.topics.tasks) >= wanted
                ),
                timeout=90,
                message="the aggregator did not fold the events",
            )
        wait_until(
            lambda: metric(port, "streamstash_aggregator_late_events_total") >= 2 * len(late),
            timeout=30,
            message="late events not counted",
        )
    finally:
        stop_all([aggregator])
    emitted = aggregates_by_id(servers.kafka, pipeline)
    by_aggregation: dict[str, list[Event]] = defaultdict(list)
    for event in emitted.values():
        by_aggregation[event.fields["aggregation"]].append(event)

    for name, step in (("tumbling", WINDOW_S), ("hopping", HOP_S)):
        want = window_totals(on_time + late, step)
        late_cells = window_totals(late, step)
        got: dict[tuple[str, int], list[int]] = defaultdict(lambda: [0, 0])
        late_events = 0
        for event in by_aggregation[name]:
            window_start = _epoch(event.fields[names.FIELD_WINDOW_START]) - BASE_S
            cell = got[(event.fields["task_id"], window_start)]
            cell[0] += event.fields["n"]
            cell[1] += event.fields["total"]
            if event.fields[names.FIELD_FLUSH_REASON] == "late":
                assert event.tags == [names.TAG_AGGREGATE_LATE]
                assert (event.fields["task_id"], window_start) in late_cells
                late_events += event.fields["n"]
            else:
                assert event.fields[names.FIELD_FLUSH_REASON] == "window" and event.tags == []
                assert event.id == f"{name}:{event.fields['task_id']}:w{event.fields[names.FIELD_WINDOW_START]}"
        closed = {cell: value for cell, value in want.items() if cell[1] + WINDOW_S <= CLOSING_S - LATENESS_S}
        assert dict(got) == closed, name
        assert late_events == sum(count for count, _ in late_cells.values())

    session_events = [event for event in phase_one + closers if event.fields["kind"] == "s"]
    expected_sessions = sessions(session_events)
    assert {reason for *_, reason in expected_sessions} == {"inactivity", "timeout", "end"}
    got_sessions = sorted(
        by_aggregation["sessions"], key=lambda event: (event.fields["task_id"], int(event.id.rsplit(":", 1)[1]))
    )
    assert sorted(
        (event.fields["task_id"], event.fields["n"], event.fields["total"], event.fields[names.FIELD_FLUSH_REASON])
        for event in got_sessions
    ) == sorted(expected_sessions)
    tags = {"inactivity": [names.TAG_AGGREGATE_INACTIVITY], "timeout": [names.TAG_AGGREGATE_TIMEOUT], "end": []}
    for event in got_sessions:
        assert event.tags == tags[event.fields[names.FIELD_FLUSH_REASON]]


def _epoch(text: str) -> int:
    from streamstash.events.timeformats import parse_iso8601

    moment = parse_iso8601(text)
    assert moment is not None
    return int(moment.timestamp())


def test_idle_flush_closes_open_windows_of_a_quiet_stream_by_wall_clock(servers, tmp_path: Path, log_dir: Path) -> None:
    pipeline = write_pipeline(
        tmp_path,
        {
            "aggregations": [
                {
                    "name": "live",
                    "task_id": "%{host}",
                    "metrics": {"n": {"type": "count"}},
                    "flush": {"window": {"size": "1h"}, "idle_flush": "2s"},
                }
            ]
        },
    )
    create_topics(pipeline, servers.kafka)
    (aggregator,) = start(["aggregator"], pipeline, servers, log_dir)
    feed = Feed()
    events = [feed.add(seconds, kind="w", host=host, at=seconds) for seconds, host in ((1, "a"), (2, "b"), (3, "a"))]
    try:
        serving_port(aggregator)
        feed_parsed(servers.kafka, pipeline, events)
        emitted = wait_until(
            lambda: len(found := aggregates_by_id(servers.kafka, pipeline)) >= 2 and found,
            timeout=120,
            message="the quiet windows were never flushed",
        )
    finally:
        stop_all([aggregator])
    assert {(event.fields["task_id"], event.fields["n"], tuple(event.tags)) for event in emitted.values()} == {
        ("a", 2, (names.TAG_AGGREGATE_IDLE,)),
        ("b", 1, (names.TAG_AGGREGATE_IDLE,)),
    }
