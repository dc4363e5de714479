"""Aggregation settings (durations, rule combinations) and the sketches' compact, order-independent state."""

from __future__ import annotations

import random

import orjson
import pytest

from streamstash.aggregation import sketches
from streamstash.aggregation.records import TaskGroup, TaskRecord, decode_task_record, encode_task_record
from streamstash.config import ConfigError, parse_pipeline
from streamstash.events.envelope import RecordDecodeError


def aggregation(flush: str) -> str:
    return (
        f"aggregations:\n  - name: a\n    task_id: '%{{x}}'\n    metrics: {{c: {{type: count}}}}\n    flush: {flush}\n"
    )


def test_durations_and_windows_parse_to_milliseconds() -> None:
    config = parse_pipeline(aggregation("{window: {size: 5m, advance: 30s}, allowed_lateness: 1.5}"), env={})
    flush = config.aggregations[0].flush
    assert (flush.window.size, flush.window.step, flush.allowed_lateness) == (300_000, 30_000, 1500)
    assert flush.uses_event_time
    config = parse_pipeline(
        aggregation("{every: '${N:-3}', inactivity_timeout: 250ms, total_timeout: 1h}"), env={"N": "100"}
    )
    flush = config.aggregations[0].flush
    assert (flush.every, flush.inactivity_timeout, flush.total_timeout) == (100, 250, 3_600_000)


@pytest.mark.parametrize(
    ("flush", "fragment"),
    [
        ("{window: {size: 1m}, every: 3}", "cannot be combined with every"),
        ("{window: {size: 1m, advance: 2m}}", "at most `size`"),
        ("{inactivity_timeout: soon}", "not a duration"),
        ("{}", "needs a flush rule"),
    ],
)
def test_inconsistent_flush_rules_are_config_errors(flush: str, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        parse_pipeline(aggregation(flush), env={})


def test_an_aggregation_without_flush_section_emits_every_hundred() -> None:
    config = parse_pipeline(
        "aggregations:\n  - name: a\n    task_id: '%{x}'\n    metrics: {c: {type: count}}\n", env={}
    )
    assert config.aggregations[0].flush.every == 100


def test_percentile_sketch_is_order_independent_bounded_and_accurate() -> None:
    values = [random.Random(1).lognormvariate(5, 1) for _ in range(20_000)]
    shuffled = values[:]
    random.Random(2).shuffle(shuffled)
    one = sketches.add_percentile_values(None, values, 0.01, 1024)
    state = None
    for start in range(0, len(shuffled), 333):  # in batches, through the stored form each time
        state = orjson.loads(
            orjson.dumps(sketches.add_percentile_values(state, shuffled[start : start + 333], 0.01, 1024))
        )
    assert one == state
    result = sketches.percentile_values(state, [50, 99.9], 0.01, 1024)
    ordered = sorted(values)
    assert result["p50"] == pytest.approx(ordered[len(ordered) // 2], rel=0.02)
    assert result["p99_9"] == pytest.approx(ordered[int(len(ordered) * 0.999)], rel=0.02)
    assert len(orjson.dumps(state)) < 8_000
    wide = sketches.add_percentile_values(None, [10.0**exponent for exponent in range(-300, 300)], 0.01, 64)
    assert len(wide[5]) <= 65  # bins beyond max_bins collapse: the state stays bounded


def test_distinct_counter_is_exact_when_small_and_close_when_large() -> None:
    small = sketches.add_distinct_values(None, ["a", "b", "a", 1, 1.0, {"k": 1}], 12)
    assert sketches.distinct_estimate(small) == 4  # 1 and 1.0 are the same JSON number
    large = None
    for start in range(0, 50_000, 5_000):
        large = sketches.add_distinct_values(large, [f"user-{n}" for n in range(start, start + 5_000)], 12)
    assert sketches.distinct_estimate(large) == pytest.approx(50_000, rel=0.05)
    assert len(large) < 3_000


def test_task_records_round_trip_with_their_order() -> None:
    from streamstash.events.envelope import Event, Source

    record = TaskRecord(
        groups=[
            TaskGroup("a|x", [Event(source=Source(kind="file"), id="r:0:0:0")], [1]),
            TaskGroup("a|y", [Event(source=Source(kind="file"), id="r:0:0:1")], [0]),
        ]
    )
    assert decode_task_record(encode_task_record(record)) == record
    assert decode_task_record(encode_task_record(TaskRecord(idle_tick=True))).idle_tick
    with pytest.raises(RecordDecodeError, match=r"not a logs\.tasks record"):
        decode_task_record(b'{"events": []}x')


def test_task_records_are_cut_by_events_and_by_estimated_bytes_keeping_every_event_in_order() -> None:
    from streamstash.aggregation.records import task_records
    from streamstash.events.envelope import Event, Source, encoded_size

    events = [
        Event(
            message="x" * (10 + 300 * (n % 4)), source=Source(kind="file"), fields={"t": f"t{n % 7}"}, id=f"r:0:0:{n}"
        )
        for n in range(500)
    ]

    def keys_for(event: Event) -> list[str]:
        return [f"a|{event.fields['t']}"]

    for max_events, max_bytes in ((500, None), (64, None), (10_000, 20_000), (3, 1), (1000, 5_000)):
        (records,) = task_records(events, keys_for, 1, max_events, max_bytes).values()
        for record in records:
            sizes = [encoded_size(event) for group in record.groups for event in group.events]
            assert 1 <= len(sizes) <= max_events
            assert max_bytes is None or len(sizes) == 1 or sum(sizes) <= max_bytes
        # Each record's `order` places its events back in the order they came in, and none is lost.
        replayed = []
        for record in records:
            placed = sorted(
                (place, event.id)
                for group in record.groups
                for place, event in zip(group.order, group.events, strict=True)
            )
            assert [place for place, _ in placed] == list(range(len(placed)))
            replayed += [event_id for _, event_id in placed]
        assert replayed == [event.id for event in events]
    assert len(task_records(events, keys_for, 1, 500, 20_000)[0]) > 1  # the byte bound did cut
