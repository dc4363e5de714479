"""Index naming, bulk actions, ECS renaming, the index template, and batching bounds."""

from __future__ import annotations

import orjson
import pytest

from streamstash.config import parse_pipeline
from streamstash.events.envelope import Batch, Event, Source, encode
from streamstash.services.indexer.documents import OP_CREATE, Action, DocumentBuilder, IndexNamer
from streamstash.services.indexer.ecs import CLASSIC_TO_ECS, to_ecs
from streamstash.services.indexer.pipeline import BulkAccumulator, decode_record
from streamstash.services.indexer.template import template_for, template_name, template_patterns
from tests.unit.aggregator.test_routing import one_route
from tests.unit.test_dead_letters import consumer_record

SOURCE = Source(kind="file", host="web1", path="/var/log/access.log", offset=1234, inode=99)


def access_event(**fields: object) -> Event:
    base = {
        "clientip": "83.149.9.216",
        "ident": "-",
        "auth": "-",
        "verb": "GET",
        "request": "/presentations/logstash.png",
        "httpversion": "1.1",
        "response": 200,
        "bytes": 203023,
        "referrer": '"http://semicomplete.com/"',
        "agent": '"Mozilla/5.0 (Macintosh)"',
    }
    base.update(fields)
    return Event(message="line", timestamp="2015-01-04T05:13:42.000Z", source=SOURCE, fields=base, id="logs.raw:0:17:3")


# ---- index naming -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("logs-%{+YYYY.MM.dd}", "logs-2015.01.04"),
        ("logs-%{+YYYY.MM}", "logs-2015.01"),
        ("web-%{verb}-%{+YYYY}", "web-get-2015"),  # index names are lower case
        ("by-host-%{[source][host]}", "by-host-web1"),
        ("fixed", "fixed"),
    ],
)
def test_index_names_from_templates(template: str, expected: str) -> None:
    builder = DocumentBuilder(IndexNamer(template, fallback="fallback"))
    assert builder.action_for(access_event()).index == expected


def test_missing_fields_go_to_the_fallback_index() -> None:
    namer = IndexNamer("logs-%{service}-%{+YYYY.MM.dd}", fallback="logs-unnamed")
    assert namer.name_for({"@timestamp": "2015-01-04T05:13:42.000Z"}) == "logs-unnamed"
    assert namer.name_for({"service": "api"}) == "logs-unnamed"  # no @timestamp for the date part


def test_events_without_id_are_refused() -> None:
    builder = DocumentBuilder(IndexNamer("x", fallback="y"))
    with pytest.raises(ValueError, match="without id"):
        builder.action_for(Event(message="m", source=SOURCE))


# ---- actions --------------------------------------------------------------------------------------------


def test_action_body_is_the_bulk_ndjson_pair_with_the_event_id() -> None:
    action = DocumentBuilder(IndexNamer("logs-%{+YYYY.MM.dd}", "f")).action_for(access_event())
    header, document, tail = action.body.split(b"\n")
    assert tail == b""
    assert orjson.loads(header) == {"index": {"_index": "logs-2015.01.04", "_id": "logs.raw:0:17:3"}}
    assert orjson.loads(document)["response"] == 200
    assert action.size == len(action.body)


def test_a_document_built_in_process_with_a_key_that_is_no_string_is_still_encoded() -> None:
    built = {"status": {404: "not found"}, "when": access_event().timestamp}
    action = Action(index="logs", id="i", document=built, event=Event(source=SOURCE))
    assert orjson.loads(action.body.split(b"\n")[1]) == {"status": {"404": "not found"}, "when": built["when"]}


@pytest.mark.parametrize("op_type", ["index", OP_CREATE])
@pytest.mark.parametrize("pipeline", [None, "geoip", 'odd "pipe\\line" \u00e9'])
@pytest.mark.parametrize("index", ["logs", 'logs-"quoted"-\u00e9\u2603', "tab\tand\nline"])
def test_action_header_is_the_encoded_bulk_header(op_type: str, pipeline: str | None, index: str) -> None:
    action = Action(
        index=index,
        id='id "with" \\ and \u00fc',
        document={"a": 1},
        event=Event(source=SOURCE),
        op_type=op_type,
        pipeline=pipeline,
    )
    header, document, tail = action.body.split(b"\n")
    assert header == orjson.dumps(action.bulk_header())
    assert (document, tail) == (b'{"a":1}', b"")


