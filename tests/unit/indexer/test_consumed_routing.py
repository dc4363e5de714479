"""The indexer's "consumed by an aggregation" shortcut: events whose fields lack what a consuming task id
names are told apart before their working view is built, with the verdict the full routing gives."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from streamstash import names
from streamstash.aggregation.routing import TaskRouter
from streamstash.config import parse_pipeline
from streamstash.events.envelope import Event, Source
from streamstash.events.inputfields import InputFields

FILE = Source(kind=names.SOURCE_FILE, host="web1", path="/var/log/access.log")
SOURCES = [
    FILE,
    Source(kind=names.SOURCE_STDIN, host="laptop"),
    Source(kind=names.SOURCE_UDP, host="collector", peer="192.0.2.7:514"),
    Source(kind=names.SOURCE_TCP, host="collector", peer="[2001:db8::7]:6514"),
    Source(kind=names.SOURCE_DOCKER, host="node"),
    Source(kind=names.SOURCE_AGGREGATE),
]
TASK_IDS = [
    "%{action}_%{progress}",
    "%{[a][b]}",
    "%{[list][0]}",
    "%{ action }",
    "%{host}",  # an input field: shown by the view, not among the event's fields
    "%{[log][file][path]}",
    "%{message}-%{+YYYY.MM}",
    "%{[@metadata][target]}",
    "constant",
]
FIELD_SETS: list[dict[str, Any]] = [
    {},
    {"action": "resize", "progress": "done"},
    {"action": "resize"},
    {"action": None, "progress": "done"},
    {"a": {"b": 1}},
    {"a": {"c": 1}},
    {"a": "text"},
    {"list": []},
    {"list": ["x"]},
    {"@metadata": {"target": "t"}},
    {"host": "own", "log": {"file": {"path": "p"}}},
]


def router(task_id: str, index_events: bool = False, when: str | None = None, ecs: bool = False) -> TaskRouter:
    condition = f"\n    when: '{when}'" if when else ""
    config = parse_pipeline(
        f"""
aggregations:
  - name: consuming
    task_id: "{task_id}"{condition}
    metrics: {{n: {{type: count}}}}
    flush: {{every: 2}}
    index_events: {str(index_events).lower()}
""",
        "test",
        env={},
    )
    return TaskRouter(config.aggregations, InputFields(ecs=ecs))


def full_routing(router: TaskRouter, event: Event) -> bool:
    """`is_consumed` without the shortcut: the working view built for every event."""
    doc = router.working(event)
    if next(iter(router._matching(event, doc, router._consuming)), None) is None:
        return False
    return next(iter(router._matching(event, doc, router._indexing)), None) is None


@pytest.mark.parametrize("task_id", TASK_IDS)
@pytest.mark.parametrize("ecs", [False, True])
def test_the_shortcut_gives_the_full_routings_verdict(task_id: str, ecs: bool) -> None:
    routing = router(task_id, ecs=ecs)
    verdicts = set()
    for source, fields in itertools.product(SOURCES, FIELD_SETS):
        event = Event(message="m", timestamp="2026-12-03T09:00:00.000Z", source=source, fields=dict(fields))
        consumed = routing.is_consumed(event)
        assert consumed is full_routing(routing, event), (source, fields)
        verdicts.add(consumed)
    assert verdicts == {True, False}  # both verdicts met: the cases tell them apart


def test_access_lines_beside_task_lines_are_kept_and_task_lines_consumed() -> None:
    routing = router("%{action}_%{progress}")
    assert not routing.is_consumed(Event(message="GET /", source=FILE, fields={"verb": "GET", "response": 200}))
    assert routing.is_consumed(Event(message="t", source=FILE, fields={"action": "resize", "progress": "done"}))


def test_a_condition_still_decides_for_events_with_the_fields() -> None:
    routing = router("%{action}", when='[action] == "resize"')
    assert routing.is_consumed(Event(source=FILE, fields={"action": "resize"}))
    assert not routing.is_consumed(Event(source=FILE, fields={"action": "encode"}))
    assert not routing.is_consumed(Event(source=FILE, fields={"verb": "GET"}))


def test_needs_are_the_first_names_only_the_events_fields_can_hold() -> None:
    (route,) = router("%{action}_%{[a][b]}-%{host}-%{message}-%{[@metadata][x]}-%{+YYYY}").routes
    assert set(route.needs) == {"action", "a"}


@pytest.mark.parametrize("ecs", [False, True])
@pytest.mark.parametrize("source", SOURCES)
def test_every_input_field_starts_with_a_shown_root(source: Source, ecs: bool) -> None:
    syslog = Event(message="m", source=source, fields={names.FIELD_SYSLOG: {}})
    paths = [path for path, _ in InputFields(ecs=ecs).of(syslog)]
    assert {path[0] for path in paths} <= InputFields(ecs=ecs).roots
