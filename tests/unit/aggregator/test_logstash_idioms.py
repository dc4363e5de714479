"""What the aggregate filter's idioms need from the aggregator: lists a map collects, fields set on every
aggregate, and the tags and fields a timeout adds (Logstash's timeout_tags / timeout_code)."""

from __future__ import annotations

from tests.unit.aggregator.helpers import BASE_MS, MemoryTable, make_processor, run, task_event


def at(seconds: float) -> int:
    return BASE_MS + int(seconds * 1000)


def test_lists_collect_values_or_objects_bounded_and_unique() -> None:
    table = MemoryTable()
    processor = make_processor("""
  - name: towns
    task_id: "%{country}"
    metrics:
      towns: {type: list, fields: {town_name: town}}
      names: {type: list, field: town, unique: true, max_items: 2}
    flush: {every: 4}
""")
    events = [
        task_event(0, at(0), country="FR", town="Paris"),
        task_event(1, at(1), country="FR", town="Paris"),
        task_event(2, at(2), country="FR"),  # nothing to collect
        task_event(3, at(3), country="FR", town="Lyon"),
    ]
    (aggregate,) = run(processor, table, events)
    assert aggregate.fields["towns"] == [{"town_name": "Paris"}, {"town_name": "Paris"}, {"town_name": "Lyon"}]
    assert aggregate.fields["names"] == ["Paris", "Lyon"]


def test_lists_survive_the_table_between_records() -> None:
    table = MemoryTable()
    processor = make_processor("""
  - name: towns
    task_id: "%{country}"
    metrics: {towns: {type: list, field: town}}
    flush: {every: 3}
""")
    assert run(processor, table, [task_event(0, at(0), country="FR", town="Paris")]) == []
    assert run(processor, table, [task_event(1, at(1), country="FR", town="Nice")]) == []
    (aggregate,) = run(processor, table, [task_event(2, at(2), country="FR", town="Lyon")])
    assert aggregate.fields["towns"] == ["Paris", "Nice", "Lyon"]


CLICKS = """
  - name: clicks
    task_id: "%{user}"
    metrics: {clicks: {type: count}}
    flush: {inactivity_timeout: 10s, end_when: '[page] == "logout"'}
    add_fields: {kind: session, several: {condition: "[clicks] > 1"}}
    timeout_tags: [_aggregatetimeout]
    timeout_fields: {timed_out: true, many: {condition: "[clicks] >= 3"}}
"""


def test_add_fields_on_every_aggregate_and_timeout_only_ones() -> None:
    processor, table = make_processor(CLICKS), MemoryTable()
    ended = run(
        processor,
        table,
        [task_event(0, at(0), user="u1", page="home"), task_event(1, at(1), user="u1", page="logout")],
    )
    assert [(agg.fields["kind"], agg.fields["several"], "timed_out" in agg.fields) for agg in ended] == [
        ("session", True, False)
    ]
    assert "_aggregatetimeout" not in ended[0].tags
    run(processor, table, [task_event(2, at(2), user="u2", page="home")])
    (timed_out,) = run(processor, table, [task_event(3, at(30), user="u3", page="home")])
    assert timed_out.fields["user"] == "u2"
    assert (timed_out.fields["kind"], timed_out.fields["several"]) == ("session", False)
    assert (timed_out.fields["timed_out"], timed_out.fields["many"]) == (True, False)
    assert timed_out.tags[-2:] == ["_aggregate_inactivity", "_aggregatetimeout"]


def test_idle_flush_counts_as_a_timeout() -> None:
    processor, table = make_processor(CLICKS.replace("inactivity_timeout: 10s", "idle_flush: 10s")), MemoryTable()
    run(processor, table, [task_event(0, at(0), user="u1", page="home")])
    outcome = processor.idle_flush(0, table.get, lambda spec: True)
    (aggregate,) = outcome.emitted
    assert aggregate.fields["timed_out"] is True and "_aggregatetimeout" in aggregate.tags
