"""Per plugin: Logstash inputs, filters, conditionals and outputs -> our pipeline, loaded and validated."""

from __future__ import annotations

from typing import Any

import pytest

from streamstash import names
from streamstash.events.envelope import Event, Source, to_working_dict
from streamstash.filters import FilterChain
from streamstash.logstash.emit import our_references
from tests.unit.logstash.helpers import filters_of, findings, translated


def run_chain(text: str, doc: dict[str, Any], env: dict[str, str] | None = None) -> dict[str, Any] | None:
    config, _, _ = translated("filter {\n" + text + "\n}", env)
    working = to_working_dict(
        Event(message=doc.pop("message", None), tags=doc.pop("tags", []), source=Source(kind="file"), fields=doc)
    )
    verdict = FilterChain(config.filters).apply(working)
    return None if verdict is not None else working


# ---- inputs -------------------------------------------------------------------------------------------


def test_file_input() -> None:
    config, translation, _ = translated(
        'input { file { path => ["/var/log/*.log", "/srv/*.log"] exclude => "*.gz" '
        'start_position => "beginning" type => "web" add_field => { "env" => "prod" } '
        'stat_interval => 2 sincedb_path => "/dev/null" } }'
    )
    (item,) = config.inputs
    assert item.type == "file" and item.paths == ["/var/log/*.log", "/srv/*.log"] and item.exclude == ["*.gz"]
    assert item.start_position == "beginning" and item.poll_interval_ms == 2000
    assert item.add_fields == {"type": "web", "env": "prod"}
    assert [severity for severity, _, _ in findings(translation.report)] == ["note"]  # sincedb_path


def test_network_inputs_keep_the_line_and_listen_everywhere_like_logstash() -> None:
    config, _, _ = translated(
        'input { udp { port => 5514 queue_size => 2000 } tcp { port => "5000" host => "127.0.0.1" } stdin { } }'
    )
    udp, tcp, stdin = config.inputs
    assert (udp.type, udp.port, udp.host, udp.syslog, udp.queue_datagrams) == ("udp", 5514, "0.0.0.0", False, 2000)
    assert (tcp.type, tcp.port, tcp.host, tcp.syslog) == ("tcp", 5000, "127.0.0.1", False)
    assert stdin.type == "stdin"


def test_syslog_input_listens_on_udp_and_tcp() -> None:
    config, translation, _ = translated("input { syslog { port => 1514 } }")
    assert [(item.type, item.port, item.syslog) for item in config.inputs] == [("udp", 1514, True), ("tcp", 1514, True)]
    assert findings(translation.report) == [("note", 1, "input syslog")]


def test_codecs_multiline_and_json() -> None:
    config, _, _ = translated(
        'input { file { path => "/a" codec => multiline { pattern => "^\\s" negate => false '
        'what => "previous" auto_flush_interval => 2 } } }'
    )
    multiline = config.inputs[0].multiline
    assert multiline is not None and (multiline.pattern, multiline.what, multiline.timeout_ms) == (
        "^\\s",
        "previous",
        2000,
    )
    config, _, _ = translated('input { stdin { codec => json tags => ["in"] } }')
    assert [entry.kind for entry in config.filters] == ["mutate", "mutate", "json", "mutate"]
    chain = FilterChain(config.filters)
    # the object is the event: its own `message` is kept; a line that is not JSON stays, tagged
    for line, event in [
        ('{"message": "inner", "n": 1}', {"message": "inner", "n": 1, "tags": ["in"]}),
        ('{"n": 1}', {"n": 1, "tags": ["in"]}),
        ("not json", {"message": "not json", "tags": ["in", "_jsonparsefailure"]}),
    ]:
        doc = {"message": line, "tags": []}
        assert chain.apply(doc) is None
        assert doc.pop("@metadata") == {}  # never indexed
        assert doc == event


@pytest.mark.parametrize("plugin", ['kafka { topics => ["x"] }', "http { }"])
def test_inputs_without_equivalent_are_reported(plugin: str) -> None:
    config, translation, yaml_text = translated(f"input {{\n  {plugin}\n}}")
    assert config.inputs == []
    assert [(severity, line) for severity, line, _ in findings(translation.report)] == [("untranslated", 2)]
    assert "# UNTRANSLATED test.conf:2 input" in yaml_text and f"#   {plugin}" in yaml_text


# ---- filters ------------------------------------------------------------------------------------------


