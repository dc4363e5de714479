"""Task routing's pre-check: routes whose task id needs a field the event lacks are passed over before the
working dict is made, and the keys and the indexer's "consumed by an aggregation" verdict are those of full
routing."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from streamstash import names
from streamstash.aggregation.routing import TaskRouter
from streamstash.config import parse_pipeline
from streamstash.events.envelope import Event, Source
from streamstash.events.inputfields import InputFields

PIPELINE = """
aggregations:
  - name: tasks
    task_id: "%{action}_%{[job][progress]}"
    metrics: {n: {type: count}}
    flush: {every: 2}
  - name: per_host
    task_id: "%{host}-%{path}"
    metrics: {n: {type: count}}
    flush: {every: 2}
    index_events: true
  - name: by_message
    task_id: "%{message}/%{[@metadata][kind]}"
    when: '[tags] == []'
    metrics: {n: {type: count}}
    flush: {every: 2}
  - name: daily
    task_id: "%{+YYYY.MM.dd}"
    when: '[verb] == "POST"'
    metrics: {n: {type: count}}
    flush: {window: {size: 1m}}
"""
FILE = Source(kind=names.SOURCE_FILE, host="web1", path="/var/log/app.log")
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


@pytest.fixture
def router() -> TaskRouter:
    return TaskRouter(parse_pipeline(PIPELINE, "test", env={}).aggregations)


def event(message: str | None = "m", timestamp: str | None = "2026-12-03T10:00:00.000Z", **fields: Any) -> Event:
    return Event(message=message, timestamp=timestamp, source=FILE, fields=fields, id="logs.raw:0:1:0")


def full_routing(router: TaskRouter, event: Event) -> tuple[list[str], bool]:
    """Keys and the consumed verdict without the pre-check: every route looked at on the working dict."""
    doc = router.working(event)
    keys = [f"{route.spec.name}|{task_id}" for route, task_id in router._matching(event, doc, router.routes)]
    consumed = any(True for _ in router._matching(event, doc, router._consuming)) and not any(
        True for _ in router._matching(event, doc, router._indexing)
    )
    return keys, consumed


def test_needs_are_the_task_ids_top_level_fields_only_the_events_fields_can_hold(router: TaskRouter) -> None:
    needs = {route.spec.name: route.needs for route in router.routes}
    # host/path come from the input, message/@metadata/@timestamp from the envelope or the input: never needed
    assert needs == {"tasks": ("action", "job"), "per_host": (), "by_message": (), "daily": ()}
    ecs = TaskRouter(parse_pipeline(PIPELINE, "test", env={}).aggregations, InputFields(ecs=True))
    assert {route.spec.name: route.needs for route in ecs.routes}["per_host"] == ("path",)  # ECS: [log][file][path]
    off = TaskRouter(parse_pipeline(PIPELINE, "test", env={}).aggregations, InputFields(enabled=False))
    assert {route.spec.name: route.needs for route in off.routes}["per_host"] == ("host", "path")


@pytest.mark.parametrize(
    "sample",
    [
        event(),
        event(action="resize", job={"progress": "thumb"}),
        event(action="resize"),  # no [job]: not a task
        event(job={"progress": "thumb"}),
        event(action="resize", job={}),  # [job] without [progress]: passes the pre-check, does not render
        event(action=None, job={"progress": "thumb"}),
        event(message=None, verb="POST"),
        event(timestamp=None, verb="POST"),
        event(verb="POST", tags_field=1),
        event(host="own-host", path="own-path", action="a", job={"progress": 1}),
        event(**{"@metadata": {"kind": "k"}}),
        Event(message="m", source=Source(kind=names.SOURCE_AGGREGATE), fields={"action": "a", "job": {"progress": 1}}),
    ],
)
def test_keys_and_consumed_are_those_of_full_routing(router: TaskRouter, sample: Event) -> None:
    assert (router.keys_for(sample), router.is_consumed(sample)) == full_routing(router, sample)


def test_an_event_no_route_can_match_is_routed_without_its_working_dict(monkeypatch: pytest.MonkeyPatch) -> None:
    config = parse_pipeline(PIPELINE.split("  - name: per_host", maxsplit=1)[0], "test", env={})
    router = TaskRouter(config.aggregations)

    def no_working_dict(_event: Event) -> dict[str, Any]:
        raise AssertionError("the working dict was made")

    monkeypatch.setattr(router, "working", no_working_dict)
    access_line = event(clientip="192.0.2.1", verb="GET", response=200)
    assert router.keys_for(access_line) == []
    assert router.is_consumed(access_line) is False


def one_route(task_id: str, index_events: bool = False, when: str | None = None, ecs: bool = False) -> TaskRouter:
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


@pytest.mark.parametrize("task_id", TASK_IDS)
@pytest.mark.parametrize("ecs", [False, True])
def test_one_route_over_sources_and_fields_gives_full_routings_keys_and_verdict(task_id: str, ecs: bool) -> None:
    routing = one_route(task_id, ecs=ecs)
    verdicts = set()
    for source, fields in itertools.product(SOURCES, FIELD_SETS):
        sample = Event(message="m", timestamp="2026-12-03T09:00:00.000Z", source=source, fields=dict(fields))
        consumed = routing.is_consumed(sample)
        assert (routing.keys_for(sample), consumed) == full_routing(routing, sample), (source, fields)
        verdicts.add(consumed)
    assert verdicts == {True, False}  # both verdicts met: the cases tell them apart


def test_access_lines_beside_task_lines_are_kept_and_task_lines_consumed() -> None:
    routing = one_route("%{action}_%{progress}")
    assert not routing.is_consumed(Event(message="GET /", source=FILE, fields={"verb": "GET", "response": 200}))
    assert routing.is_consumed(Event(message="t", source=FILE, fields={"action": "resize", "progress": "done"}))


def test_a_task_id_of_own_fields_is_routed_without_the_working_dict(monkeypatch: pytest.MonkeyPatch) -> None:
    routing = one_route("%{action}_%{[job][progress]}")

    def no_working_dict(_event: Event) -> dict[str, Any]:
        raise AssertionError("the working dict was made")

    monkeypatch.setattr(routing, "working", no_working_dict)
    assert routing.is_consumed(Event(source=FILE, fields={"action": "resize", "job": {"progress": "done"}}))
    assert not routing.is_consumed(Event(source=FILE, fields={"action": "resize", "job": {}}))


def test_a_condition_still_decides_for_events_with_the_fields() -> None:
    routing = one_route("%{action}", when='[action] == "resize"')
    assert routing.is_consumed(Event(source=FILE, fields={"action": "resize"}))
    assert not routing.is_consumed(Event(source=FILE, fields={"action": "encode"}))
    assert not routing.is_consumed(Event(source=FILE, fields={"verb": "GET"}))


def test_needs_of_a_task_id_mixing_event_input_envelope_and_date_parts() -> None:
    (route,) = one_route("%{action}_%{[a][b]}-%{host}-%{message}-%{[@metadata][x]}-%{+YYYY}").routes
    assert set(route.needs) == {"action", "a"}


@pytest.mark.parametrize("ecs", [False, True])
@pytest.mark.parametrize("source", SOURCES)
def test_every_input_field_starts_with_a_shown_root(source: Source, ecs: bool) -> None:
    syslog = Event(message="m", source=source, fields={names.FIELD_SYSLOG: {}})
    paths = [path for path, _ in InputFields(ecs=ecs).of(syslog)]
    assert {path[0] for path in paths} <= InputFields(ecs=ecs).roots
