"""The csv filter: Logstash's column naming, quoting rules, conversions, header handling and failure tags."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from streamstash.config.plugin_filters import CsvFilter as Settings
from streamstash.filters.base import Verdict
from streamstash.filters.csv import CsvFilter


def parsed(text: Any, **settings: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"message": text, "tags": []}
    assert CsvFilter(Settings(**settings)).apply(doc) is None
    doc.pop("message")
    return doc


def test_columns_named_then_generated_and_empty_values_null() -> None:
    assert parsed("a,,c,d", columns=["one", "two"]) == {
        "one": "a",
        "two": None,
        "column3": "c",
        "column4": "d",
        "tags": [],
    }
    assert parsed("a,b,c", columns=["one"], autogenerate_column_names=False) == {"one": "a", "tags": []}
    assert parsed("a,,c", skip_empty_columns=True) == {"column1": "a", "column3": "c", "tags": []}


def test_quotes_separators_and_target() -> None:
    line = '2024-05-01,"Doe, Jane","said ""hi""",""'
    assert parsed(line, columns=["day", "name", "said", "empty"], target="row")["row"] == {
        "day": "2024-05-01",
        "name": "Doe, Jane",
        "said": 'said "hi"',
        "empty": "",
    }
    assert parsed("a;;'b;;c'", separator=";;", quote_char="'") == {"column1": "a", "column2": "b;;c", "tags": []}
    assert parsed("x\ty", separator="\t", columns=["[nested][x]", "y"], target="t")["t"] == {
        "nested": {"x": "x"},
        "y": "y",
    }


@pytest.mark.parametrize("line", ['a,"b', 'a,b"c', '"a"x,b'])
def test_invalid_csv_is_tagged_and_left_alone(line: str) -> None:
    assert parsed(line, columns=["a", "b"]) == {"tags": ["_csvparsefailure"]}


def test_empty_lines() -> None:
    assert parsed("") == {"tags": ["_csvparsefailure"]}
    assert parsed("", skip_empty_rows=True) == {"tags": ["_csvskippedemptyfield"]}


def test_conversions_leave_what_does_not_convert() -> None:
    row = parsed(
        "12,1.5,TRUE,2024-05-01T10:00:00Z,x,y",
        columns=["i", "f", "b", "t", "bad_int", "bad_bool"],
        convert={
            "i": "integer",
            "f": "float",
            "b": "boolean",
            "t": "date_time",
            "bad_int": "integer",
            "bad_bool": "boolean",
        },
    )
    assert row == {
        "i": 12,
        "f": 1.5,
        "b": True,
        "t": "2024-05-01T10:00:00.000Z",
        "bad_int": "x",
        "bad_bool": "y",
        "tags": [],
    }


def test_headers_are_dropped_and_detected() -> None:
    skip = CsvFilter(Settings(columns=["a", "b"], skip_header=True))
    assert skip.apply({"message": "a,b"}) == Verdict("drop", "csv: header line (skip_header)")
    detect = CsvFilter(Settings(autodetect_column_names=True))
    assert detect.apply({"message": "when,who"}) is not None
    doc = {"message": "monday,bob"}
    assert detect.apply(doc) is None
    assert doc["when"] == "monday" and doc["who"] == "bob"


def test_settings_refuse_a_quote_in_the_separator() -> None:
    with pytest.raises(ValidationError, match="must differ"):
        Settings(separator='"')
