"""Broken pipeline files give a readable error and exit code 2 from `check` and from every service: no crash loop."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from streamstash import names

CASES = {
    "unknown_pattern": ("filters:\n  - grok: {match: {message: ['%{NOSUCHPATTERN:x}']}}\n", "NOSUCHPATTERN"),
    "bad_yaml": ("filters:\n  - grok: {match: [unclosed\n", "not valid YAML"),
    "unset_variable": (
        "kafka:\n  bootstrap_servers: ${STREAMSTASH_TEST_UNSET_VARIABLE}\n",
        "STREAMSTASH_TEST_UNSET_VARIABLE is not set",
    ),
    "wrong_type": ("kafka:\n  partitions: lots\n", "kafka.partitions"),
    "unknown_key": ("outputs:\n  elasticsearch:\n    indx: logs\n", "outputs.elasticsearch.indx: unknown key"),
    "bad_condition": ("filters:\n  - date: {match: [t, ISO8601]}\n    if: '[a] === 3'\n", "condition"),
    "bad_regex": ("filters:\n  - grok: {match: {message: ['(unclosed']}}\n", "(unclosed"),
}


def streamstash(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streamstash.services.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("case", sorted(CASES))
def test_check_names_the_problem(case: str, tmp_path: Path) -> None:
    text, fragment = CASES[case]
    path = tmp_path / f"{case}.yml"
    path.write_text(text)
    result = streamstash("check", "--config", str(path))
    assert result.returncode == 2, result.stdout + result.stderr
    assert fragment in result.stderr, result.stderr
    assert str(path) in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("service", names.SERVICES)
def test_services_refuse_a_broken_file_once_with_a_message(service: str, tmp_path: Path) -> None:
    path = tmp_path / "broken.yml"
    path.write_text(CASES["unknown_key"][0])
    result = streamstash(
        service, "--config", str(path), "--kafka", "127.0.0.1:1", "--elasticsearch", "http://127.0.0.1:1"
    )
    assert result.returncode == 2
    assert "unknown key" in result.stderr and "Traceback" not in result.stderr


def test_missing_file(tmp_path: Path) -> None:
    result = streamstash("check", "--config", str(tmp_path / "nope.yml"))
    assert result.returncode == 2 and "cannot read" in result.stderr
