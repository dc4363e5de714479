"""logstash-filter-verifier files run unchanged against what `import-logstash` makes of their Logstash pipeline.

The files under tests/lfv/ are written by hand in LFV's documented format (see tests/lfv/README.md).
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest
import yaml

from streamstash.config import ConfigError
from streamstash.logstash.command import import_logstash_command
from streamstash.pipetest.command import EXIT_FAILED, EXIT_PASSED
from streamstash.pipetest.lfv import lfv_files, load_lfv_file
from tests.unit.pipetest.helpers import run_command

LFV = Path(__file__).resolve().parents[2] / "lfv"
PIPELINES = sorted(path.name for path in LFV.iterdir() if (path / "logstash.conf").is_file())


def imported(directory: Path, tmp_path: Path) -> Path:
    pipeline = tmp_path / "imported.yml"
    errors = io.StringIO()
    code = import_logstash_command(directory / "logstash.conf", pipeline, False, stdout=io.StringIO(), stderr=errors)
    assert code == 0, errors.getvalue()
    return pipeline


def count_testcases(directory: Path) -> int:
    return sum(len(load_lfv_file(path).testcases) for path in lfv_files([directory]))


def test_there_are_lfv_pipelines() -> None:
    assert {"syslog", "json_app", "clicks", "task_average"} <= set(PIPELINES)


@pytest.mark.parametrize("name", PIPELINES)
def test_lfv_files_pass_against_the_imported_pipeline(name: str, tmp_path: Path) -> None:
    cases = LFV / name / "cases"
    code, out, err = run_command(imported(LFV / name, tmp_path), lfv=[cases])
    assert code == EXIT_PASSED, out + err
    count = count_testcases(cases)
    assert count >= 2
    assert out.rstrip().endswith(f"{count} cases: {count} passed, 0 failed")


def broken_copy(tmp_path: Path, name: str, old: str, new: str) -> Path:
    """A copy of one pipeline's LFV files with one expected value changed."""
    copy = tmp_path / name
    shutil.copytree(LFV / name, copy)
    changed = False
    for path in (copy / "cases").iterdir():
        text = path.read_text(encoding="utf-8")
        if old in text:
            path.write_text(text.replace(old, new, 1), encoding="utf-8")
            changed = True
    assert changed
    return copy


def test_a_changed_expectation_fails_that_test_case_only(tmp_path: Path) -> None:
    copy = broken_copy(tmp_path, "task_average", '"elapsedAvg": 2000.0', '"elapsedAvg": 2500.0')
    code, out, _ = run_command(imported(copy, tmp_path), lfv=[copy / "cases"])
    assert code == EXIT_FAILED
    assert "every_three.json: testcases[1]" in out
    assert "elapsedAvg: expected 2500.0, got 2000.0" in out
    assert "every_three.json: 2 of 3 passed" in out


def test_aggregates_pushed_at_the_end_are_compared_without_bookkeeping(tmp_path: Path) -> None:
    copy = broken_copy(tmp_path, "clicks", '{user_id: "777", clicks: 2}', '{user_id: "777", clicks: 2, count: 9}')
    code, out, _ = run_command(imported(copy, tmp_path), lfv=[copy / "cases"])
    assert code == EXIT_FAILED
    # An expected event that names a bookkeeping field is compared with it.
    assert "count: expected 9, got 2" in out


def test_import_logstash_prints_how_many_lfv_cases_the_translation_passes(tmp_path: Path) -> None:
    errors = io.StringIO()
    code = import_logstash_command(
        LFV / "syslog" / "logstash.conf",
        tmp_path / "out.yml",
        False,
        lfv_tests=LFV / "syslog" / "cases",
        stdout=io.StringIO(),
        stderr=errors,
    )
    assert code == 0, errors.getvalue()
    assert "the imported pipeline passes 5 of 5 of your LFV test cases (2 files in" in errors.getvalue()

    copy = broken_copy(tmp_path, "syslog", "pid: 31993", 'pid: "31993"')
    (copy / "cases" / "unreadable.json").write_text("{not json", encoding="utf-8")
    errors = io.StringIO()
    code = import_logstash_command(
        copy / "logstash.conf",
        tmp_path / "out.yml",
        False,
        lfv_tests=copy / "cases",
        stdout=io.StringIO(),
        stderr=errors,
    )
    report = errors.getvalue()
    assert code == 1
    assert 'pid: expected "31993", got 31993' in report
    assert "unreadable.json: not valid JSON" in report
    assert "the imported pipeline passes 4 of 6 of your LFV test cases (3 files in" in report


