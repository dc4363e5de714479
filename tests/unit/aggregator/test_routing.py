"""Task routing's pre-check: routes whose task id needs a field the event lacks are passed over before the
working dict is made, and the keys (and the indexer's consumed decision) are those of full routing."""

from __future__ import annotations

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


@pytest.fixture
def router() -> TaskRouter:
    return TaskRouter(parse_pipeline(PIPELINE, "test", env={}).aggregations)


def event(message: str | None = "m", timestamp: str | None = "2026-12-03T10:00:00.000Z", **fields: Any) -> Event:
    return Event(message=message, timestamp=timestamp, source=FILE, fields=fields, id="logs.raw:0:1:0")


def full_keys(router: TaskRouter, event: Event) -> list[str]:
    """Routing without the pre-check: every route looked at on the working dict."""
    doc = router.working(event)
    return [f"{route.spec.name}|{task_id}" for route, task_id in router._matching(event, doc, router.routes)]


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
    assert router.keys_for(sample) == full_keys(router, sample)
    consuming = [route for route in router.routes if not route.spec.index_events]
    indexing = [route for route in router.routes if route.spec.index_events]
    doc = router.working(sample)
    expected = any(True for _ in router._matching(sample, doc, consuming)) and not any(
        True for _ in router._matching(sample, doc, indexing)
    )
    assert router.is_consumed(sample) == expected


def test_an_event_no_route_can_match_is_routed_without_its_working_dict(monkeypatch: pytest.MonkeyPatch) -> None:
    config = parse_pipeline(PIPELINE.split("  - name: per_host", maxsplit=1)[0], "test", env={})
    router = TaskRouter(config.aggregations)

    def no_working_dict(_event: Event) -> dict[str, Any]:
        raise AssertionError("the working dict was made")

    monkeypatch.setattr(router, "working", no_working_dict)
    access_line = event(clientip="192.0.2.1", verb="GET", response=200)
    assert router.keys_for(access_line) == []
    assert router.is_consumed(access_line) is False