def test_grok_options() -> None:
    (grok,) = filters_of(
        'grok { match => ["message", "%{WORD:a}", "message", "%{NUMBER:n}"] '
        'pattern_definitions => { "TASK" => "\\w+" } break_on_match => false '
        'tag_on_failure => ["_nope"] overwrite => ["message"] timeout_millis => 500 '
        'add_tag => ["parsed"] id => "g1" }'
    )
    assert grok == {
        "grok": {
            "match": {"message": ["%{WORD:a}", "%{NUMBER:n}"]},
            "pattern_definitions": {"TASK": "\\w+"},
            "break_on_match": False,
            "tag_on_failure": ["_nope"],
            "timeout_ms": 500.0,
            "add_tag": ["parsed"],
            "overwrite": ["message"],
            "dead_letter_on_failure": False,
        }
    }


def test_grok_failure_passes_the_event_on_tagged_like_logstash() -> None:
    doc = run_chain('grok { match => { "message" => "^%{INT:n}$" } }', {"message": "abc"})
    assert doc is not None and doc["tags"] == ["_grokparsefailure"]


def test_date_mutate_drop_json_kv_dissect() -> None:
    entries = filters_of("""
        date { match => ["ts", "dd/MMM/yyyy:HH:mm:ss Z", "ISO8601"] target => "when" timezone => "Europe/Berlin"
               locale => "en" }
        mutate { convert => { "n" => "integer" } gsub => ["path", "/", "_", "q", "\\?", ""] rename => ["a", "b"]
                 lowercase => ["verb"] split => { "roles" => "," } copy => { "x" => "y" } }
        drop { percentage => 40 }
        json { source => "payload" target => "body" skip_on_invalid_json => true }
        kv { source => "query" field_split => "&" value_split => "=" include_keys => ["a", "b"] prefix => "q_" }
        dissect { mapping => { "message" => "%{a} %{b}" } convert_datatype => { "a" => "int" } }
    """)
    assert entries[0] == {
        "date": {"match": ["ts", "dd/MMM/yyyy:HH:mm:ss Z", "ISO8601"], "target": "when", "timezone": "Europe/Berlin"}
    }
    assert entries[1]["mutate"]["gsub"] == [("path", "/", "_"), ("q", "\\?", "")]
    assert entries[1]["mutate"]["rename"] == {"a": "b"} and entries[1]["mutate"]["copy"] == {"x": "y"}
    assert entries[2] == {"drop": {"percentage": 40.0}}
    assert entries[3] == {"json": {"source": "payload", "target": "body", "skip_on_invalid_json": True}}
    assert entries[4]["kv"] == {"source": "query", "field_split": "&", "include_keys": ["a", "b"], "prefix": "q_"}
    assert entries[5] == {
        "dissect": {
            "mapping": {"message": "%{a} %{b}"},
            "convert_datatype": {"a": "int"},
            "dead_letter_on_failure": False,
        }
    }


def test_an_unknown_option_is_reported_and_the_rest_kept() -> None:
    config, translation, yaml_text = translated(
        'filter {\n  mutate {\n    add_tag => ["a"]\n    frobnicate => 1\n  }\n}'
    )
    assert config.filters[0].mutate.add_tag == ["a"]  # type: ignore[union-attr]
    assert findings(translation.report) == [("untranslated", 4, "filter mutate option frobnicate")]
    assert "# UNTRANSLATED test.conf:4 filter mutate option frobnicate" in yaml_text


def test_an_option_our_model_rejects_is_reported_with_its_line() -> None:
    config, translation, _ = translated(
        'filter {\n  date {\n    match => ["ts", "ISO8601"]\n    timezone => "Mars/Olympus"\n  }\n}'
    )
    assert config.filters[0].date.timezone == "UTC"  # type: ignore[union-attr]
    assert findings(translation.report) == [("untranslated", 4, "filter date option timezone")]


def test_filters_without_equivalent_are_marked_where_they_stood() -> None:
    config, translation, yaml_text = translated(
        'filter {\n  mutate { add_tag => ["a"] }\n'
        "  ruby { code => \"event.set('x', 1)\" }\n"
        '  mutate { add_tag => ["b"] }\n}'
    )
    assert [entry.mutate.add_tag for entry in config.filters] == [["a"], ["b"]]  # type: ignore[union-attr]
    assert findings(translation.report) == [("untranslated", 3, "filter ruby")]
    marked = yaml_text.index("# UNTRANSLATED test.conf:3 filter ruby")
    assert yaml_text.index("- a") < marked < yaml_text.index("- b")


# ---- ${VAR} and $ ---------------------------------------------------------------------------------------


def test_variable_references_become_ours_and_dollars_stay_dollars() -> None:
    assert our_references("${ES:localhost:9200}/x") == "${ES:-localhost:9200}/x"
    assert our_references("${PW}") == "${PW}"
    assert our_references("^%{WORD}$ costs $5") == "^%{WORD}$$ costs $$5"
    entries = filters_of(
        'mutate { add_field => { "env" => "${DEPLOY:staging}" "cost" => "$5" } }\n'
        'grok { match => { "message" => "^%{INT:n}$" } }',
        env={},
    )
    assert entries[0]["mutate"]["add_field"] == {"env": "staging", "cost": "$5"}
    assert entries[1]["grok"]["match"] == {"message": ["^%{INT:n}$"]}
    assert filters_of('mutate { add_field => { "env" => "${DEPLOY:staging}" } }', env={"DEPLOY": "prod"})[0]["mutate"][
        "add_field"
    ] == {"env": "prod"}


