from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from streamstash.config.parser import FilterEntry
from streamstash.config.parser import MutateFilter as MutateSettings
from streamstash.filters.mutate import MutateFilter


def mutate(doc: dict[str, Any], **settings: Any) -> dict[str, Any]:
    doc.setdefault("tags", [])
    assert MutateFilter(MutateSettings.model_validate(settings)).apply(doc) is None
    return doc


@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        ("integer", "200", 200),
        ("integer", " 42 ", 42),
        ("integer", "3.7", 3),  # Logstash truncates decimals
        ("integer", "-3.7", -3),
        ("integer", "1,000", 1000),  # and reads thousands separators
        ("integer", "1_000", "1_000"),  # Python would read it; Logstash would not
        ("integer", "abc", "abc"),  # values that do not convert stay as they were
        ("integer", True, 1),
        ("integer", 2.9, 2),
        ("integer", ["1", "x", "3"], [1, "x", 3]),
        ("integer_eu", "1.234", 1234),
        ("float", "0.25", 0.25),
        ("float", "1,000.5", 1000.5),
        ("float", "1e3", 1000.0),
        ("float", "nan", "nan"),
        ("float", 3, 3.0),
        ("float_eu", "1.234,5", 1234.5),
        ("boolean", "yes", True),
        ("boolean", "T", True),
        ("boolean", "1.0", True),
        ("boolean", "no", False),
        ("boolean", "0", False),
        ("boolean", "maybe", "maybe"),
        ("string", 200, "200"),
        ("string", True, "true"),
        ("string", 1.5, "1.5"),
    ],
)
def test_convert(kind: str, value: Any, expected: Any) -> None:
    assert mutate({"f": value}, convert={"f": kind})["f"] == expected


def test_convert_skips_missing_fields() -> None:
    assert mutate({}, convert={"f": "integer"}) == {"tags": []}


def test_rename_update_replace_coerce_copy() -> None:
    doc = mutate(
        {"host": "web-1", "level": None, "verb": "GET", "request": "/"},
        rename={"host": "[host][name]"},
        coerce={"level": "info", "absent": "x"},
        update={"verb": "%{verb}!", "nothere": "x"},
        replace={"summary": "%{verb} %{request}"},
        copy={"request": "[url][original]"},
    )
    assert doc == {
        "host": {"name": "web-1"},
        "level": "info",
        "verb": "GET!",
        "request": "/",
        "summary": "GET! /",
        "url": {"original": "/"},
        "tags": [],
    }


def test_gsub_accepts_flat_triples_and_backreferences() -> None:
    doc = mutate({"path": "/a/b", "ids": ["x-1", "y-2"]}, gsub=["path", "/", "_", "ids", r"(\w)-(\d)", r"\2\1"])
    assert doc["path"] == "_a_b" and doc["ids"] == ["1x", "2y"]


def test_case_strip_split_join_merge() -> None:
    doc = mutate(
        {
            "a": "MiXed",
            "b": "MiXed",
            "c": "mIXED wOrds",
            "d": "  pad  ",
            "roles": "a,b",
            "list": [1, 2],
            "labels": ["x"],
            "extra": "y",
        },
        lowercase=["a"],
        uppercase=["b"],
        capitalize=["c"],
        strip=["d"],
        split={"roles": ","},
        join={"list": "|"},
        merge={"labels": "extra", "new": "labels"},
    )
    assert doc["a"] == "mixed" and doc["b"] == "MIXED" and doc["c"] == "Mixed words" and doc["d"] == "pad"
    assert doc["roles"] == ["a", "b"] and doc["list"] == "1|2"
    assert doc["labels"] == ["x", "y"] and doc["new"] == ["x", "y"]


def test_operations_run_in_logstash_order() -> None:
    # rename before convert before gsub before add_field: each step sees the previous one's result
    doc = mutate(
        {"code": "2,00"},
        rename={"code": "status"},
        gsub=[["status", ",", ""]],
        convert={"status": "integer"},
        add_field={"summary": "status=%{status}"},
    )
    # convert runs before gsub, so "2,00" does not convert and gsub then turns it into the text "200"
    assert doc["status"] == "200" and doc["summary"] == "status=200"


def test_add_field_appends_to_an_existing_field_like_logstash() -> None:
    doc = mutate(
        {"source_ip": "1.1.1.1", "ips": ["a"]}, add_field={"source_ip": "2.2.2.2", "ips": "b", "new": ["x", "y"]}
    )
    assert doc["source_ip"] == ["1.1.1.1", "2.2.2.2"] and doc["ips"] == ["a", "b"] and doc["new"] == ["x", "y"]


def test_templates_in_field_names_and_missing_references_are_skipped() -> None:
    doc = mutate(
        {"kind": "audit", "x": 1},
        add_field={"by_%{kind}": "yes", "skip": "%{missing}"},
        remove_field=["%{kind}_gone", "x"],
        add_tag=["t_%{kind}", "t_%{missing}"],
    )
    assert doc == {"kind": "audit", "by_audit": "yes", "tags": ["t_audit"]}


def test_remove_tag() -> None:
    doc = mutate({"tags": ["a", "_debug", "b"], "k": "a"}, remove_tag=["_debug", "%{k}"])
    assert doc["tags"] == ["b"]


def test_unknown_convert_type_and_bad_gsub_are_config_errors() -> None:
    with pytest.raises(ValidationError, match="convert"):
        FilterEntry.model_validate({"mutate": {"convert": {"f": "number"}}})
    with pytest.raises(ValidationError, match="invalid regex"):
        FilterEntry.model_validate({"mutate": {"gsub": ["f", "(", "x"]}})
    with pytest.raises(ValidationError, match="triples"):
        FilterEntry.model_validate({"mutate": {"gsub": ["f", "a"]}})