def test_create_op_type_for_data_streams() -> None:
    config = parse_pipeline("outputs:\n  elasticsearch:\n    index: logs-web-default\n    data_stream: true\n", env={})
    assert config.outputs.elasticsearch.op_type == OP_CREATE
    action = DocumentBuilder(IndexNamer("logs-web-default", "f"), op_type=OP_CREATE).action_for(access_event())
    assert orjson.loads(action.body.split(b"\n")[0]) == {
        "create": {"_index": "logs-web-default", "_id": "logs.raw:0:17:3"}
    }
    _, body = template_for(config.outputs.elasticsearch)
    assert body["data_stream"] == {}


# ---- ECS ------------------------------------------------------------------------------------------------


def test_ecs_v8_renames_classic_fields() -> None:
    document = to_ecs(DocumentBuilder(IndexNamer("x", "f")).action_for(access_event()).document)
    assert document["source"] == {"address": "83.149.9.216"}
    assert document["http"] == {
        "request": {"method": "GET", "referrer": '"http://semicomplete.com/"'},
        "version": "1.1",
        "response": {"status_code": 200, "body": {"bytes": 203023}},
    }
    assert document["url"] == {"original": "/presentations/logstash.png"}
    assert document["user_agent"] == {"original": "Mozilla/5.0 (Macintosh)"}  # quotes dropped
    assert "user" not in document and "apache" not in document  # `-` means absent
    # Where the line entered moves to ECS homes; `source` is the network peer in ECS.
    assert document["log"] == {"file": {"path": "/var/log/access.log", "inode": 99}, "offset": 1234}
    assert document["host"] == {"name": "web1"}
    assert document["input"] == {"type": "file"}
    for classic in CLASSIC_TO_ECS:
        assert classic not in document
    assert document["@timestamp"] == "2015-01-04T05:13:42.000Z"
    assert document["message"] == "line"


def test_ecs_keeps_values_already_at_their_ecs_name() -> None:
    document = to_ecs({"response": 404, "http": {"response": {"status_code": 200}}, "auth": "bob"})
    assert document["http"]["response"]["status_code"] == 200
    assert document["user"] == {"name": "bob"}


def test_ecs_index_templates_may_name_either_form() -> None:
    builder = DocumentBuilder(IndexNamer("web-%{[http][response][status_code]}", "f"), ecs=True)
    assert builder.action_for(access_event()).index == "web-200"
    builder = DocumentBuilder(IndexNamer("web-%{response}", "f"), ecs=True)
    action = builder.action_for(access_event())
    assert action.index == "web-200"
    assert "response" not in action.document


def test_ecs_template_maps_ecs_fields() -> None:
    config = parse_pipeline("outputs:\n  elasticsearch:\n    ecs_compatibility: v8\n", env={})
    _, body = template_for(config.outputs.elasticsearch)
    properties = body["template"]["mappings"]["properties"]
    http = properties["http"]["properties"]
    assert http["response"]["properties"]["status_code"] == {"type": "long"}
    assert http["response"]["properties"]["body"]["properties"]["bytes"] == {"type": "long"}
    assert properties["source"]["properties"]["address"]["type"] == "keyword"
    assert "response" not in properties and "clientip" not in properties
    assert properties["@timestamp"] == {"type": "date"}


# ---- template -------------------------------------------------------------------------------------------


def test_default_template_maps_numbers_dates_keywords_and_text() -> None:
    config = parse_pipeline("{}", env={})
    name, body = template_for(config.outputs.elasticsearch)
    assert name == "streamstash-logs"
    assert body["index_patterns"] == ["logs-*"]  # logs-aggregated-* falls under it
    properties = body["template"]["mappings"]["properties"]
    assert properties["@timestamp"] == {"type": "date"}
    assert properties["response"] == {"type": "integer"}
    assert properties["bytes"] == {"type": "long"}
    assert properties["message"] == {"type": "text"}
    dynamic = {name: rule for item in body["template"]["mappings"]["dynamic_templates"] for name, rule in item.items()}
    assert dynamic["strings_as_keywords"]["mapping"]["type"] == "keyword"
    # The apache `agent` text is prose; a Beat's `agent` object must still map, so no fixed mapping.
    assert dynamic["agent_as_text"]["mapping"]["type"] == "text" and "agent" not in properties
    assert "data_stream" not in body


