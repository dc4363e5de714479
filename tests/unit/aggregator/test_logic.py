"""The aggregator's folding and event-time closing, in memory: each flush rule, lateness, exactness."""

from __future__ import annotations

import random
from collections import Counter

import orjson
import pytest

from streamstash import names
from streamstash.aggregation.flush import window_starts
from streamstash.aggregation.folding import TaskAggregator
from streamstash.aggregation.processor import RecordProcessor
from streamstash.aggregation.records import partition_for
from streamstash.aggregation.state import max_time_key
from streamstash.events.envelope import Event, Source
from tests.unit.aggregator.helpers import BASE_MS, MemoryTable, groups_of, make_processor, run, task_event


def make_processor_and_table(aggregations: str) -> tuple[RecordProcessor, MemoryTable]:
    return make_processor(aggregations), MemoryTable()


ISSUE_CASE = """
  - name: task_elapsed
    task_id: "%{action}_%{progress}"
    metrics:
      elapsedAvg: {type: avg, field: elapsed}
      count: {type: count}
    flush: {every: 3}
    keep_fields: ["*"]
    remove_fields: [message, tags, elapsed]
"""


def resize(position: int, elapsed: int, at_ms: int | None = None, progress: str = "thumbnail") -> Event:
    return task_event(
        position,
        BASE_MS + position * 10 if at_ms is None else at_ms,
        action="resize",
        progress=progress,
        elapsed=elapsed,
        origtime="2026-11-21T10:00:00.123Z",
    )


def test_issue_case_emits_every_three_events_and_resets() -> None:
    processor, table = make_processor(ISSUE_CASE), MemoryTable()
    emitted = run(
        processor,
        table,
        [resize(0, 100), resize(1, 200), resize(2, 300, progress="crop"), resize(3, 600), resize(4, 10)],
    )
    assert len(emitted) == 1
    aggregate = emitted[0]
    assert aggregate.id == "task_elapsed:resize_thumbnail:1"
    assert aggregate.fields["elapsedAvg"] == pytest.approx(300.0)
    assert aggregate.fields["count"] == 3
    assert aggregate.fields["action"] == "resize" and aggregate.fields["progress"] == "thumbnail"
    assert aggregate.fields["origtime"] == "2026-11-21T10:00:00.123Z"
    assert aggregate.fields[names.FIELD_AGGREGATED] is True
    assert aggregate.fields[names.FIELD_FLUSH_REASON] == "every"
    assert aggregate.message is None and aggregate.tags == [] and "elapsed" not in aggregate.fields
    assert aggregate.timestamp == resize(3, 0).timestamp  # the third event's time
    state = table.state("task_elapsed|resize_thumbnail")
    assert state["open"]["s"]["n"] == 1 and state["seq"] == 1  # the fourth event starts the next three
    emitted = run(processor, table, [resize(5, 1), resize(6, 2), resize(7, 3)])
    assert [(agg.id, agg.fields["count"], agg.fields["elapsedAvg"]) for agg in emitted] == [
        ("task_elapsed:resize_thumbnail:2", 3, pytest.approx(13 / 3))
    ]


def test_a_record_delivered_twice_is_counted_once() -> None:
    processor, table = make_processor(ISSUE_CASE), MemoryTable()
    record = [resize(0, 1), resize(1, 2)]
    assert run(processor, table, record) == []
    assert run(processor, table, record) == []  # redelivered (at-least-once upstream)
    emitted = run(processor, table, [resize(1, 2), resize(2, 3)])  # overlapping redelivery
    assert [agg.fields["count"] for agg in emitted] == [3]
    assert emitted[0].fields["elapsedAvg"] == pytest.approx(2.0)


