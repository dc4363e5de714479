"""The fields a Logstash input sets (`host`, `path`, `port`, their ECS names), as filters, conditions and
aggregations see them, and what of them documents keep."""

from __future__ import annotations

from typing import Any

import pytest

from streamstash import names
from streamstash.aggregation.routing import TaskRouter
from streamstash.config import parse_pipeline
from streamstash.events.envelope import Batch, Event, Source, encode, to_document, to_working_dict
from streamstash.events.inputfields import InputFields, input_fields_for
from streamstash.filters import FilterChain
from streamstash.services.parser.logic import RecordParser

FILE = Source(kind=names.SOURCE_FILE, host="web1", path="/var/log/nginx/access.log", inode=3, offset=0)
STDIN = Source(kind=names.SOURCE_STDIN, host="laptop")
UDP = Source(kind=names.SOURCE_UDP, host="collector", peer="192.0.2.7:514")
TCP6 = Source(kind=names.SOURCE_TCP, host="collector", peer="[2001:db8::7]:6514")


def shown(source: Source, ecs: bool, **fields: Any) -> dict[str, Any]:
    event = Event(message="m", source=source, fields=fields)
    doc = to_working_dict(event)
    InputFields(ecs=ecs).show(doc, event)
    return {key: value for key, value in doc.items() if key not in ("message", "tags")}


@pytest.mark.parametrize(
    ("source", "ecs", "expected"),
    [
        (FILE, False, {"host": "web1", "path": "/var/log/nginx/access.log"}),
        (FILE, True, {"host": {"name": "web1"}, "log": {"file": {"path": "/var/log/nginx/access.log"}}}),
        (STDIN, False, {"host": "laptop"}),
        (STDIN, True, {"host": {"hostname": "laptop"}}),
        (UDP, False, {"host": "192.0.2.7"}),
        (UDP, True, {"host": {"ip": "192.0.2.7"}}),
        (TCP6, False, {"host": "2001:db8::7", "port": 6514, "@metadata": {"ip_address": "2001:db8::7"}}),
        (
            TCP6,
            True,
            {"@metadata": {"input": {"tcp": {"source": {"name": "2001:db8::7", "ip": "2001:db8::7", "port": 6514}}}}},
        ),
        (Source(kind=names.SOURCE_AGGREGATE), False, {}),
    ],
)
def test_names_per_input_classic_and_ecs(source: Source, ecs: bool, expected: dict[str, Any]) -> None:
    assert shown(source, ecs) == expected


def test_fields_the_event_has_win_and_its_objects_are_not_changed() -> None:
    assert shown(FILE, False, host="from-add-field") == {"host": "from-add-field", "path": FILE.path}
    own = {"name": "beat-host", "os": "linux"}
    event = Event(message="m", source=FILE, fields={"host": own})
    doc = to_working_dict(event)
    InputFields(ecs=True).show(doc, event)
    assert doc["host"] == {"name": "beat-host", "os": "linux"} and own == {"name": "beat-host", "os": "linux"}
    # a scalar where ECS needs an object: left alone
    assert shown(FILE, True, host="text")["host"] == "text"


def parse(pipeline: str, source: Source = FILE, **fields: Any) -> dict[str, Any]:
    config = parse_pipeline(pipeline, "test", env={})
    parser = RecordParser(FilterChain(config.filters), input_fields_for(config))
    batch = Batch(events=[Event(message="GET /a", timestamp="2026-11-21T10:00:00.000Z", source=source, fields=fields)])
    result = parser.parse_record(encode(batch), "logs.raw", 0, 1)
    assert len(result.parsed) == 1
    document = to_document(result.parsed[0])
    document.pop("source")
    return document


def test_conditions_and_templates_see_them_documents_keep_what_filters_made() -> None:
    pipeline = """
filters:
  - if: '[path] =~ "access" and [host] == "web1"'
    mutate: {add_tag: [access], add_field: {origin: "%{host}:%{path}"}}
"""
    assert parse(pipeline) == {
        "message": "GET /a",
        "@timestamp": "2026-11-21T10:00:00.000Z",
        "tags": ["access"],
        "origin": "web1:/var/log/nginx/access.log",
    }


def test_changed_renamed_or_removed() -> None:
    changed = parse("filters:\n  - mutate: {replace: {host: 'edge-%{host}'}, rename: {path: file}}\n")
    assert changed["host"] == "edge-web1" and changed["file"] == FILE.path and "path" not in changed
    removed = parse("filters:\n  - mutate: {remove_field: [host, path]}\n")
    assert "host" not in removed and "path" not in removed