def test_template_names_follow_the_index_so_pipelines_do_not_collide() -> None:
    one = parse_pipeline("outputs: {elasticsearch: {index: 'web-%{+YYYY}'}}", env={}).outputs.elasticsearch
    two = parse_pipeline("outputs: {elasticsearch: {index: 'Api_Logs'}}", env={}).outputs.elasticsearch
    named = parse_pipeline("outputs: {elasticsearch: {template_name: mine}}", env={}).outputs.elasticsearch
    assert template_name(one) == "streamstash-web"
    assert template_name(two) == "streamstash-api-logs"
    assert template_name(named) == "mine"
    assert template_patterns("web-%{+YYYY}", "web-aggs-%{+YYYY}", "Fixed") == ["web-*", "fixed"]
    assert template_patterns("t1-logs", "t1-aggregates") == ["t1-logs", "t1-aggregates"]


# ---- batching -------------------------------------------------------------------------------------------


def make_actions(count: int, partition: int = 0, message: str = "x") -> list[Action]:
    builder = DocumentBuilder(IndexNamer("i", "f"))
    events = [Event(message=message, source=SOURCE, id=f"t:{partition}:{n}") for n in range(count)]
    actions = [builder.action_for(event) for event in Batch(events=events).events]
    for action in actions:
        action.topic, action.partition = "t", partition
    return actions


def test_batches_are_bounded_by_count() -> None:
    accumulator = BulkAccumulator(max_docs=3, max_bytes=10**9, flush_s=60)
    accumulator.add(make_actions(7), now=0)
    assert accumulator.due(now=0)
    assert [len(accumulator.take()) for _ in range(3)] == [3, 3, 1]
    assert not accumulator.due(now=0) and accumulator.bytes == 0


def test_batches_are_bounded_by_bytes() -> None:
    actions = make_actions(10, message="y" * 1000)
    size = actions[0].size
    accumulator = BulkAccumulator(max_docs=1000, max_bytes=size * 4, flush_s=60)
    accumulator.add(actions[:3], now=0)
    assert not accumulator.due(now=1)
    accumulator.add(actions[3:], now=0)
    assert accumulator.due(now=1)
    assert [len(accumulator.take()) for _ in range(3)] == [4, 4, 2]


def test_a_document_larger_than_max_bytes_still_goes_alone() -> None:
    accumulator = BulkAccumulator(max_docs=10, max_bytes=1024, flush_s=60)
    accumulator.add(make_actions(2, message="z" * 5000), now=0)
    assert [len(accumulator.take()) for _ in range(2)] == [1, 1]


def test_partial_batches_are_due_after_flush_time() -> None:
    accumulator = BulkAccumulator(max_docs=100, max_bytes=10**9, flush_s=0.5)
    accumulator.add(make_actions(2), now=10.0)
    assert accumulator.deadline() == 10.5
    assert not accumulator.due(now=10.4)
    assert accumulator.due(now=10.5)


def test_dropping_revoked_partitions() -> None:
    accumulator = BulkAccumulator(max_docs=100, max_bytes=10**9, flush_s=1)
    accumulator.add(make_actions(3, partition=0) + make_actions(2, partition=1), now=0)
    assert accumulator.drop({("t", 0)}) == 3
    assert [action.partition for action in accumulator.take()] == [1, 1]
    assert accumulator.bytes == 0


def test_ecs_renaming_leaves_a_beats_agent_object_alone() -> None:
    beat = {"agent": {"type": "filebeat", "version": "8.13.0"}, "message": "x"}
    assert to_ecs(beat)["agent"] == {"type": "filebeat", "version": "8.13.0"}
    assert to_ecs({"agent": '"curl/8.0"'})["user_agent"] == {"original": "curl/8.0"}


# ---- events aggregations take away from the index ---------------------------------------------------------


def test_events_an_aggregation_takes_are_counted_and_not_indexed() -> None:
    router = one_route("%{action}_%{progress}")  # index_events: false
    task = access_event(action="resize", progress="done")
    half = access_event(action="resize")  # no [progress]: not a task, indexed
    builder = DocumentBuilder(IndexNamer("x", "y"))
    record = consumer_record("logs.parsed", 0, 7, encode(Batch(events=[access_event(), task, half])))
    decoded = decode_record(record, builder, router.is_consumed)
    assert (decoded.events, decoded.skipped) == (3, 1)
    assert [action.document.get("action") for action in decoded.actions] == [None, "resize"]
