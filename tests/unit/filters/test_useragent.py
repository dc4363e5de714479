"""The useragent filter: Logstash's classic and ECS fields from ua-parser's bundled regexes, and its own regexes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from streamstash.config.plugin_filters import UseragentFilter as Settings
from streamstash.filters.base import FilterResourceError
from streamstash.filters.useragent import UseragentFilter

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/89.0.4389.90 Safari/537.36"
)
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 15_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/15.4 Mobile/15E148 Safari/604.1"
)


def parsed(value: Any, **settings: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"agent": value}
    UseragentFilter(Settings(source="agent", **settings)).apply(doc)
    return doc


def test_classic_fields_under_a_target() -> None:
    assert parsed(CHROME, target="ua")["ua"] == {
        "name": "Chrome",
        "device": "Other",
        "major": "89",
        "minor": "0",
        "patch": "4389",
        "version": "89.0.4389.90",
        "os": "Windows",
        "os_name": "Windows",
        "os_full": "Windows 10",
        "os_version": "10",
        "os_major": "10",
    }


def test_classic_fields_at_the_top_with_a_prefix() -> None:
    doc = parsed(IPHONE, prefix="ua_")
    assert (doc["ua_name"], doc["ua_device"], doc["ua_os_name"], doc["ua_os_version"]) == (
        "Mobile Safari",
        "iPhone",
        "iOS",
        "15.4",
    )


def test_ecs_fields() -> None:
    doc = parsed(IPHONE, ecs_compatibility="v8")
    assert doc["user_agent"] == {
        "name": "Mobile Safari",
        "version": "15.4",
        "device": {"name": "iPhone"},
        "os": {"name": "iOS", "version": "15.4", "full": "iOS 15.4"},
    }
    assert doc["@metadata"]["filter"]["user_agent"]["version"] == {"major": "15", "minor": "4"}


def test_unknown_agents_are_other_and_missing_ones_untouched() -> None:
    assert parsed("definitely not a browser", target="ua")["ua"]["name"] == "Other"
    assert parsed("", target="ua") == {"agent": ""}
    assert parsed(None, target="ua", add_tag=["x"]) == {"agent": None}
    assert parsed([CHROME], target="ua")["ua"]["name"] == "Chrome"


def test_target_equal_to_source_replaces_it() -> None:
    assert parsed(CHROME, target="agent")["agent"]["name"] == "Chrome"


def test_own_regexes_file(tmp_path: Path) -> None:
    regexes = tmp_path / "regexes.yaml"
    regexes.write_text(
        "user_agent_parsers:\n  - regex: '(StreamBot)/(\\d+)\\.(\\d+)'\n    family_replacement: 'Stream Bot'\n"
        "os_parsers: []\ndevice_parsers: []\n"
    )
    assert parsed("StreamBot/2.5", target="ua", regexes=str(regexes))["ua"]["version"] == "2.5"
    with pytest.raises(FilterResourceError, match="cannot be read"):
        UseragentFilter(Settings(source="agent", regexes=str(tmp_path / "missing.yaml")))