PIPELINE = "filters:\n  - mutate: {add_tag: [seen]}\n"


def lfv_file(tmp_path: Path, content: dict, suffix: str = ".yml") -> Path:
    path = tmp_path / f"case{suffix}"
    path.write_text(json.dumps(content) if suffix == ".json" else yaml.safe_dump(content), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("content", "error"),
    [
        ({"input": ["a"], "expected": [{}]}, 'deprecated "input" key'),
        ({"codec": "multiline { pattern => x }", "testcases": []}, "codec 'multiline { pattern => x }'"),
        ({"fields": {"a": [{"b": 1}]}, "testcases": []}, "objects within arrays"),
        ({"fields": None, "testcases": []}, 'Fields must not be "null"'),
        ({"testcases": [{"input": "not a list"}]}, "testcases.0.input"),
    ],
)
def test_lfv_files_lfv_refuses_are_refused(tmp_path: Path, content: dict, error: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_lfv_file(lfv_file(tmp_path, content))
    assert str(caught.value).startswith(str(tmp_path / "case.yml"))
    assert error in str(caught.value)


def test_an_lfv_file_is_json_or_yaml_by_its_extension(tmp_path: Path) -> None:
    path = tmp_path / "case.txt"
    path.write_text("{}", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\.json, \.yaml or \.yml"):
        load_lfv_file(path)


def test_a_test_case_without_input_is_one_event_of_its_fields(tmp_path: Path) -> None:
    config = tmp_path / "pipeline.yml"
    config.write_text(PIPELINE, encoding="utf-8")
    content = {
        "fields": {"type": "beat", "[fields][env]": "prod"},
        "ignore": ["@timestamp"],
        "testcases": [{"expected": [{"type": "beat", "fields": {"env": "prod"}, "tags": ["seen"]}]}],
    }
    code, out, _ = run_command(config, lfv=[lfv_file(tmp_path, content, ".json")])
    assert code == EXIT_PASSED, out


def test_unknown_keys_are_ignored_as_lfv_does_and_noted_on_failure(tmp_path: Path) -> None:
    config = tmp_path / "pipeline.yml"
    config.write_text(PIPELINE, encoding="utf-8")
    content = {
        "sorting": "x",
        "ignore": ["@timestamp"],
        "testcases": [{"input": ["a"], "expected": [{"message": "a"}]}],
    }
    code, out, _ = run_command(config, lfv=[lfv_file(tmp_path, content)])
    assert code == EXIT_FAILED
    assert 'tags: not expected, got ["seen"]' in out
    assert "note: unknown keys ignored (as LFV does): sorting" in out


def test_the_json_codec_is_left_to_a_pipeline_that_decodes_json_itself(tmp_path: Path) -> None:
    """import-logstash turns an input's json codec into a leading json filter; the line is not decoded twice
    (decoded twice, the object's `message` would be parsed as JSON again and tagged `_jsonparsefailure`)."""
    content = {
        "codec": "json_lines",
        "ignore": ["@timestamp"],
        "testcases": [
            {"input": ['{"message": "hello", "user": "ann"}'], "expected": [{"message": "hello", "user": "ann"}]}
        ],
    }
    for pipeline in ("filters:\n  - json: {source: message}\n", "filters: []\n"):
        config = tmp_path / "pipeline.yml"
        config.write_text(pipeline, encoding="utf-8")
        code, out, _ = run_command(config, lfv=[lfv_file(tmp_path, content)])
        assert code == EXIT_PASSED, (pipeline, out)


def test_an_event_sent_to_the_dead_letter_queue_fails_the_test_case(tmp_path: Path) -> None:
    """Logstash would emit the event tagged; a streamstash grok that dead-letters it does not."""
    config = tmp_path / "pipeline.yml"
    config.write_text("filters:\n  - grok: {match: {message: ['%{INT:n}']}}\n", encoding="utf-8")
    content = {
        "ignore": ["@timestamp"],
        "testcases": [{"input": ["x"], "expected": [{"message": "x", "tags": ["_grokparsefailure"]}]}],
    }
    code, out, _ = run_command(config, lfv=[lfv_file(tmp_path, content)])
    assert code == EXIT_FAILED
    assert "went to the dead-letter queue, not to the output (grok: no pattern matched field 'message')" in out
