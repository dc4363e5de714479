"""urldecode and syslog_pri: Logstash's behaviour on the lines their docs and specs use."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from streamstash.config.plugin_filters import SyslogPriFilter as SyslogPriSettings
from streamstash.config.plugin_filters import UrldecodeFilter as UrldecodeSettings
from streamstash.filters.syslog_pri import SyslogPriFilter
from streamstash.filters.urldecode import UrldecodeFilter


def urldecoded(doc: dict[str, Any], **settings: Any) -> dict[str, Any]:
    UrldecodeFilter(UrldecodeSettings(**settings)).apply(doc)
    return doc


def test_urldecode_decodes_escapes_but_not_plus() -> None:
    doc = urldecoded({"message": "/search?q=caf%C3%A9+au%20lait&x=%zz%"})
    assert doc["message"] == "/search?q=café+au lait&x=%zz%"


def test_urldecode_other_charsets_invalid_bytes_and_all_fields() -> None:
    assert urldecoded({"message": "caf%E9"}, charset="ISO-8859-1")["message"] == "café"
    assert urldecoded({"message": "bad%FF"})["message"] == "bad\ufffd"
    doc = urldecoded(
        {"message": "a%20b", "list": ["%41", 3], "obj": {"k": "%42"}, "n": 5}, all_fields=True, add_tag=["decoded"]
    )
    assert doc == {"message": "a b", "list": ["A", 3], "obj": {"k": "B"}, "n": 5, "tags": ["decoded"]}
    with pytest.raises(ValidationError, match="unknown charset"):
        UrldecodeSettings(charset="KLINGON")


def syslog_pri(doc: dict[str, Any], **settings: Any) -> dict[str, Any]:
    doc.setdefault("tags", [])
    SyslogPriFilter(SyslogPriSettings(**settings)).apply(doc)
    return doc


def test_syslog_pri_classic_fields() -> None:
    assert syslog_pri({"syslog_pri": "34"}) == {
        "syslog_pri": "34",
        "syslog_facility_code": 4,
        "syslog_severity_code": 2,
        "syslog_facility": "security/authorization",
        "syslog_severity": "critical",
        "tags": [],
    }


def test_syslog_pri_missing_means_13_and_ecs_layout() -> None:
    doc = syslog_pri({}, ecs_compatibility="v8")
    assert doc["log"]["syslog"] == {
        "facility": {"code": 1, "name": "user-level"},
        "severity": {"code": 5, "name": "notice"},
    }
    doc = syslog_pri({"pri": ["<191>", "x"]}, syslog_pri_field_name="pri", use_labels=False)
    assert (doc["syslog_facility_code"], doc["syslog_severity_code"]) == (23, 7)
    assert "syslog_facility" not in doc


def test_syslog_pri_beyond_the_labels_is_tagged() -> None:
    doc = syslog_pri({"syslog_pri": 200})
    assert doc["syslog_facility_code"] == 25 and doc["tags"] == ["_syslogpriparsefailure"]
    assert "syslog_facility" not in doc
    assert syslog_pri({"syslog_pri": "junk"})["syslog_facility"] == "kernel"  # Ruby's "junk".to_i is 0
