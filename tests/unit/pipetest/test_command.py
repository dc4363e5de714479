"""`streamstash test`: where cases come from, exit codes, the report and the JUnit file."""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree

from typer.testing import CliRunner

from streamstash.cli import app
from streamstash.pipetest.command import EXIT_FAILED, EXIT_INVALID, EXIT_PASSED, Selection
from tests.unit.pipetest.helpers import GROK_TASKS, run_command

PASSING = """
  - name: a task line
    match: subset
    lines: ["2026-11-21T10:00:00.000Z resize:banner elapsed=100"]
    expect: {documents: [{action: resize, progress: banner, elapsed: 100, "@timestamp": "2026-11-21T10:00:00.000Z"}]}
"""
FAILING = """
  - name: a wrong expectation
    match: subset
    lines: ["2026-11-21T10:00:00.000Z resize:banner elapsed=100"]
    expect: {documents: [{elapsed: "100"}]}
"""


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_the_pipelines_section_and_case_files_both_run(tmp_path: Path) -> None:
    config = write(tmp_path / "pipeline.yml", GROK_TASKS + "tests:" + PASSING)
    more = write(tmp_path / "more.yml", PASSING.replace("a task line", "another"))
    directory = tmp_path / "cases"
    directory.mkdir()
    write(directory / "one.yml", PASSING.replace("a task line", "in a directory"))
    write(directory / "notes.txt", "not cases")
    code, out, _ = run_command(config, more, directory)
    assert code == EXIT_PASSED
    assert f"{config}: 1 of 1 passed" in out
    assert f"{more}: 1 of 1 passed" in out
    assert f"{directory / 'one.yml'}: 1 of 1 passed" in out
    assert out.rstrip().endswith("3 cases: 3 passed, 0 failed")


def test_a_failing_case_prints_its_differences_and_exits_1(tmp_path: Path) -> None:
    config = write(tmp_path / "pipeline.yml", GROK_TASKS + "tests:" + PASSING + FAILING)
    code, out, _ = run_command(config)
    assert code == EXIT_FAILED
    assert f"FAIL  {config}: a wrong expectation" in out
    assert 'elapsed: expected "100", got 100' in out
    assert f"FAIL  {config}: a task line" not in out
    assert "2 cases: 1 passed, 1 failed" in out


def test_unexpected_dead_letters_fail_a_case_and_show_the_reason(tmp_path: Path) -> None:
    cases = "\n  - name: parse\n    lines: [garbage]\n    expect: {documents: []}\n"
    code, out, _ = run_command(write(tmp_path / "pipeline.yml", GROK_TASKS + "tests:" + cases))
    assert code == EXIT_FAILED
    assert "dead_letters: expected 0, got 1" in out
    assert "grok: no pattern matched field 'message'" in out


def test_an_invalid_case_file_exits_2_naming_the_file_and_the_key(tmp_path: Path) -> None:
    config = write(tmp_path / "pipeline.yml", GROK_TASKS + "tests:" + PASSING)
    broken = write(tmp_path / "broken.yml", "- name: x\n  lines: [a]\n  expect: {documentz: []}\n")
    code, out, err = run_command(config, broken)
    assert code == EXIT_INVALID
    assert out == ""
    assert f"{broken}: invalid test cases" in err and "cases.0.expect.documentz: unknown key" in err
    code, _, err = run_command(config, tmp_path / "missing.yml")
    assert code == EXIT_INVALID and "missing.yml: no such file or directory" in err


def test_an_invalid_pipeline_exits_2(tmp_path: Path) -> None:
    config = write(tmp_path / "pipeline.yml", "filters:\n  - grok: {match: {message: ['%{NOSUCHPATTERN:x}']}}\n")
    code, _, err = run_command(config)
    assert code == EXIT_INVALID
    assert str(config) in err and "NOSUCHPATTERN" in err


def test_nothing_to_test_is_not_a_pass(tmp_path: Path) -> None:
    code, _, err = run_command(write(tmp_path / "pipeline.yml", GROK_TASKS))
    assert code == EXIT_FAILED
    assert "nothing to test" in err


def test_case_selects_by_name_and_ignore_applies_everywhere(tmp_path: Path) -> None:
    config = write(tmp_path / "pipeline.yml", GROK_TASKS + "tests:" + PASSING + FAILING)
    code, out, _ = run_command(config, selection=Selection(patterns=["a task*"]))
    assert code == EXIT_PASSED and "1 case: 1 passed" in out
    code, out, _ = run_command(config, selection=Selection(ignore=["elapsed"]))
    assert code == EXIT_PASSED and "2 cases: 2 passed" in out
    code, _, err = run_command(config, selection=Selection(patterns=["nothing*"]))
    assert code == EXIT_FAILED and "no case matches --case" in err


def test_junit_report(tmp_path: Path) -> None:
    config = write(tmp_path / "pipeline.yml", GROK_TASKS + "tests:" + PASSING + FAILING)
    report = tmp_path / "reports" / "junit.xml"
    code, _, _ = run_command(config, junit=report)
    assert code == EXIT_FAILED
    root = ElementTree.parse(report).getroot()
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("2", "1", "0")
    [suite] = root.findall("testsuite")
    assert suite.get("name") == str(config)
    cases = {case.get("name"): case for case in suite.findall("testcase")}
    assert set(cases) == {"a task line", "a wrong expectation"}
    assert cases["a task line"].find("failure") is None
    failure = cases["a wrong expectation"].find("failure")
    assert failure is not None
    assert failure.get("message") == "documents[0]: 1 difference"
    assert 'elapsed: expected "100", got 100' in (failure.text or "")


def test_the_command_line(tmp_path: Path) -> None:
    config = write(tmp_path / "pipeline.yml", GROK_TASKS + "tests:" + PASSING + FAILING)
    report = tmp_path / "junit.xml"
    result = CliRunner().invoke(
        app, ["test", "--config", str(config), "--case", "a task line", "--junit", str(report), "-v"]
    )
    assert result.exit_code == 0, result.output
    assert f"PASS  {config}: a task line" in result.output
    assert report.is_file()
    result = CliRunner().invoke(app, ["test", "--config", str(config)])
    assert result.exit_code == 1