def test_keystore_style_references_are_reported() -> None:
    _, translation, _ = translated('output { elasticsearch { password => "${es.password}" } }')
    assert ("untranslated", 1, "variable") in findings(translation.report)


# ---- conditionals ---------------------------------------------------------------------------------------


def test_if_else_if_else_become_guards() -> None:
    entries = filters_of(
        'if [status] >= 500 and [verb] == "GET" { mutate { add_field => { "k" => "a" } } }\n'
        'else if "x" in [tags] or [m] =~ /err\\/x/ { mutate { add_field => { "k" => "b" } } }\n'
        'else { mutate { add_field => { "k" => "c" } } }'
    )
    assert [entry["if"] for entry in entries] == [
        '[status] >= 500 and [verb] == "GET"',
        '!([status] >= 500 and [verb] == "GET") and ("x" in [tags] or [m] =~ /err\\/x/)',
        '!([status] >= 500 and [verb] == "GET") and !("x" in [tags] or [m] =~ /err\\/x/)',
    ]


def test_an_arm_that_adds_a_tag_a_later_guard_tests_takes_the_marker_way() -> None:
    text = 'if [a] { mutate { add_tag => ["x"] } } else if "x" in [tags] { mutate { add_tag => ["y"] } }'
    assert any(names.FIELD_BRANCH_MARKER_PREFIX in entry.get("if", "") for entry in filters_of(text))
    assert run_chain(text, {"a": "1"})["tags"] == ["x"]  # type: ignore[index]
    assert run_chain(text, {"tags": ["x"]})["tags"] == ["x", "y"]  # type: ignore[index]


def test_nested_conditions_are_conjoined() -> None:
    entries = filters_of('if [a] { if [b] != 1 { mutate { add_tag => ["x"] } } else { drop {} } }')
    assert [entry["if"] for entry in entries] == ["[a] and [b] != 1", "[a] and !([b] != 1)"]


def test_a_branch_whose_arm_changes_what_its_guards_read_is_chosen_once() -> None:
    text = (
        'if [level] == "ERROR" { mutate { replace => { "level" => "WARN" } } mutate { add_tag => ["e"] } }\n'
        'else if [level] == "WARN" { mutate { add_tag => ["w"] } }'
    )
    assert run_chain(text, {"level": "ERROR"})["tags"] == ["e"]  # type: ignore[index]
    assert run_chain(text, {"level": "WARN"})["tags"] == ["w"]  # type: ignore[index]
    done = run_chain(text, {"level": "ERROR"})
    assert done is not None and not any(key.startswith(names.FIELD_BRANCH_MARKER_PREFIX) for key in done)


def test_a_branch_that_cannot_change_its_guards_needs_no_marker() -> None:
    entries = filters_of('if [a] == 1 { mutate { add_tag => ["x"] } mutate { add_field => { "b" => "2" } } }')
    assert [entry["if"] for entry in entries] == ["[a] == 1", "[a] == 1"]


def test_conditions_without_equivalent_are_reported() -> None:
    config, translation, yaml_text = translated('filter {\n  if foo([a]) { drop {} }\n  if [a] in ["x"] { drop {} }\n}')
    assert config.filters == []
    assert findings(translation.report) == [("untranslated", 2, "condition"), ("untranslated", 3, "condition")]
    assert "one-item list" in translation.report.findings[1].message
    assert "#   if foo([a]) { drop {} }" in yaml_text


# ---- outputs ------------------------------------------------------------------------------------------


def test_elasticsearch_output() -> None:
    config, translation, _ = translated(
        'output { elasticsearch { hosts => ["es01", "https://es02:9243"] '
        'index => "web-%{+YYYY.MM.dd}" user => "elastic" password => "${PW:changeme}" '
        "manage_template => false } stdout { codec => rubydebug } }"
    )
    assert config.elasticsearch.hosts == ["http://es01:9200", "https://es02:9243"]
    assert config.elasticsearch.username == "elastic"
    assert config.elasticsearch.password is not None and config.elasticsearch.password.get_secret_value() == "changeme"
    assert config.outputs.elasticsearch.index == "web-%{+YYYY.MM.dd}"
    assert config.outputs.elasticsearch.install_template is False
    assert findings(translation.report) == [("note", 1, "output stdout")]


