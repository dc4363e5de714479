"""The chain as a whole: order, `if` guards on every kind of filter, and verdicts."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from streamstash.config import parse_pipeline
from streamstash.config.parser import FilterEntry
from streamstash.events.envelope import DeadLetter, Event, Source
from streamstash.filters import FilterChain


def chain(*entries: dict[str, Any]) -> FilterChain:
    return FilterChain([FilterEntry.model_validate(entry) for entry in entries])


def test_each_kind_is_built_from_its_settings() -> None:
    built = chain(
        {"dissect": {"mapping": {"message": "%{a} %{b}"}}},
        {"kv": {"source": "b"}},
        {"json": {"source": "payload"}},
        {"date": {"match": ["t", "ISO8601"]}},
        {"mutate": {"add_tag": ["x"]}},
        {"drop": {"percentage": 1}},
    )
    assert [step.kind for step in built.steps] == ["dissect", "kv", "json", "date", "mutate", "drop"]


def test_filters_run_in_order_and_see_earlier_results() -> None:
    doc: dict[str, Any] = {"message": 'web {"status": 503, "path": "/x"}', "tags": []}
    verdict = chain(
        {"dissect": {"mapping": {"message": "%{service} %{payload}"}}},
        {"json": {"source": "payload", "remove_field": ["payload"]}},
        {"if": "[status] >= 500", "mutate": {"add_tag": ["server_error"]}},
        {"if": "[status] < 500", "mutate": {"add_tag": ["fine"]}},
        {"if": '[service] == "web" and [path] =~ /^\\/x/', "mutate": {"add_field": {"route": "x"}}},
    ).apply(doc)
    assert verdict is None
    assert doc == {
        "message": 'web {"status": 503, "path": "/x"}',
        "service": "web",
        "status": 503,
        "path": "/x",
        "route": "x",
        "tags": ["server_error"],
    }


def test_guard_sees_tags_added_by_earlier_failures() -> None:
    steps = chain({"json": {}}, {"if": '"_jsonparsefailure" in [tags]', "mutate": {"add_field": {"raw": "yes"}}})
    doc: dict[str, Any] = {"message": "not json", "tags": []}
    steps.apply(doc)
    assert doc["raw"] == "yes"
    doc = {"message": "{}", "tags": []}
    steps.apply(doc)
    assert "raw" not in doc


def test_dead_letter_verdict_stops_the_chain() -> None:
    doc: dict[str, Any] = {"message": "no delimiter", "tags": []}
    verdict = chain({"dissect": {"mapping": {"message": "%{a}|%{b}"}}}, {"mutate": {"add_tag": ["later"]}}).apply(doc)
    assert verdict is not None and verdict.action == "dead_letter"
    assert doc["tags"] == ["_dissectfailure"]


def test_filter_event_folds_the_result_into_the_event_and_a_dead_letter_keeps_the_original_line() -> None:
    rewrite_then_fail = chain(
        {"mutate": {"replace": {"message": "rewritten"}}},
        {"dissect": {"mapping": {"message": "%{a}|%{b}"}}},
    )
    event = Event(message="no delimiter", source=Source(kind="file"), id="logs.raw:0:1:2")
    letter = rewrite_then_fail.filter_event(event, "parser")
    assert isinstance(letter, DeadLetter)
    assert letter.event is event and event.message == "no delimiter" and event.tags == ["_dissectfailure"]
    passed = Event(message="a|b", source=Source(kind="file"), id="logs.raw:0:1:3")
    outcome = chain({"dissect": {"mapping": {"message": "%{a}|%{b}"}}}).filter_event(passed, "parser")
    assert outcome is passed and passed.fields == {"a": "a", "b": "b"} and passed.id == "logs.raw:0:1:3"


def test_entries_need_exactly_one_filter_and_a_valid_condition() -> None:
    with pytest.raises(ValidationError, match="exactly one"):
        FilterEntry.model_validate({"kv": {}, "json": {}})
    with pytest.raises(ValidationError, match="exactly one"):
        FilterEntry.model_validate({"if": "[a]"})
    with pytest.raises(ValidationError, match="unexpected"):
        FilterEntry.model_validate({"if": "[a] == 1 1", "drop": {}})


def test_bare_filter_keys_in_yaml_mean_default_settings() -> None:
    config = parse_pipeline("filters:\n  - json:\n  - kv:\n  - if: '[x]'\n    drop:\n", "p.yml", env={})
    assert [entry.kind for entry in config.filters] == ["json", "kv", "drop"]
    assert config.filters[2].condition == "[x]"


def test_grok_decorations_apply_only_when_it_matched() -> None:
    steps = chain(
        {
            "grok": {
                "match": {"message": "%{WORD:verb} %{NUMBER:status:int}"},
                "remove_field": ["message"],
                "add_tag": ["http_%{verb}"],
                "dead_letter_on_failure": False,
            }
        }
    )
    doc: dict[str, Any] = {"message": "GET 200", "tags": []}
    assert steps.apply(doc) is None
    assert doc == {"verb": "GET", "status": 200, "tags": ["http_GET"]}
    doc = {"message": "???", "tags": []}
    assert steps.apply(doc) is None
    assert doc == {"message": "???", "tags": ["_grokparsefailure"]}