def test_batching_does_not_change_the_aggregates() -> None:
    rng = random.Random(7)
    events = [
        task_event(i, BASE_MS + i * 100, action=rng.choice("abc"), progress="p", elapsed=rng.randint(1, 500))
        for i in range(300)
    ]
    one_by_one, table = make_processor(ISSUE_CASE), MemoryTable()
    singles = [agg for event in events for agg in run(one_by_one, table, [event])]
    batched, table = make_processor(ISSUE_CASE), MemoryTable()
    chunks = [agg for start in range(0, 300, 37) for agg in run(batched, table, events[start : start + 37])]
    # Within a record, tasks are folded group by group, so only the order across tasks may differ.
    assert sorted((agg.id, orjson.dumps(agg.fields)) for agg in singles) == sorted(
        (agg.id, orjson.dumps(agg.fields)) for agg in chunks
    )
    per_task = Counter(event.fields["action"] for event in events)
    assert len(singles) == sum(count // 3 for count in per_task.values())


WINDOWED = """
  - name: per_minute
    task_id: "%{action}"
    metrics:
      n: {type: count}
      total: {type: sum, field: elapsed}
      slowest: {type: max, field: elapsed}
    flush:
      window: {size: 1m}
      allowed_lateness: 10s
"""


def at(seconds: float) -> int:
    return BASE_MS + int(seconds * 1000)


def test_tumbling_window_closes_on_event_time_and_late_events_get_their_own_aggregate() -> None:
    processor, table = make_processor(WINDOWED), MemoryTable()
    assert (
        run(
            processor,
            table,
            [task_event(0, at(5), action="a", elapsed=1), task_event(1, at(50), action="a", elapsed=2)],
        )
        == []
    )
    # 65 s: the watermark (65 - 10 = 55 s) has not reached the window's end (60 s) yet.
    assert run(processor, table, [task_event(2, at(65), action="a", elapsed=4)]) == []
    # An out-of-order event within the allowed lateness still counts in the first window.
    assert run(processor, table, [task_event(3, at(58), action="a", elapsed=8)]) == []
    emitted = run(processor, table, [task_event(4, at(71), action="b", elapsed=100)])  # another task moves time
    assert len(emitted) == 1
    window = emitted[0]
    assert window.id == "per_minute:a:w2026-11-21T10:00:00.000Z"
    assert window.timestamp == "2026-11-21T10:00:00.000Z"
    assert (window.fields["n"], window.fields["total"], window.fields["slowest"]) == (3, 11, 8)
    assert window.fields[names.FIELD_WINDOW_END] == "2026-11-21T10:01:00.000Z"
    assert window.fields[names.FIELD_FLUSH_REASON] == "window" and window.tags == []
    # Behind the watermark: not dropped, emitted at once as a late aggregate of its window.
    late = run(processor, table, [task_event(5, at(30), action="a", elapsed=16)])
    assert len(late) == 1
    assert late[0].id == "per_minute:a:w2026-11-21T10:00:00.000Z:late:logs.raw:0:0:5"
    assert late[0].tags == [names.TAG_AGGREGATE_LATE] and late[0].fields["n"] == 1
    assert table.state("per_minute|a")["open"].keys() == {str(at(60))}


def test_hopping_windows_count_an_event_in_each_window_that_holds_it() -> None:
    processor, table = make_processor_and_table("""
  - name: hop
    task_id: "%{action}"
    metrics: {n: {type: count}}
    flush: {window: {size: 30s, advance: 10s}}
""")
    assert window_starts(at(25), 30_000, 10_000) == [at(0), at(10), at(20)]
    emitted = run(processor, table, [task_event(i, at(seconds), action="a") for i, seconds in enumerate([1, 12, 25])])
    assert len(emitted) == 2  # the windows ending at 10 s and 20 s closed as soon as 25 s was seen
    emitted += run(processor, table, [task_event(9, at(100), action="z")])
    counts = {agg.fields[names.FIELD_WINDOW_START]: agg.fields["n"] for agg in emitted if agg.fields["task_id"] == "a"}
    assert counts == {
        "2026-11-21T09:59:40.000Z": 1,
        "2026-11-21T09:59:50.000Z": 2,
        "2026-11-21T10:00:00.000Z": 3,
        "2026-11-21T10:00:10.000Z": 2,
        "2026-11-21T10:00:20.000Z": 1,
    }


SESSIONS = """
  - name: job
    task_id: "%{job}"
    metrics: {n: {type: count}, took: {type: sum, field: elapsed}}
    flush:
      inactivity_timeout: 30s
      total_timeout: 5m
      end_when: '[step] == "done"'
      allowed_lateness: 5s
"""


def test_inactivity_timeout_emits_the_partial_aggregate_tagged() -> None:
    processor, table = make_processor(SESSIONS), MemoryTable()
    run(processor, table, [task_event(0, at(0), job="j1", elapsed=1), task_event(1, at(10), job="j1", elapsed=2)])
    # Other tasks' events move event time: 10 + 30 + 5 s lateness must be passed strictly.
    assert run(processor, table, [task_event(2, at(45), job="j2")]) == []
    emitted = run(processor, table, [task_event(3, at(45.001), job="j2")])
    assert [(agg.id, agg.fields["n"], agg.fields["took"], agg.tags) for agg in emitted] == [
        ("job:j1:1", 2, 3, [names.TAG_AGGREGATE_INACTIVITY])
    ]
    assert emitted[0].fields[names.FIELD_FLUSH_REASON] == "inactivity"


def test_an_event_after_the_gap_closes_the_old_segment_even_before_the_watermark_does() -> None:
    processor, table = make_processor(SESSIONS), MemoryTable()
    run(processor, table, [task_event(0, at(0), job="j1", elapsed=1)])
    emitted = run(processor, table, [task_event(1, at(31), job="j1", elapsed=5)])
    assert [(agg.id, agg.fields["n"], agg.fields[names.FIELD_FLUSH_REASON]) for agg in emitted] == [
        ("job:j1:1", 1, "inactivity")
    ]
    assert table.state("job|j1")["open"]["s"]["n"] == 1


def test_total_timeout_and_end_marker() -> None:
    processor, table = make_processor(SESSIONS), MemoryTable()
    events = [task_event(i, at(i * 20), job="long", elapsed=1) for i in range(16)]  # never 30 s apart
    emitted = run(processor, table, events)
    assert [(agg.id, agg.fields["n"], agg.tags) for agg in emitted] == [
        ("job:long:1", 15, [names.TAG_AGGREGATE_TIMEOUT])
    ]  # 0..280 s; the event at 300 s starts anew
    emitted = run(
        processor,
        table,
        [task_event(20, at(310), job="long", elapsed=1), task_event(21, at(311), job="long", elapsed=1, step="done")],
    )
    assert [(agg.id, agg.fields["n"], agg.fields[names.FIELD_FLUSH_REASON], agg.tags) for agg in emitted] == [
        ("job:long:2", 3, "end", [])
    ]


def test_metrics_follow_event_time_and_sketches_estimate() -> None:
    processor, table = make_processor_and_table("""
  - name: m
    task_id: "%{t}"
    metrics:
      low: {type: min, field: v}
      high: {type: max, field: v}
      opened: {type: first, field: v}
      closed: {type: last, field: v}
      users: {type: distinct, field: user}
      latency: {type: percentiles, field: v, percents: [50, 90, 99]}
    flush: {window: {size: 1h}}
""")
    values = list(range(1, 1001))
    random.Random(3).shuffle(values)
    events = [task_event(i, at(value), t="x", v=value, user=f"u{value % 37}") for i, value in enumerate(values)]
    for start in range(0, 1000, 100):
        run(processor, table, events[start : start + 100])
    (aggregate,) = run(processor, table, [task_event(5000, at(7200), t="other", v=0, user="u")])
    fields = aggregate.fields
    assert (fields["low"], fields["high"], fields["opened"], fields["closed"]) == (1, 1000, 1, 1000)
    assert fields["users"] == 37
    for name, exact in (("p50", 500), ("p90", 900), ("p99", 990)):
        assert fields["latency"][name] == pytest.approx(exact, rel=0.02), name
    stored = len(table.data[b"m|other"])
    assert stored < 600  # a sketch is a few small lists, not the values


def test_windows_do_not_depend_on_how_sources_interleave_or_batch() -> None:
    config = WINDOWED.replace("10s", "10m")
    rng = random.Random(11)
    # Eight sources (raw partitions), each in its own order, with event times up to 10 minutes apart.
    sources = [
        [
            task_event(
                i,
                at(rng.uniform(0, 600)),
                offset=i // 10,
                raw_partition=source,
                action=rng.choice("abcd"),
                elapsed=rng.randint(1, 100),
            )
            for i in range(50)
        ]
        for source in range(8)
    ]
    closing = [task_event(0, at(2000), raw_partition=99, action="z", elapsed=0)]

    def interleaved(seed: int) -> list[Event]:
        pick = random.Random(seed)
        queues = [list(source) for source in sources]
        merged = []
        while any(queues):
            merged.append(pick.choice([queue for queue in queues if queue]).pop(0))
        return merged

    def aggregates(ordered: list[Event], size: int) -> dict[str, dict]:
        processor, table = make_processor(config), MemoryTable()
        out = []
        for start in range(0, len(ordered), size):
            out += run(processor, table, ordered[start : start + size])
        out += run(processor, table, closing)
        return {agg.id: agg.fields for agg in out}

    first = aggregates(interleaved(1), 50)
    assert len(first) == 40  # 4 tasks x 10 minutes
    assert sum(fields["n"] for fields in first.values()) == 400
    assert first == aggregates(interleaved(2), 7)


def test_replaying_after_a_crash_between_sending_and_writing_reemits_identical_aggregates() -> None:
    processor, table = make_processor(SESSIONS.replace("end_when", "every: 2\n      end_when")), MemoryTable()
    run(processor, table, [task_event(0, at(0), job="a", elapsed=1)])
    record = [task_event(1, at(1), job="a", elapsed=2), task_event(2, at(100), job="b", elapsed=3)]
    outcome = processor.process(0, groups_of(processor, record), table.get)
    assert [agg.id for agg in outcome.emitted] == ["job:a:1"]
    # Killed after Kafka acknowledged the aggregates, before the table writes: a fresh process
    # rebuilds from the table and folds the same record again.
    restarted = RecordProcessor(TaskAggregator(processor.aggregator.router))
    restarted.rebuild([0], table.data.items(), lambda key: 0)
    again = restarted.process(0, groups_of(restarted, record), table.get)
    assert [(agg.id, agg.fields) for agg in again.emitted] == [(agg.id, agg.fields) for agg in outcome.emitted]
    # Killed half-way through the writes (they are applied in order): still the same result.
    for cut in range(len(again.writes) + 1):
        partial = MemoryTable()
        partial.apply(table.data)
        partial.apply(dict(list(again.writes.items())[:cut]))
        fresh = RecordProcessor(TaskAggregator(processor.aggregator.router))
        fresh.rebuild([0], partial.data.items(), lambda key: 0)
        redo = fresh.process(0, groups_of(fresh, record), partial.get)
        partial.apply(redo.writes)
        complete = MemoryTable()
        complete.apply(table.data)
        complete.apply(again.writes)
        assert partial.data == complete.data, cut


def test_the_newest_event_time_is_written_last() -> None:
    processor, table = make_processor(WINDOWED), MemoryTable()
    outcome = processor.process(
        0, groups_of(processor, [task_event(0, at(1), action="a"), task_event(1, at(2), action="b")]), table.get
    )
    assert list(outcome.writes)[-1] == max_time_key(0)
    assert orjson.loads(outcome.writes[max_time_key(0)]) == at(2)


def test_rebuilt_index_closes_windows_opened_before_a_restart() -> None:
    processor, table = make_processor(WINDOWED), MemoryTable()
    run(processor, table, [task_event(0, at(1), action="a", elapsed=1)], partition=2)
    restarted = RecordProcessor(TaskAggregator(processor.aggregator.router))
    restarted.rebuild([2], table.data.items(), lambda key: 2)
    assert restarted.partitions[2].max_time == at(1)
    emitted = run(restarted, table, [task_event(1, at(200), action="b", elapsed=1)], partition=2)
    assert [agg.id for agg in emitted] == ["per_minute:a:w2026-11-21T10:00:00.000Z"]


def test_idle_flush_emits_open_tasks_and_later_events_of_their_windows_are_late() -> None:
    processor, table = make_processor_and_table("""
  - name: live
    task_id: "%{action}"
    metrics: {n: {type: count}}
    flush: {window: {size: 1m}, idle_flush: 30s}
""")
    run(processor, table, [task_event(0, at(1), action="a")])
    outcome = processor.idle_flush(0, table.get, lambda spec: True)
    table.apply(outcome.writes)
    assert [(agg.id, agg.tags) for agg in outcome.emitted] == [
        ("live:a:w2026-11-21T10:00:00.000Z", [names.TAG_AGGREGATE_IDLE])
    ]
    late = run(processor, table, [task_event(1, at(2), action="a")])
    assert [agg.tags for agg in late] == [[names.TAG_AGGREGATE_LATE]]


def test_router_leaves_untimed_events_to_the_indexer_for_event_time_rules() -> None:
    router = make_processor(WINDOWED + ISSUE_CASE).aggregator.router
    untimed = Event(source=Source(kind="file"), fields={"action": "a", "progress": "p", "elapsed": 1}, id="r:0:0:0")
    assert router.keys_for(untimed) == ["task_elapsed|a_p"]
    timed = task_event(0, at(0), action="a", progress="p", elapsed=1)
    assert sorted(router.keys_for(timed)) == ["per_minute|a", "task_elapsed|a_p"]
    assert router.is_consumed(timed)
    assert not router.is_consumed(task_event(1, at(0), other="x"))
    aggregate = run(make_processor(ISSUE_CASE), MemoryTable(), [timed, timed.__copy__(), timed.__copy__()])
    assert not aggregate  # the same event three times counts once
    (aggregate,) = run(
        make_processor(ISSUE_CASE),
        MemoryTable(),
        [task_event(i, at(i), action="a", progress="p", elapsed=1) for i in range(3)],
    )
    assert aggregate.fields["action"] == "a" and not router.is_consumed(aggregate) and not router.keys_for(aggregate)
    indexed = make_processor(ISSUE_CASE + "    index_events: true\n").aggregator.router
    assert not indexed.is_consumed(timed)
    # One aggregation that keeps the raw events is enough to keep them.
    both = make_processor(ISSUE_CASE + WINDOWED + "    index_events: true\n").aggregator.router
    assert not both.is_consumed(timed)
    assert both.is_consumed(untimed)  # only the every-N aggregation takes it, and it keeps no raw events
    # The indexer routes nothing at all unless an aggregation consumes its events.
    assert both.consumes and router.consumes and not indexed.consumes


def test_partition_for_matches_kafkas_default_partitioner() -> None:
    from aiokafka.partitioner import DefaultPartitioner

    for key in ("task_elapsed|resize_thumbnail", "a|b", "x|" + "y" * 100):
        assert partition_for(key, 6) == DefaultPartitioner()(key.encode(), list(range(6)), list(range(6)))


def test_lateness_is_judged_event_by_event_however_records_are_cut() -> None:
    stream = [
        task_event(0, at(5), action="a", elapsed=1),
        task_event(1, at(50), action="a", elapsed=2),
        task_event(2, at(200), action="b", elapsed=4),
        task_event(3, at(10), action="a", elapsed=8),
        task_event(4, at(201), action="b", elapsed=16),
        task_event(5, at(61), action="a", elapsed=32),
    ]

    def outcome(cuts: list[int]) -> dict[str, tuple]:
        processor, table = make_processor(WINDOWED), MemoryTable()
        emitted = []
        for start, end in zip([0, *cuts], [*cuts, len(stream)], strict=True):
            emitted += run(processor, table, stream[start:end])
        return {agg.id: (agg.fields["n"], agg.fields["total"], tuple(agg.tags)) for agg in emitted}

    whole = outcome([])
    assert whole == outcome([1, 2, 3, 4, 5]) == outcome([3]) == outcome([2, 4])
    assert whole["per_minute:a:w2026-11-21T10:00:00.000Z"] == (2, 3, ())
    assert whole["per_minute:a:w2026-11-21T10:00:00.000Z:late:logs.raw:0:0:3"] == (1, 8, (names.TAG_AGGREGATE_LATE,))
    assert whole["per_minute:a:w2026-11-21T10:01:00.000Z:late:logs.raw:0:0:5"] == (1, 32, (names.TAG_AGGREGATE_LATE,))


def test_a_session_the_watermark_passed_is_closed_before_a_later_arriving_event() -> None:
    stream = [
        task_event(0, at(0), job="j", elapsed=1),
        task_event(1, at(100), job="other", elapsed=1),
        task_event(2, at(20), job="j", elapsed=1),
    ]  # behind the watermark: j's segment ended at 30 s

    def outcome(cuts: list[int]) -> list[tuple]:
        processor, table = make_processor(SESSIONS), MemoryTable()
        emitted = []
        for start, end in zip([0, *cuts], [*cuts, len(stream)], strict=True):
            emitted += run(processor, table, stream[start:end])
        return sorted((agg.id, agg.fields["n"], agg.fields[names.FIELD_FLUSH_REASON]) for agg in emitted)

    # The late event starts a segment of its own, closed at once: the watermark is past it too.
    assert (
        outcome([]) == outcome([1, 2]) == outcome([2]) == [("job:j:1", 1, "inactivity"), ("job:j:2", 1, "inactivity")]
    )


def test_field_selection_keeps_the_task_fields_and_listed_ones_then_removes() -> None:
    processor, table = make_processor_and_table("""
  - name: sel
    task_id: "%{action}_%{[http][verb]}"
    metrics: {n: {type: count}, slowest: {type: max, field: elapsed}}
    flush: {every: 2}
    keep_fields: [host, "[http][status]", "[http][path]", missing]
    remove_fields: ["[http][path]"]
""")
    events = [
        task_event(
            0,
            at(0),
            action="get",
            host="h1",
            elapsed=5,
            extra="dropped",
            http={"verb": "GET", "status": 200, "path": "/a", "bytes": 10},
        ),
        task_event(
            1,
            at(1),
            action="get",
            host="h2",
            elapsed=7,
            extra="dropped",
            http={"verb": "GET", "status": 404, "path": "/b", "bytes": 20},
        ),
    ]
    (aggregate,) = run(processor, table, events)
    fields = {
        key: value
        for key, value in aggregate.fields.items()
        if key not in (names.FIELD_AGGREGATED, names.FIELD_TASK_ID, names.FIELD_AGGREGATION, names.FIELD_FLUSH_REASON)
    }
    # The task id's fields and `keep_fields`, from the last event; `[http][path]` removed after; an
    # absent kept field is left out; nothing else of the events (message, tags, extra, elapsed).
    assert fields == {
        "action": "get",
        "http": {"verb": "GET", "status": 404},
        "host": "h2",
        "n": 2,
        "slowest": 7,
        names.FIELD_COUNT: 2,
    }
    assert aggregate.message is None and aggregate.tags == []
    assert aggregate.fields[names.FIELD_TASK_ID] == "get_GET"
