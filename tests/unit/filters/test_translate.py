"""The translate filter: exact, regex and substring lookups, fallback, override, files and their reloading."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from streamstash.config.plugin_filters import TranslateFilter as Settings
from streamstash.filters.base import FilterResourceError
from streamstash.filters.translate import TranslateFilter

CODES = {"200": "OK", "404": "Not Found", "5\\d\\d": "Server Error"}


def translated(doc: dict[str, Any], **settings: Any) -> dict[str, Any]:
    TranslateFilter(Settings(**settings)).apply(doc)
    return doc


def test_exact_lookup_into_translation_with_fallback() -> None:
    assert translated({"code": "404"}, source="code", dictionary=CODES)["translation"] == "Not Found"
    assert translated({"code": 200}, source="code", dictionary=CODES)["translation"] == "OK"  # numbers as text
    assert translated({"code": ["200", "404"]}, source="code", dictionary=CODES)["translation"] == "OK"
    assert "translation" not in translated({"code": "503"}, source="code", dictionary=CODES)
    doc = translated({"code": "503"}, source="code", dictionary=CODES, fallback="no %{code}", add_tag=["t"])
    assert doc["translation"] == "no 503" and doc["tags"] == ["t"]


def test_regex_keys_first_match_wins_and_substrings_replace() -> None:
    assert translated({"code": "503"}, source="code", dictionary=CODES, regex=True)["translation"] == "Server Error"
    words = {"cat": "dog", "red": "blue"}
    doc = translated({"m": "a red cat"}, source="m", target="m", dictionary=words, exact=False)
    assert doc["m"] == "a blue dog"


def test_existing_targets_are_kept_unless_override() -> None:
    doc = {"code": "200", "status": "old"}
    assert translated(dict(doc), source="code", target="status", dictionary=CODES)["status"] == "old"
    assert translated(dict(doc), field="code", destination="status", dictionary=CODES, override=True)["status"] == "OK"


def test_iterate_on_lists_and_objects() -> None:
    doc = translated(
        {"codes": ["200", "x", "404"]}, source="codes", iterate_on="codes", target="texts", dictionary=CODES
    )
    assert doc["texts"] == ["OK", None, "Not Found"]
    doc = translated(
        {"items": [{"c": "200"}, {"c": "404"}, {"d": 1}]}, iterate_on="items", source="c", target="t", dictionary=CODES
    )
    assert doc["items"] == [{"c": "200", "t": "OK"}, {"c": "404", "t": "Not Found"}, {"d": 1}]


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("codes.yml", '"200": OK\n404: Not Found\n'),
        ("codes.json", json.dumps({"200": "OK", "404": "Not Found"})),
        ("codes.csv", "\ufeff200,OK\n404,Not Found\n"),
    ],
)
def test_dictionary_files(tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    assert translated({"code": "404"}, source="code", dictionary_path=str(path))["translation"] == "Not Found"


def test_changed_files_are_reloaded_merged_or_replaced(tmp_path: Path) -> None:
    path = tmp_path / "codes.yml"
    path.write_text("a: 1\nb: 2\n")
    for behaviour, expected_b in (("merge", 2), ("replace", None)):
        path.write_text("a: 1\nb: 2\n")
        translate = TranslateFilter(Settings(source="k", dictionary_path=str(path), refresh_behaviour=behaviour))
        path.write_text("a: 10\n")
        stat = path.stat()
        os.utime(path, (stat.st_atime, stat.st_mtime + 5))  # a change the mtime shows
        translate.refresh()
        for key, expected in (("a", 10), ("b", expected_b)):
            doc = {"k": key}
            translate.apply(doc)
            assert doc.get("translation") == expected, behaviour
    path.write_text("[not, a, mapping]")
    os.utime(path, (stat.st_atime, stat.st_mtime + 10))
    translate.refresh()  # a broken file keeps the entries held
    doc = {"k": "a"}
    translate.apply(doc)
    assert doc["translation"] == 10


def test_bad_settings_and_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="exclusive"):
        Settings(source="a", dictionary={"x": "y"}, dictionary_path=str(tmp_path / "d.yml"))
    with pytest.raises(ValidationError, match="old name"):
        Settings(source="a", field="b")
    with pytest.raises(ValidationError, match=r"expected a \.yml"):
        Settings(source="a", dictionary_path="codes.txt")
    with pytest.raises(ValidationError, match="not a valid regex"):
        Settings(source="a", dictionary={"(": "x"}, regex=True)
    with pytest.raises(FilterResourceError, match="cannot be read"):
        TranslateFilter(Settings(source="a", dictionary_path=str(tmp_path / "missing.yml")))
