from __future__ import annotations

from typing import Any

import pytest

from streamstash import names
from streamstash.config.parser import JsonFilter as JsonSettings
from streamstash.filters.json import JsonFilter, nesting_depth


def run(text: Any, **settings: Any) -> tuple[dict[str, Any], Any]:
    doc: dict[str, Any] = {"message": text, "tags": []}
    if text is None:
        del doc["message"]
    verdict = JsonFilter(JsonSettings(**settings)).apply(doc)
    return doc, verdict


def nested(levels: int) -> str:
    return '{"a":' * levels + "1" + "}" * levels


def test_object_keys_go_to_the_top_level_and_the_source_stays() -> None:
    doc, verdict = run('{"user": "alice", "status": 200, "ok": true, "geo": {"lat": 1.5}, "ids": [1, 2]}')
    assert verdict is None
    assert doc == {
        "message": '{"user": "alice", "status": 200, "ok": true, "geo": {"lat": 1.5}, "ids": [1, 2]}',
        "tags": [],
        "user": "alice",
        "status": 200,
        "ok": True,
        "geo": {"lat": 1.5},
        "ids": [1, 2],
    }


def test_target_receives_any_json_value() -> None:
    doc, _ = run('{"a": 1}', target="[payload][parsed]")
    assert doc["payload"] == {"parsed": {"a": 1}}
    doc, _ = run("[1, 2, 3]", target="numbers")
    assert doc["numbers"] == [1, 2, 3] and doc["tags"] == []
    doc, _ = run('"just text"', target="value")
    assert doc["value"] == "just text"


@pytest.mark.parametrize("text", ["[1, 2]", "42", '"text"', "null"])
def test_a_value_that_is_not_an_object_needs_a_target(text: str) -> None:
    doc, verdict = run(text)
    assert verdict is None
    assert doc == {"message": text, "tags": [names.TAG_JSON_FAILURE]}


@pytest.mark.parametrize("text", ["{not json", "", "{'single': 'quotes'}", '{"a": 1} trailing', "NaN", "1e400"])
def test_invalid_json_is_tagged_and_left_as_it_was(text: str) -> None:
    doc, verdict = run(text)
    assert verdict is None
    assert doc == {"message": text, "tags": [names.TAG_JSON_FAILURE]}


def test_skip_on_invalid_json_leaves_invalid_text_untagged() -> None:
    doc, verdict = run("{not json", skip_on_invalid_json=True)
    assert verdict is None and doc == {"message": "{not json", "tags": []}


def test_missing_source_is_not_a_failure() -> None:
    doc, verdict = run(None)
    assert verdict is None and doc == {"tags": []}


def test_source_that_is_not_text_is_a_failure() -> None:
    doc = {"payload": {"already": "parsed"}, "tags": []}
    JsonFilter(JsonSettings(source="payload")).apply(doc)
    assert doc["tags"] == [names.TAG_JSON_FAILURE]


def test_nesting_up_to_max_depth_is_accepted_and_deeper_is_tagged_and_not_merged() -> None:
    doc, _ = run(nested(20))
    assert doc["tags"] == [] and nesting_depth(doc["a"], 100) == 19
    doc, verdict = run(nested(21))
    assert verdict is None
    assert doc == {"message": nested(21), "tags": [names.TAG_JSON_FAILURE, names.TAG_JSON_TOO_DEEP]}
    doc, _ = run(nested(3), max_depth=2)
    assert "a" not in doc and names.TAG_JSON_TOO_DEEP in doc["tags"]


@pytest.mark.parametrize("text", ["[" * 100_000 + "]" * 100_000, '{"a":' * 5_000 + "1" + "}" * 5_000, "[" * 100_000])
def test_pathologically_deep_json_is_tagged_without_crashing(text: str) -> None:
    doc, verdict = run(text, max_depth=1000)
    assert verdict is None
    assert names.TAG_JSON_FAILURE in doc["tags"]
    assert set(doc) == {"message", "tags"}


def test_nesting_depth_counts_objects_and_arrays_without_recursion() -> None:
    assert nesting_depth(1, 10) == 0
    assert nesting_depth({"a": [1, {"b": []}]}, 10) == 4
    deep: Any = []
    for _ in range(50_000):
        deep = [deep]
    assert nesting_depth(deep, 20) == 21  # gives up just past the cap


def test_text_longer_than_max_bytes_is_not_parsed() -> None:
    doc, _ = run('{"text": "' + "x" * 100 + '"}', max_bytes=64)
    assert doc["tags"] == [names.TAG_JSON_FAILURE, names.TAG_JSON_TOO_LARGE] and "text" not in doc
    doc, _ = run('{"text": "éééé"}', max_bytes=20)  # 16 characters, 20 bytes in UTF-8
    assert doc["text"] == "éééé"
    doc, _ = run('{"text": "ééééé"}', max_bytes=20)  # 17 characters, 22 bytes: the bytes count
    assert names.TAG_JSON_TOO_LARGE in doc["tags"]


def test_timestamp_in_the_json_is_normalised_or_kept_aside() -> None:
    doc, _ = run('{"@timestamp": "2026-11-21T11:00:00.5+01:00", "a": 1}')
    assert doc["@timestamp"] == "2026-11-21T10:00:00.500Z"
    doc, _ = run('{"@timestamp": "last tuesday", "a": 1}')
    assert "@timestamp" not in doc
    assert doc[names.FIELD_TIMESTAMP_FAILURE] == "last tuesday"
    assert doc["tags"] == [names.TAG_TIMESTAMP_FAILURE] and doc["a"] == 1


def test_tags_in_the_json_join_the_event_tags_as_text() -> None:
    doc: dict[str, Any] = {"message": '{"tags": ["a", 1], "x": 1}', "tags": ["existing"]}
    JsonFilter(JsonSettings()).apply(doc)
    assert doc["tags"] == ["existing", "a", "1"]


def test_dead_letter_on_failure_returns_a_verdict_with_the_reason() -> None:
    doc, verdict = run("{oops", dead_letter_on_failure=True)
    assert verdict is not None and verdict.action == "dead_letter"
    assert "not valid JSON" in verdict.reason and doc["tags"] == [names.TAG_JSON_FAILURE]
    _, verdict = run(nested(30), dead_letter_on_failure=True)
    assert verdict is not None and "deeper than 20" in verdict.reason


def test_decorations_apply_only_on_success() -> None:
    settings = {"remove_field": ["message"], "add_tag": ["json_%{kind}"]}
    doc, _ = run('{"kind": "audit"}', **settings)
    assert doc == {"kind": "audit", "tags": ["json_audit"]}
    doc, _ = run("{broken", **settings)
    assert doc == {"message": "{broken", "tags": [names.TAG_JSON_FAILURE]}


def test_unicode_and_large_numbers_survive() -> None:
    doc, _ = run('{"city": "Zürich", "emoji": "\\ud83d\\ude00", "big": 12345678901234567890, "f": 1.25}')
    assert doc["city"] == "Zürich" and doc["emoji"] == "😀" and doc["f"] == 1.25
    assert doc["big"] == 12345678901234567890
