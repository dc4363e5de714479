"""The grok filter's way with fields that exist already: streamstash's (replace) and Logstash's (`overwrite`)."""

from __future__ import annotations

from typing import Any

from streamstash.config.parser import GrokFilter as GrokSettings
from streamstash.filters.grok import GrokFilter

SYSLOG = "Nov 21 10:00:00 web01 sshd[42]: Accepted publickey for root"


def run(overwrite: list[str] | None, doc: dict[str, Any], pattern: str = "%{SYSLOGLINE}") -> dict[str, Any]:
    settings = GrokSettings(match={"message": [pattern]}, overwrite=overwrite, dead_letter_on_failure=False)
    assert GrokFilter(settings).apply(doc) is None
    return doc


def test_unset_overwrite_replaces_fields() -> None:
    assert run(None, {"message": SYSLOG})["message"] == "Accepted publickey for root"


def test_logstash_overwrite_lists_the_fields_replaced() -> None:
    assert run(["message"], {"message": SYSLOG})["message"] == "Accepted publickey for root"


def test_without_overwrite_existing_text_becomes_an_array_as_in_logstash() -> None:
    doc = run([], {"message": SYSLOG, "program": ["earlier"], "pid": 7, "timestamp": {"x": 1}})
    assert doc["message"] == [SYSLOG, "Accepted publickey for root"]
    assert doc["program"] == ["earlier", "sshd"]  # an array is appended to
    assert doc["pid"] == 7 and doc["timestamp"] == {"x": 1}  # other values stay
    assert doc["logsource"] == "web01"


def test_nested_captures_and_repeats() -> None:
    doc = run([], {"message": "a b", "w": {"x": "old"}}, "%{WORD:[w][x]} %{WORD:[w][y]}")
    assert doc["w"] == {"x": ["old", "a"], "y": "b"}
    doc = run(["[w][x]"], {"message": "a b", "w": {"x": "old"}}, "%{WORD:[w][x]} %{WORD:[w][x]}")
    assert doc["w"] == {"x": "b"}  # replaced once per capture: the last one stays


def test_flat_captures_replace_and_nested_ones_merge_into_existing_objects() -> None:
    flat = GrokFilter(GrokSettings(match={"message": ["%{WORD:verb} %{WORD:[w]}"]}))
    nested = GrokFilter(GrokSettings(match={"message": ["%{WORD:verb} %{WORD:[w][y]}"]}))
    assert flat.matchers[0][1].flat and not nested.matchers[0][1].flat
    assert run(None, {"message": "GET a", "w": {"x": 1}}, "%{WORD:verb} %{WORD:[w]}")["w"] == "a"
    assert run(None, {"message": "GET a", "w": {"x": 1}}, "%{WORD:verb} %{WORD:[w][y]}")["w"] == {"x": 1, "y": "a"}
