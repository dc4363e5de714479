"""`streamstash import-logstash`: what it writes, what it reports, and its exit codes."""

from __future__ import annotations

import io
import os
from pathlib import Path

from typer.testing import CliRunner

from streamstash.cli import app
from streamstash.config import load_pipeline
from streamstash.logstash.command import EXIT_OK, EXIT_PARTIAL, EXIT_UNUSABLE, import_logstash_command

CLEAN = 'input { stdin { } }\nfilter {\n  mutate { add_tag => ["ok"] }\n}\n'
PARTIAL = (
    'filter {\n  mutate { add_tag => ["ok"] }\n  aggregate {\n    task_id => "%{id}"\n'
    "    code => \"map['n'] ||= 0\n      map['ids'].sort!\"\n  }\n}\n"
)


def run(tmp_path: Path, text: str, allow_partial: bool = False, to_file: bool = True) -> tuple[int, str, str, str]:
    source = tmp_path / "logstash.conf"
    source.write_text(text, encoding="utf-8")
    target = tmp_path / "pipeline.yml" if to_file else None
    out, err = io.StringIO(), io.StringIO()
    code = import_logstash_command(source, target, allow_partial, stdout=out, stderr=err)
    written = target.read_text(encoding="utf-8") if target is not None and target.exists() else out.getvalue()
    return code, written, err.getvalue(), str(source)


def test_a_clean_translation_exits_0_and_loads(tmp_path: Path) -> None:
    code, _written, errors, _ = run(tmp_path, CLEAN)
    assert code == EXIT_OK, errors
    config = load_pipeline(tmp_path / "pipeline.yml", env={})
    assert [entry.kind for entry in config.filters] == ["mutate"] and config.inputs[0].type == "stdin"
    assert "0 untranslated spot(s)" in errors


def test_without_output_the_pipeline_goes_to_stdout(tmp_path: Path) -> None:
    code, written, errors, _ = run(tmp_path, CLEAN, to_file=False)
    assert code == EXIT_OK and written.startswith("# Translated from") and "filters:" in written
    assert "-> stdout" in errors


def test_untranslated_spots_exit_1_unless_partial_is_allowed(tmp_path: Path) -> None:
    code, written, errors, source = run(tmp_path, PARTIAL)
    assert code == EXIT_PARTIAL
    assert f"{source}:6: untranslated: filter aggregate:" in errors
    assert "map['ids'].sort!" in errors
    # The file is written all the same, the spot marked with its place and its Ruby.
    assert f"# UNTRANSLATED {source}:6 filter aggregate:" in written
    assert "#   map['ids'].sort!" in written
    assert [entry.kind for entry in load_pipeline(tmp_path / "pipeline.yml", env={}).filters] == ["mutate"]
    code, _, _, _ = run(tmp_path, PARTIAL, allow_partial=True)
    assert code == EXIT_OK


def test_a_file_that_is_not_logstash_exits_2_and_writes_nothing(tmp_path: Path) -> None:
    code, written, errors, source = run(tmp_path, "filter {\n  grok {\n    match =>\n  }\n}\n")
    assert code == EXIT_UNUSABLE and written == ""
    assert errors.startswith(f"{source}:4:")
    missing = import_logstash_command(tmp_path / "nope.conf", None, False, stdout=io.StringIO(), stderr=io.StringIO())
    assert missing == EXIT_UNUSABLE


def test_the_cli_command(tmp_path: Path) -> None:
    source = tmp_path / "logstash.conf"
    source.write_text(PARTIAL, encoding="utf-8")
    target = tmp_path / "out.yml"
    runner = CliRunner()
    result = runner.invoke(app, ["import-logstash", str(source), "-o", str(target)], env=dict(os.environ))
    assert result.exit_code == EXIT_PARTIAL and target.is_file()
    result = runner.invoke(
        app, ["import-logstash", str(source), "-o", str(target), "--allow-partial"], env=dict(os.environ)
    )
    assert result.exit_code == EXIT_OK
    checked = runner.invoke(app, ["check", "--config", str(target)], env=dict(os.environ))
    assert checked.exit_code == 0, checked.output
