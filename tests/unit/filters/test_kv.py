from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from streamstash.config.parser import FilterEntry
from streamstash.config.parser import KvFilter as KvSettings
from streamstash.filters.kv import KvFilter


def pairs(text: Any, **settings: Any) -> dict[str, Any]:
    """What the kv filter adds to an event whose message is ``text``."""
    doc: dict[str, Any] = {"message": text, "tags": []}
    assert KvFilter(KvSettings(**settings)).apply(doc) is None
    assert doc.pop("message") == text and doc.pop("tags") == []
    return doc


def test_default_splits_on_spaces_and_equals() -> None:
    assert pairs("a=1 b=two c=3.5") == {"a": "1", "b": "two", "c": "3.5"}


def test_text_without_pairs_adds_nothing() -> None:
    assert pairs("no pairs here") == {}
    assert pairs("word a=1 another") == {"a": "1"}


def test_quoted_values_keep_their_spaces_and_lose_the_quotes() -> None:
    text = """msg="user logged in" who='bob smith' path="/a b" next=1"""
    assert pairs(text) == {"msg": "user logged in", "who": "bob smith", "path": "/a b", "next": "1"}


def test_bracketed_values_are_whole_unless_brackets_are_off() -> None:
    text = "one=(hello world) two=[hello world] three=<hello world>"
    assert pairs(text) == {"one": "hello world", "two": "hello world", "three": "hello world"}
    assert pairs(text, include_brackets=False) == {"one": "(hello", "two": "[hello", "three": "<hello"}


def test_custom_split_characters_each_split() -> None:
    assert pairs("?a:1&b:2&c:x", field_split="&?", value_split=":") == {"a": "1", "b": "2", "c": "x"}


def test_split_patterns() -> None:
    assert pairs("a => 1 ;; b => 2", field_split_pattern=r"\s*;;\s*", value_split_pattern=r"\s*=>\s*") == {
        "a": "1",
        "b": "2",
    }


def test_include_exclude_and_prefix() -> None:
    text = "user=alice password=secret status=200"
    assert pairs(text, include_keys=["user", "status"]) == {"user": "alice", "status": "200"}
    assert pairs(text, exclude_keys=["password"]) == {"user": "alice", "status": "200"}
    # include/exclude compare the key before the prefix is added, as in Logstash
    assert pairs(text, include_keys=["user"], prefix="kv_") == {"kv_user": "alice"}


def test_target_collects_pairs_in_one_object() -> None:
    assert pairs("a=1 b=2", target="[http][query]") == {"http": {"query": {"a": "1", "b": "2"}}}


def test_trim_and_remove_characters() -> None:
    assert pairs(
        "<a>=<1>, [b]=[2],", field_split=" ", trim_key="<>\\[\\]", trim_value="<>\\[\\],", include_brackets=False
    ) == {"a": "1", "b": "2"}
    assert pairs("k.e.y=v-a-l", remove_char_key=".", remove_char_value="-") == {"key": "val"}


def test_repeated_keys_collect_values() -> None:
    assert pairs("a=1 a=2 a=1") == {"a": ["1", "2", "1"]}
    assert pairs("a=1 a=2 a=1", allow_duplicate_values=False) == {"a": ["1", "2"]}


def test_empty_values_are_skipped_in_strict_whitespace_mode() -> None:
    assert pairs("a= b=2", whitespace="strict") == {"b": "2"}
    assert pairs('a="" b=2') == {"b": "2"}


def test_lenient_whitespace_allows_spaces_around_the_separator() -> None:
    assert pairs("a = 1 b= 2") == {"a": "1", "b": "2"}
    assert pairs("a = 1", whitespace="strict") == {}


def test_transforms_and_default_keys() -> None:
    assert pairs("User=Alice LEVEL=warn", transform_key="lowercase", transform_value="uppercase") == {
        "user": "ALICE",
        "level": "WARN",
    }
    assert pairs("name=bob", transform_value="capitalize") == {"name": "Bob"}
    assert pairs("a=1", default_keys={"a": "0", "b": "none"}) == {"a": "1", "b": "none"}


def test_escaped_spaces_stay_in_bare_values() -> None:
    assert pairs(r"path=/a\ b next=1") == {"path": r"/a\ b", "next": "1"}


def test_list_source_is_read_item_by_item() -> None:
    doc: dict[str, Any] = {"query": ["a=1", "b=2", 7], "tags": []}
    KvFilter(KvSettings(source="query")).apply(doc)
    assert doc["a"] == "1" and doc["b"] == "2"


def test_decorations_apply_only_when_pairs_were_found() -> None:
    doc: dict[str, Any] = {"message": "a=1", "tags": []}
    KvFilter(KvSettings(add_tag=["kv"])).apply(doc)
    assert doc["tags"] == ["kv"]
    doc = {"message": "nothing", "tags": []}
    KvFilter(KvSettings(add_tag=["kv"])).apply(doc)
    assert doc["tags"] == []


@pytest.mark.parametrize("settings", [{"field_split_pattern": "("}, {"trim_value": "z-a"}, {"value_split": ""}])
def test_unusable_split_settings_are_config_errors(settings: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        FilterEntry.model_validate({"kv": settings})
