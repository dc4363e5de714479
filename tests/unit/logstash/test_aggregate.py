"""The aggregate filter's Ruby idioms -> declarative aggregations; what is not recognised is reported with the
file, the line of the Ruby statement and its text."""

from __future__ import annotations

from typing import Any

import pytest

from streamstash.config import parse_pipeline
from streamstash.logstash import ruby
from tests.unit.logstash.helpers import findings, translated

EVERY_N = """filter {
  grok { match => { "message" => "%{WORD:action} %{WORD:progress} %{INT:elapsed:int}" } }
  aggregate {
    task_id => "%{action}_%{progress}"
    code => "
      map['count'] ||= 0
      map['elapsedSum'] ||= 0
      map['count'] += 1
      map['elapsedSum'] += event.get('elapsed')
      if map['count'] >= THRESHOLD
        event.set('elapsedAvg', map['elapsedSum'].to_f / map['count'])
        event.set('aggregated', true)
        map['count'] = 0
        map['elapsedSum'] = 0
      end
    "
  }
  if [aggregated] {
    mutate { remove_field => ["message", "elapsed"] }
  } else {
    drop {}
  }
}
"""


def aggregation_of(text: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    config, translation, _ = translated(text, env)
    assert not translation.report.untranslated_spots, translation.report.format()
    (spec,) = config.aggregations
    return spec.model_dump(exclude_unset=True)


@pytest.mark.parametrize(
    ("threshold", "env", "every"),
    [
        ("3", {}, 3),
        ("${AGG_EVERY:4}", {}, 4),
        ("${AGG_EVERY:4}", {"AGG_EVERY": "7"}, 7),
        ("ENV['AGG_EVERY'].to_i", {"AGG_EVERY": "5"}, 5),
        ("ENV.fetch('AGG_EVERY', 6).to_i", {}, 6),
        ("(ENV['AGG_EVERY'] || '8').to_i", {}, 8),
    ],
)
def test_average_every_n_events(threshold: str, env: dict[str, str], every: int) -> None:
    spec = aggregation_of(EVERY_N.replace("THRESHOLD", threshold), env)
    assert spec == {
        "name": "action_progress",
        "task_id": "%{action}_%{progress}",
        "metrics": {"elapsedAvg": {"type": "avg", "field": "elapsed"}},
        "flush": {"every": every},
        "keep_fields": ["*"],
        "remove_fields": ["message", "elapsed"],
        "index_events": False,
    }


def test_the_else_drop_also_drops_the_events_no_task_takes() -> None:
    config, _, _ = translated(EVERY_N.replace("THRESHOLD", "3"))
    drop = config.filters[-1]
    assert drop.kind == "drop" and drop.condition == "!([action] and [progress])"


def test_without_else_drop_the_single_events_are_indexed_too() -> None:
    text = EVERY_N.replace("THRESHOLD", "3").replace("  } else {\n    drop {}\n  }", "  }")
    assert aggregation_of(text)["index_events"] is True


def test_integer_division_and_rounding_are_noted() -> None:
    text = EVERY_N.replace("THRESHOLD", "3").replace(
        "map['elapsedSum'].to_f / map['count']", "(map['elapsedSum'] / map['count']).round(1)"
    )
    config, translation, _ = translated(text)
    assert config.aggregations[0].metrics["elapsedAvg"].type == "avg"
    messages = [finding.message for finding in translation.report.notes]
    assert any("divides integers" in message for message in messages)
    assert any("rounding" in message for message in messages)


def test_end_of_task_sum_and_timeouts() -> None:
    spec = aggregation_of("""filter {
      if [logger] == "SQL" {
        aggregate { task_id => "%{taskid}" code => "map['d'] ||= 0 ; map['d'] += event.get('duration')" }
      }
      if [logger] == "TASK_END" {
        aggregate { task_id => "%{taskid}" code => "event.set('sql_duration', map['d'])" end_of_task => true
                    push_map_as_event_on_timeout => true timeout => 120 inactivity_timeout => 30 }
      }
    }""")
    assert spec["when"] == '([logger] == "SQL") or ([logger] == "TASK_END")'
    assert spec["metrics"]["sql_duration"] == {"type": "sum", "field": "duration"}
    assert spec["metrics"]["d"] == {"type": "sum", "field": "duration"}  # the pushed map keeps its keys
    assert spec["flush"] == {
        "end_when": '[logger] == "TASK_END"',
        "total_timeout": 120_000,
        "inactivity_timeout": 30_000,
    }


def test_map_pushed_on_timeout_keeps_only_the_task_fields() -> None:
    spec = aggregation_of("""filter { aggregate { task_id => "%{user_id}"
        code => "map['clicks'] ||= 0; map['clicks'] += 1; map['last_page'] = event.get('page')"
        push_map_as_event_on_timeout => true timeout_task_id_field => "user_id" } }""")
    assert spec["metrics"] == {"clicks": {"type": "count"}, "last_page": {"type": "last", "field": "page"}}
    assert spec["flush"] == {"total_timeout": 1_800_000}  # Logstash's default timeout
    assert "keep_fields" not in spec and spec["index_events"] is True


def test_event_cancel_consumes_the_events() -> None:
    spec = aggregation_of("""filter { aggregate { task_id => "%{host}" code => "
        map['n'] ||= 0
        map['n'] += 1
        if map['n'] == 10
          event.set('requests', map['n'])
          map.clear
        else
          event.cancel()
        end" } }""")
    assert spec["flush"] == {"every": 10} and spec["index_events"] is False
    assert spec["metrics"] == {"requests": {"type": "count"}}


def report_of(text: str) -> list[tuple[str, int, str]]:
    _, translation, yaml_text = translated(text)
    assert "UNTRANSLATED" in yaml_text
    return [(finding.severity, finding.line, finding.snippet) for finding in translation.report.untranslated_spots]


def test_unknown_ruby_is_reported_with_its_line_and_text() -> None:
    text = (
        'filter {\n  aggregate {\n    task_id => "%{id}"\n    code => "\n      map[\'n\'] ||= 0\n'
        "      map['towns'].sort!\n    \"\n  }\n}"
    )
    assert report_of(text) == [("untranslated", 6, "map['towns'].sort!")]


def test_ruby_that_does_not_parse_is_reported_with_its_line() -> None:
    text = (
        'filter {\n  aggregate {\n    task_id => "%{id}"\n    code => "map[\'a\'] ||= 0\n'
        'map.each { |k, v| puts k }"\n  }\n}'
    )
    ((severity, line, snippet),) = report_of(text)
    assert (severity, line) == ("untranslated", 5) and "map.each" in snippet


def test_a_counter_kept_by_one_branch_only_is_reported() -> None:
    text = """filter {
      if [logger] == "SQL" { aggregate { task_id => "%{t}" code => "map['q'] ||= 0; map['q'] += 1" } }
      if [logger] == "END" { aggregate { task_id => "%{t}" code => "event.set('queries', map['q'])"
                                          end_of_task => true } }
    }"""
    ((severity, line, snippet),) = report_of(text)
    assert (severity, line, snippet) == ("untranslated", 2, "map['q'] += 1")


def test_a_flush_that_does_not_reset_is_reported() -> None:
    text = EVERY_N.replace("THRESHOLD", "3").replace("        map['elapsedSum'] = 0\n", "")
    ((_, line, snippet),) = report_of(text)
    assert line == 10 and snippet.startswith("if map['count'] >= 3")


def test_options_without_equivalent() -> None:
    _, translation, _ = translated(
        'filter {\n aggregate {\n  task_id => "%{id}"\n  code => "map[\'n\'] ||= 0; '
        "map['n'] += 1\"\n  push_map_as_event_on_timeout => true\n"
        "  timeout_code => \"event.set('x', event.get('y').upcase)\"\n }\n}"
    )
    assert ("untranslated", 6, "filter aggregate") in findings(translation.report)
    _, translation, _ = translated(
        'filter {\n aggregate {\n  task_id => "%{id}"\n  code => "map[\'n\'] ||= 0; '
        'map[\'n\'] += 1"\n  add_tag => ["x"]\n  push_map_as_event_on_timeout => true\n }\n}'
    )
    assert ("untranslated", 5, "filter aggregate") in findings(translation.report)


def test_a_branch_on_an_aggregate_field_that_is_not_the_idiom_is_reported() -> None:
    text = EVERY_N.replace("THRESHOLD", "3") + 'filter {\n  if [elapsedAvg] > 100 { mutate { add_tag => ["slow"] } }\n}'
    assert ("untranslated", 25, "condition") in [
        (s, line, sub) for s, line, sub in findings(translated(text)[1].report)
    ]


def test_ruby_reader() -> None:
    statements = ruby.parse(
        "map['a'] ||= 0; map['a'] += 1 # count\nevent.tag('x') unless map['a'].nil?\n"
        "if map['a'] > 2 then map.clear elsif map['a'] == 1 then x = 1 else y = 2 end"
    )
    assert [statement.kind for statement in statements] == ["assign", "assign", "if", "if"]
    assert statements[0].target == ("index", ("var", "map"), ("str", "a")) and statements[0].operator == "||="
    assert statements[2].condition == ("not", ("call", ("index", ("var", "map"), ("str", "a")), "nil?", []))
    assert statements[3].otherwise[0].kind == "if"
    with pytest.raises(ruby.RubyError, match="interpolation"):
        ruby.parse('event.set("a", "#{x}")')


# ---- the seed idiom, lists, push_previous_map_as_event, timeout_code / timeout_tags ---------------------------

SEED = """input { file { path => "/var/log/tasks.log" type => "tasklog" } }
filter {
  grok { match => { "message" => "%{TIMESTAMP_ISO8601:time} %{WORD:action} %{WORD:progress} %{NUMBER:elapsed:int}" } }
  aggregate { task_id => "%{action}_%{progress}" code => "map['avg'] ||= 0; map['avg'] += event.get('elapsed'); map['my_count'] ||= 0; map['my_count'] += 1; if (map['my_count'] == ${LogstashAggregationCount}) event.set('elapsedAvg', (map['avg'] / map['my_count'])); event.set('Aggregetion', true); map['avg'] = 0; map['my_count'] = 0; end" }
  if [Aggregetion] { mutate { remove_field => ["message", "tags", "elapsed", "type"] } aggregate { task_id => "%{action}_%{progress}" code => "" end_of_task => true } }
  if (![Aggregetion]) { drop {} }
}
"""  # the config as the story has it, on its three lines


def test_the_seed_idiom_is_the_aggregation_written_by_hand() -> None:
    config, translation, yaml_text = translated(SEED, {"LogstashAggregationCount": "4"})
    assert not translation.report.untranslated_spots, translation.report.format()
    assert "every: ${LogstashAggregationCount}" in yaml_text
    by_hand = parse_pipeline(
        """
aggregations:
  - name: action_progress
    task_id: '%{action}_%{progress}'
    metrics: {elapsedAvg: {type: avg, field: elapsed}}
    flush: {every: 4}
    keep_fields: ['*']
    remove_fields: [message, tags, elapsed, type]
    add_fields: {Aggregetion: true}
    index_events: false
""",
        "by hand",
        env={},
    )
    assert config.aggregations == by_hand.aggregations
    # the raw events the aggregation does not take are dropped, as `if ![Aggregetion] { drop {} }` does
    (_grok, drop) = config.filters
    assert drop.kind == "drop" and drop.condition == "!([action] and [progress])"
    notes = [finding.message for finding in translation.report.notes]
    assert any("the flush already starts the task afresh" in note for note in notes)


def test_else_drop_and_negated_flag_drop_are_the_same_idiom() -> None:
    with_else = SEED.replace("  if (![Aggregetion]) { drop {} }\n", "").replace(
        "end_of_task => true } }", "end_of_task => true } } else { drop {} }"
    )
    env = {"LogstashAggregationCount": "2"}
    assert translated(with_else, env)[0].aggregations == translated(SEED, env)[0].aggregations
    assert translated(with_else, env)[0].filters == translated(SEED, env)[0].filters


TOWNS = """filter {
  aggregate {
    task_id => "%{country_name}"
    code => "
      map['country_name'] ||= event.get('country_name')
      map['towns'] ||= []
      map['towns'] << {'town_name' => event.get('town_name')}
      map['codes'] ||= []
      map['codes'] << event.get('code') unless map['codes'].include?(event.get('code'))
      event.cancel()
    "
    push_previous_map_as_event => true
    timeout => 3
  }
}"""


def test_push_previous_map_as_event_and_lists() -> None:
    config, translation, _ = translated(TOWNS)
    assert not translation.report.untranslated_spots, translation.report.format()
    (spec,) = config.aggregations
    assert spec.model_dump(exclude_unset=True) == {
        "name": "country_name",
        "task_id": "%{country_name}",
        "metrics": {
            "country_name": {"type": "first", "field": "country_name"},
            "towns": {"type": "list", "fields": {"town_name": "town_name"}},
            "codes": {"type": "list", "field": "code", "unique": True},
        },
        "flush": {"total_timeout": 3000, "idle_flush": 3000},
        "index_events": False,
    }
    assert any("push_previous_map_as_event" in finding.message for finding in translation.report.notes)


CLICKS = """filter {
  aggregate {
    task_id => "%{user_id}"
    code => "map['clicks'] ||= 0; map['clicks'] += 1;"
    push_map_as_event_on_timeout => true
    timeout_task_id_field => "user_id"
    timeout => 600
    timeout_tags => ['_aggregatetimeout']
    timeout_code => "event.set('several_clicks', event.get('clicks') > 1); event.set('origin', 'timeout'); event.tag('pushed')"
  }
}"""


def test_timeout_code_that_sets_fields_and_timeout_tags() -> None:
    spec = aggregation_of(CLICKS)
    assert spec["timeout_tags"] == ["_aggregatetimeout", "pushed"]
    assert spec["timeout_fields"] == {"several_clicks": {"condition": "[clicks] > 1"}, "origin": "timeout"}
    assert spec["metrics"] == {"clicks": {"type": "count"}}


def test_timeout_code_without_a_push_is_noted_not_translated() -> None:
    _, translation, _ = translated("""filter {
      aggregate { task_id => "%{t}" code => "map['n'] ||= 0; map['n'] += 1" }
      if [step] == "end" {
        aggregate { task_id => "%{t}" code => "event.set('n', map['n'])" end_of_task => true
                    timeout_tags => ['_late'] timeout_code => "event.set('late', true)" }
      }
    }""")
    assert not translation.report.untranslated_spots, translation.report.format()
    notes = [finding.message for finding in translation.report.notes]
    assert any(note.startswith("timeout_code is left out") for note in notes)
    assert any(note.startswith("timeout_tags is left out") for note in notes)


def test_lists_that_cannot_be_read_are_reported_with_their_ruby() -> None:
    text = TOWNS.replace("{'town_name' => event.get('town_name')}", "event.get('town').upcase")
    assert ("untranslated", 7, "map['towns'] << event.get('town').upcase") in report_of(text)