def test_ecs_names_follow_the_outputs_ecs_compatibility() -> None:
    pipeline = """
outputs: {elasticsearch: {ecs_compatibility: v8}}
filters:
  - if: '[log][file][path] =~ "nginx" and [host][name] == "web1" and ![path]'
    mutate: {add_tag: [nginx]}
"""
    document = parse(pipeline)
    assert document["tags"] == ["nginx"] and "log" not in document and "host" not in document


def test_they_can_be_turned_off() -> None:
    pipeline = "parser: {input_fields: false}\nfilters:\n  - if: '![path]'\n    mutate: {add_tag: [no_path]}\n"
    assert parse(pipeline)["tags"] == ["no_path"]


def test_aggregations_route_and_keep_by_them() -> None:
    config = parse_pipeline(
        """
aggregations:
  - name: per_host
    task_id: "%{host}"
    when: '[path] =~ "access"'
    metrics: {n: {type: count}}
    keep_fields: [path]
    flush: {every: 2}
""",
        "test",
        env={},
    )
    router = TaskRouter(config.aggregations, input_fields_for(config))
    event = Event(message="m", source=FILE, fields={}, id="logs.raw:0:1:0")
    assert router.keys_for(event) == ["per_host|web1"]
    assert router.keys_for(Event(message="m", source=STDIN, fields={})) == []  # no path
    off = TaskRouter(config.aggregations, InputFields(enabled=False))
    assert off.keys_for(event) == []


@pytest.mark.parametrize("ecs", [False, True])
@pytest.mark.parametrize(
    ("source", "fields"),
    [
        (FILE, {}),
        (STDIN, {}),
        (UDP, {}),
        (TCP6, {}),
        (TCP6, {names.FIELD_SYSLOG: {"facility": 1}}),
        (Source(kind=names.SOURCE_DOCKER, host="node-1"), {}),
    ],
)
def test_roots_name_every_top_level_field_an_input_gives_and_view_adds_what_show_does(
    source: Source, fields: dict[str, Any], ecs: bool
) -> None:
    inputs = InputFields(ecs=ecs)
    event = Event(message="m", source=source, fields=fields)
    assert {path[0] for path, _ in inputs.of(event)} <= inputs.roots
    shown_doc = to_working_dict(event)
    inputs.show(shown_doc, event)
    assert inputs.view(to_working_dict(event), event) == shown_doc
    assert InputFields(ecs=ecs, enabled=False).roots == frozenset()


NOT_SEEING = [
    "filters:\n  - grok: {match: {message: ['%{WORD:verb} %{URIPATHPARAM:request}']}}\n",
    (
        "filters:\n  - mutate: {add_tag: [a], convert: {n: integer}}\n  - date: {match: [stamp, ISO8601]}\n"
        "  - if: '[verb] == \"POST\"'\n    drop: {}\n"
    ),
    "filters:\n  - if: '[verb] == \"GET\"'\n    mutate: {add_field: {seen: 'yes'}}\n",
]
SEEING = [
    "filters:\n  - mutate: {add_field: {origin: '%{host}'}}\n",  # a template
    "filters:\n  - mutate: {add_field: {'%{verb}': 'x'}}\n",  # a field named by another field's value
    "filters:\n  - if: '[path] =~ \"access\"'\n    mutate: {add_tag: [a]}\n",  # a condition
    "filters:\n  - mutate: {rename: {port: p}}\n",
    "filters:\n  - grok: {match: {message: ['%{WORD:host} %{GREEDYDATA:rest}']}}\n",  # a capture
    "filters:\n  - grok: {match: {message: ['%{WORD:verb}']}, add_field: {'[@metadata][x]': 'y'}}\n",
    "filters:\n  - kv: {}\n",  # writes whatever keys the line holds
]


@pytest.mark.parametrize("pipeline", NOT_SEEING + SEEING)
def test_a_chain_that_cannot_see_them_is_not_shown_them_and_gives_the_same_documents(
    pipeline: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = parse_pipeline(pipeline, "test", env={})
    assert FilterChain(config.filters).sees_input_fields(input_fields_for(config)) == (pipeline in SEEING)
    for source in (FILE, Source(kind="tcp", peer="10.0.0.1:514")):
        document = parse(pipeline, source, stamp="2026-11-21T10:00:00Z", n="3", verb="GET")
        monkeypatch.setattr(FilterChain, "sees_input_fields", lambda self, input_fields: True)
        assert parse(pipeline, source, stamp="2026-11-21T10:00:00Z", n="3", verb="GET") == document
        monkeypatch.undo()
