"""Routes whose task id and folding read only the event's own fields route and fold on `event.fields` itself,
without the working dict: the task keys and everything folded (state, aggregates) are those of the general
path, which reads the working dict with the envelope's and the input's fields."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streamstash import names
from streamstash.aggregation.folding import FoldResult, TaskAggregator
from streamstash.aggregation.rekey import routable_events
from streamstash.aggregation.routing import TaskRouter, event_time_ms
from streamstash.aggregation.state import SEGMENT
from streamstash.config import parse_pipeline
from streamstash.config.aggregator import AggregationSpec
from streamstash.events.envelope import Batch, Event, RecordDecodeError, Source, encode
from streamstash.events.inputfields import InputFields

PIPELINE = """
aggregations:
  - name: jobs
    task_id: "%{action}-%{[job][id]}"
    metrics:
      n: {type: count}
      total: {type: sum, field: elapsed}
      mean: {type: avg, field: "[job][elapsed]"}
      low: {type: min, field: elapsed}
      high: {type: max, field: elapsed}
      first_user: {type: first, field: user}
      last_user: {type: last, field: "[job][user]"}
      users: {type: distinct, field: user}
      spread: {type: percentiles, field: elapsed}
      steps: {type: list, fields: {step: "[job][step]", who: user}}
      codes: {type: list, field: "[codes][0]", unique: true}
    keep_fields: [user, "[job][step]", "[codes][-1]"]
    flush: {every: 3}
  - name: by_host
    task_id: "%{host}/%{action}"
    metrics: {n: {type: count}, total: {type: sum, field: elapsed}}
    flush: {every: 2}
  - name: keeps_input
    task_id: "%{action}"
    metrics: {n: {type: count}}
    keep_fields: [path, "[host][name]"]
    flush: {every: 2}
  - name: whole
    task_id: "%{user}"
    metrics: {n: {type: count}}
    keep_fields: ["*"]
    flush: {every: 2}
  - name: reads_envelope
    task_id: "%{[job][id]}"
    metrics: {messages: {type: list, field: message}, ports: {type: distinct, field: port}}
    flush: {every: 2}
  - name: guarded
    task_id: "%{action}"
    when: '[host] == "web1"'
    metrics: {n: {type: count}}
    flush: {end_when: '[job][step] == "end" or [path] == "/var/log/app.log"'}
  - name: daily
    task_id: "%{action}@%{+YYYY.MM.dd}"
    metrics: {n: {type: count}, total: {type: sum, field: elapsed}}
    flush: {window: {size: 1m}}
  - name: idle_users
    task_id: "%{user}"
    metrics: {total: {type: sum, field: elapsed}}
    flush: {inactivity_timeout: 30s, every: 2}