def test_other_outputs_are_reported() -> None:
    _, translation, _ = translated('output {\n elasticsearch {\n  document_id => "%{fp}"\n }\n s3 { }\n}')
    assert findings(translation.report) == [
        ("note", 3, "output elasticsearch option document_id"),
        ("untranslated", 5, "output s3"),
    ]


def test_elasticsearch_document_options() -> None:
    """Every option seen in real configs is translated, or reported with what to do instead."""
    config, translation, _ = translated(
        "output {\n elasticsearch {\n"
        '  document_id => "%{[@metadata][fingerprint]}"\n'  # 3
        '  pipeline => "%{[@metadata][pipeline]}"\n'  # 4
        '  template => "/etc/logstash/web.json"\n'  # 5
        '  template_name => "web"\n'  # 6
        "  template_overwrite => true\n"  # 7
        '  document_type => "_doc"\n'  # 8
        '  action => "create"\n'  # 9
        "  ilm_enabled => true\n"  # 10
        '  ilm_policy => "logs-30d"\n'  # 11
        " }\n}"
    )
    output = config.outputs.elasticsearch
    assert (output.document_id, output.pipeline, output.template_file, output.template_name) == (
        "%{[@metadata][fingerprint]}",
        "%{[@metadata][pipeline]}",
        "/etc/logstash/web.json",
        "web",
    )
    assert (output.template_overwrite, output.op_type, output.ilm_policy) == (True, "create", "logs-30d")
    assert findings(translation.report) == [
        ("note", 3, "output elasticsearch option document_id"),
        ("note", 5, "output elasticsearch option template"),
        ("note", 8, "output elasticsearch option document_type"),
        ("note", 10, "output elasticsearch option ilm_enabled"),
    ]
    _, translation, _ = translated(
        'output {\n elasticsearch {\n  action => "update"\n  doc_as_upsert => true\n'
        '  ilm_rollover_alias => "web"\n  ilm_enabled => false\n }\n}'
    )
    assert findings(translation.report) == [
        ("untranslated", 3, "output elasticsearch option action"),
        ("untranslated", 4, "output elasticsearch option doc_as_upsert"),
        ("untranslated", 5, "output elasticsearch option ilm_rollover_alias"),
    ]
    messages = [finding.message for finding in translation.report.findings]
    assert "aggregation" in messages[0] and "data_stream: true" in messages[2]


def test_conditional_elasticsearch_outputs_choose_the_index_in_metadata() -> None:
    config, translation, _ = translated(
        "filter { }\n"
        "output {\n"
        '  if [fields][log_type] == "transaction" {\n'
        '    elasticsearch { hosts => ["es:9200"] index => "transaction-%{+YYYY.MM.dd}" }\n'
        '  } else if [fields][log_type] == "reversal" {\n'
        '    elasticsearch { hosts => ["es:9200"] index => "reversal-%{+YYYY.MM.dd}" }\n'
        "    stdout { }\n"
        "  } else {\n"
        '    elasticsearch { hosts => ["es:9200"] index => "other" }\n'
        "  }\n"
        "}\n"
    )
    assert not translation.report.untranslated_spots, translation.report.format()
    output = config.outputs.elasticsearch
    assert output.index == "%{[@metadata][output_index]}"
    assert output.template_patterns == ["transaction-*", "reversal-*", "other"]
    chain = FilterChain(config.filters)
    for log_type, index in [
        ("transaction", "transaction-2026.11.21"),
        ("reversal", "reversal-2026.11.21"),
        ("x", "other"),
    ]:
        doc = {"fields": {"log_type": log_type}, "@timestamp": "2026-11-21T10:00:00.000Z", "tags": []}
        assert chain.apply(doc) is None
        assert doc["@metadata"] == {"output_index": index}


def test_conditional_outputs_without_else_drop_what_no_arm_takes() -> None:
    config, translation, _ = translated('output { if "keep" in [tags] { elasticsearch { index => "kept" } } }')
    assert not translation.report.untranslated_spots
    chain = FilterChain(config.filters)
    assert chain.apply({"tags": ["keep"]}) is None
    verdict = chain.apply({"tags": []})
    assert verdict is not None and verdict.action == "drop"


def test_conditional_outputs_that_differ_in_more_than_the_index_are_reported() -> None:
    _, translation, _ = translated(
        'output { if [a] { elasticsearch { hosts => ["x:9200"] index => "a" } } '
        'else { elasticsearch { hosts => ["y:9200"] index => "b" } } }'
    )
    assert next((severity, subject) for severity, _, subject in findings(translation.report)) == (
        "untranslated",
        "output",
    )


def test_a_template_file_keeps_logstashs_default_of_not_overwriting() -> None:
    config, _, _ = translated('output { elasticsearch { template => "/etc/t.json" } }')
    assert config.outputs.elasticsearch.template_file == "/etc/t.json"
    assert config.outputs.elasticsearch.template_overwrite is False
