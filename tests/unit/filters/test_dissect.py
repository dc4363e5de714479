from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from streamstash import names
from streamstash.config.parser import DissectFilter as DissectSettings
from streamstash.config.parser import FilterEntry
from streamstash.events.dissect import DissectPatternError, compile_dissect
from streamstash.filters.dissect import DissectFilter


def run(text: str, pattern: str, **settings: Any) -> tuple[dict[str, Any], Any]:
    doc: dict[str, Any] = {"message": text, "tags": []}
    verdict = DissectFilter(DissectSettings(mapping={"message": pattern}, **settings)).apply(doc)
    return doc, verdict


def fields(text: str, pattern: str, **settings: Any) -> dict[str, Any]:
    doc, verdict = run(text, pattern, **settings)
    assert verdict is None and doc["tags"] == [], doc
    return {key: value for key, value in doc.items() if key not in ("message", "tags")}


def test_fields_split_at_the_literal_delimiters() -> None:
    assert fields(
        "2026-11-21 10:00:00 INFO [main] service started on port 80", "%{date} %{time} %{level} [%{thread}] %{msg}"
    ) == {
        "date": "2026-11-21",
        "time": "10:00:00",
        "level": "INFO",
        "thread": "main",
        "msg": "service started on port 80",
    }


def test_append_joins_with_the_separator_in_pattern_order_or_by_ordinal() -> None:
    assert fields("2026-11-21 10:00:00 INFO", "%{ts} %{+ts} %{level}") == {"ts": "2026-11-21 10:00:00", "level": "INFO"}
    assert fields("2026-11-21 10:00:00", "%{ts} %{+ts}", append_separator="T") == {"ts": "2026-11-21T10:00:00"}
    assert fields("d c b a", "%{+x/4} %{+x/3} %{+x/2} %{+x/1}") == {"x": "a b c d"}


def test_skipped_fields_are_not_kept() -> None:
    assert fields("a b c", "%{first} %{} %{third}") == {"first": "a", "third": "c"}
    assert fields("a b c", "%{first} %{?second} %{third}") == {"first": "a", "third": "c"}


def test_reference_fields_use_another_capture_as_the_key() -> None:
    assert fields("user=alice role=admin", "%{?k1}=%{&k1} %{*k2}=%{&k2}") == {"user": "alice", "role": "admin"}


def test_padding_modifier_skips_repeated_delimiters() -> None:
    assert fields("INFO     started", "%{level->} %{msg}") == {"level": "INFO", "msg": "started"}
    # without `->` the extra spaces belong to the next field, as in Logstash
    assert fields("INFO   started", "%{level} %{msg}") == {"level": "INFO", "msg": "  started"}


def test_empty_values_and_prefix_and_suffix_delimiters() -> None:
    assert fields("a,,c", "%{a},%{b},%{c}") == {"a": "a", "b": "", "c": "c"}
    assert fields("<34>Oct 11 rest", "<%{pri}>%{rest}") == {"pri": "34", "rest": "Oct 11 rest"}
    assert fields("[x] tail", "[%{inside}]") == {"inside": "x"}


def test_nested_field_names_and_datatype_conversion() -> None:
    assert fields(
        "GET 200 0.25 n/a",
        "%{[http][verb]} %{[http][status]} %{took} %{size}",
        convert_datatype={"[http][status]": "int", "took": "float", "size": "int"},
    ) == {"http": {"verb": "GET", "status": 200}, "took": 0.25, "size": "n/a"}


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("no delimiters", "%{a},%{b}"),
        ("x [unclosed", "%{a} [%{b}]"),
        ("missing prefix", "<%{pri}>%{rest}"),
    ],
)
def test_a_pattern_that_does_not_fit_tags_and_dead_letters_without_adding_fields(text: str, pattern: str) -> None:
    doc, verdict = run(text, pattern)
    assert doc == {"message": text, "tags": [names.TAG_DISSECT_FAILURE]}
    assert verdict is not None and verdict.action == "dead_letter" and "does not fit" in verdict.reason
    doc, verdict = run(text, pattern, dead_letter_on_failure=False)
    assert verdict is None and doc == {"message": text, "tags": [names.TAG_DISSECT_FAILURE]}


def test_missing_source_field_is_a_failure() -> None:
    doc: dict[str, Any] = {"tags": []}
    verdict = DissectFilter(DissectSettings(mapping={"line": "%{a} %{b}"})).apply(doc)
    assert verdict is not None and "'line' is missing" in verdict.reason and doc["tags"] == ["_dissectfailure"]


def test_all_mappings_must_fit_before_any_field_is_set() -> None:
    doc: dict[str, Any] = {"a": "1 2", "b": "nospace", "tags": []}
    DissectFilter(DissectSettings(mapping={"a": "%{x} %{y}", "b": "%{p} %{q}"}, dead_letter_on_failure=False)).apply(
        doc
    )
    assert "x" not in doc and doc["tags"] == ["_dissectfailure"]


def test_decorations_run_after_success() -> None:
    doc, _ = run("a b", "%{x} %{y}", remove_field=["message"], add_field={"xy": "%{x}-%{y}"})
    assert doc == {"x": "a", "y": "b", "xy": "a-b", "tags": []}


@pytest.mark.parametrize(
    ("pattern", "problem"),
    [
        ("no fields", "has no %{field}"),
        ("%{a}%{b}", "need a delimiter"),
        ("%{a} %{&b}", "needs a %{?b}"),
        ("%{a/2} %{b}", "only appends"),
        ("%{+} %{b}", "needs a field name"),
    ],
)
def test_broken_patterns_are_rejected_when_loaded(pattern: str, problem: str) -> None:
    with pytest.raises(DissectPatternError, match=problem.replace("{", r"\{").replace("?", r"\?")):
        compile_dissect(pattern)
    with pytest.raises(ValidationError, match="mapping of 'message'"):
        FilterEntry.model_validate({"dissect": {"mapping": {"message": pattern}}})