"""
SPECS = parse_pipeline(PIPELINE, "test", env={}).aggregations
INPUTS = {"classic": InputFields(), "ecs": InputFields(ecs=True), "disabled": InputFields(enabled=False)}
SOURCES = [
    Source(kind=names.SOURCE_FILE, host="web1", path="/var/log/app.log"),
    Source(kind=names.SOURCE_FILE),
    Source(kind=names.SOURCE_TCP, peer="10.0.0.1:514"),
    Source(kind=names.SOURCE_UDP, peer="[::1]:514"),
    Source(kind=names.SOURCE_STDIN, host="box"),
    Source(kind=names.SOURCE_AGGREGATE),
]


def routers(specs: list[AggregationSpec], input_fields: InputFields) -> tuple[TaskRouter, TaskRouter]:
    """The router as built, and the same with every route on the general path."""
    direct, general = TaskRouter(specs, input_fields), TaskRouter(specs, input_fields)
    for route in general.routes:
        route.direct_task_id = route.direct_fold = False
    return direct, general


def fold_all(router: TaskRouter, events: list[Event]) -> dict[str, FoldResult]:
    aggregator = TaskAggregator(router)
    results = {}
    for key, group in router.group(events).items():
        times = [event_time_ms(event) for event in group]
        newest: list[int | None] = []
        latest = None
        for time in times:  # the partition's newest time before each event, so that lateness is judged too
            newest.append(latest)
            if time is not None and (latest is None or time > latest):
                latest = time
        results[key] = aggregator.fold(key, None, group, newest, times)
    return results


def assert_same_as_general(specs: list[AggregationSpec], input_fields: InputFields, events: list[Event]) -> None:
    direct, general = routers(specs, input_fields)
    for event in events:
        assert direct.keys_for(event) == general.keys_for(event)
    assert fold_all(direct, events) == fold_all(general, events)


def event(
    number: int = 0,
    source: Source = SOURCES[0],
    message: str | None = "m",
    timestamp: str | None = "2026-12-03T10:00:00.000Z",
    **fields: Any,
) -> Event:
    return Event(
        message=message, timestamp=timestamp, source=source, tags=["t"], fields=fields, id=f"logs.raw:0:{number}:0"
    )


def test_which_routes_read_the_events_fields_directly() -> None:
    expected = {
        "classic": {
            "jobs": (True, True),
            "by_host": (False, False),  # `host`: the input's
            "keeps_input": (True, False),  # keeps `path`, `[host][name]`
            "whole": (True, False),  # `*`: folding makes the event's plain dict anyway
            "reads_envelope": (True, False),  # metrics on `message`, `port`
            "guarded": (False, False),  # a `when`, an `end_when` (both read the input's fields here)
            "daily": (False, True),  # `%{+...}` reads @timestamp
            "idle_users": (True, True),
        },
        "ecs": {"by_host": (False, False), "keeps_input": (True, False), "reads_envelope": (True, False)},
        # without input fields, only the envelope's names are not the event's own
        "disabled": {"by_host": (True, True), "keeps_input": (True, True), "reads_envelope": (True, False)},
    }
    for naming, flags in expected.items():
        router = TaskRouter(SPECS, INPUTS[naming])
        for name, flag in flags.items():
            route = router.by_name[name]
            assert (route.direct_task_id, route.direct_fold) == flag, (naming, name)


def test_a_direct_route_routes_and_folds_without_the_working_dict(monkeypatch: pytest.MonkeyPatch) -> None:
    input_fields = InputFields()
    router = TaskRouter([spec for spec in SPECS if spec.name in ("jobs", "idle_users")], input_fields)

    def no_working_dict(*_args: Any) -> dict[str, Any]:
        raise AssertionError("the working dict was made")

    monkeypatch.setattr(router, "working", no_working_dict)
    monkeypatch.setattr(input_fields, "view", no_working_dict)
    line = event(action="resize", job={"id": 7, "elapsed": 2}, user="ann", elapsed=3)
    assert router.keys_for(line) == ["jobs|resize-7", "idle_users|ann"]
    assert all(result.folded == 1 for result in fold_all(router, [line]).values())


def test_routes_not_direct_fold_the_input_and_envelope_fields() -> None:
    # Both paths of assert_same_as_general share fold(): this pins what the general path itself reads.
    line = event(action="resize", job={"id": 7}, user="ann", elapsed=3)
    results = fold_all(TaskRouter(SPECS), [line])
    opened = {key: result.state["open"].get(SEGMENT) for key, result in results.items()}
    assert opened["by_host|web1/resize"]["f"] == {"host": "web1", "action": "resize"}
    assert opened["keeps_input|resize"]["f"] == {"action": "resize", "path": "/var/log/app.log", "[host][name]": None}
    assert opened["reads_envelope|7"]["m"] == {"messages": ["m"]}
    assert opened["whole|ann"]["f"] == {**line.fields, "message": "m", "tags": ["t"]}  # not the input's


JOB = {"id": 7, "elapsed": 2.5, "user": "bob", "step": "end"}
CASES = [
    [event(action="resize", job=JOB, user="ann", elapsed=3, codes=[200, 404])],
    [event(action="resize")],  # no [job]
    [event(action="resize", job={})],  # [job] without [id]
    [event(action="resize", job={"id": None}, user=None)],
    [event(action="resize", job={"id": [1, 2]}, user={"name": "ann"}, elapsed="12")],  # non-string values
    [event(action=True, job={"id": {"a": 1}}, user=1.5, elapsed=None)],
    [event(host="own", path="own-path", port=1, action="a", job=JOB)],  # the event's own names beside the input's
    [event(source=SOURCES[2], action="a", job=JOB, user="u"), event(1, source=SOURCES[3], action="a", job=JOB)],
    [event(message=None, timestamp=None, action="a", job=JOB, user="u")],
    [event(timestamp="not a time", action="a", job=JOB, user="u")],
    [event(source=SOURCES[5], action="a", job=JOB, user="u")],  # an aggregate is never an input
    [
        event(number, timestamp=f"2026-12-03T10:0{number % 3}:00.000Z", action="a", job=JOB, user="u", elapsed=number)
        for number in range(7)
    ],
]


@pytest.mark.parametrize("naming", INPUTS)
@pytest.mark.parametrize("events", CASES)
def test_keys_and_folds_are_those_of_the_general_path(naming: str, events: list[Event]) -> None:
    assert_same_as_general(SPECS, INPUTS[naming], events)
    for spec in SPECS:  # alone, so that every candidate route is direct where the route is
        assert_same_as_general([spec], INPUTS[naming], events)


_scalars = st.one_of(
    st.none(),
    st.sampled_from(["a", "b", "end", "", "1"]),
    st.integers(-3, 3),
    st.floats(-10, 10, allow_nan=False),
    st.booleans(),
)
_values = st.one_of(_scalars, st.lists(_scalars, max_size=3))
_objects = st.dictionaries(st.sampled_from(["id", "elapsed", "user", "step", "name", "file"]), _values, max_size=4)
_fields = st.dictionaries(
    st.sampled_from(
        ["action", "job", "elapsed", "user", "codes", "host", "path", "port", "message", "log", "@metadata"]
    ),
    st.one_of(_values, _objects),
    max_size=7,
)
_events = st.lists(
    st.builds(
        lambda source, message, timestamp, fields: (source, message, timestamp, fields),
        st.sampled_from(SOURCES),
        st.sampled_from([None, "m"]),
        st.sampled_from([None, "bad", "2026-12-03T10:00:00.000Z", "2026-12-03T10:00:40.000Z", "2026-12-03T10:02:00Z"]),
        _fields,
    ),
    min_size=1,
    max_size=8,
).map(
    lambda drawn: [
        Event(message=message, timestamp=timestamp, source=source, fields=fields, id=f"logs.raw:0:{number}:0")
        for number, (source, message, timestamp, fields) in enumerate(drawn)
    ]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(list(INPUTS)), st.sampled_from([None, *range(len(SPECS))]), _events)
def test_any_events_route_and_fold_as_on_the_general_path(naming: str, alone: int | None, events: list[Event]) -> None:
    assert_same_as_general(SPECS if alone is None else [SPECS[alone]], INPUTS[naming], events)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(list(INPUTS)), st.sampled_from([None, *range(len(SPECS))]), _events)
def test_events_passed_over_on_their_text_are_those_no_aggregation_takes(
    naming: str, alone: int | None, events: list[Event]
) -> None:
    router = TaskRouter(SPECS if alone is None else [SPECS[alone]], INPUTS[naming])
    received, routable = routable_events(encode(Batch(events=events)), router)
    assert received == len(events)
    assert [router.keys_for(event) for event in routable if router.keys_for(event)] == [
        router.keys_for(event) for event in events if router.keys_for(event)
    ]
    assert [event.fields for event in routable] == [
        event.fields for event in events if router.may_route(encode_fields(event))
    ]


def encode_fields(event: Event) -> bytes:
    return msgspec.json.encode(event.fields)


def test_an_event_without_a_needed_field_in_its_text_is_not_decoded() -> None:
    router = TaskRouter([SPECS[0]], INPUTS["classic"])  # jobs: %{action}-%{[job][id]}
    lines = [event(0, elapsed=3), event(1, action="run", job={"id": 1}), event(2, user="action")]
    received, routable = routable_events(encode(Batch(events=lines)), router)
    assert received == 3 and [item.id for item in routable] == ["logs.raw:0:1:0"]


def test_a_record_whose_text_lacks_a_needed_field_is_only_counted() -> None:
    router = TaskRouter([SPECS[0]], INPUTS["classic"])  # jobs: %{action}-%{[job][id]}
    lines = [event(0, elapsed=3), event(1, user="action", message='say "action"')]
    assert routable_events(encode(Batch(events=lines)), router) == (2, [])
    # Its events are not decoded: one that decode_batch refuses is passed over as well (the indexer
    # dead-letters it), while a record that is no list of events is still refused.
    assert routable_events(b'{"events": [{"message": 1}, {}]}', router) == (2, [])
    for garbage in (b'{"events": {}}', b"\x00\xffnot json"):
        with pytest.raises(RecordDecodeError):
            routable_events(garbage, router)
