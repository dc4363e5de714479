"""`make test` runs `streamstash test` on every shipped example pipeline: each carries cases, and they pass."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from streamstash.cli import app
from streamstash.config import load_pipeline

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
PIPELINES = sorted(path.name for path in EXAMPLES.glob("*.yml"))
# Variables the examples read that change what their cases expect (AGGREGATE_EVERY: tasks.yml's N).
UNSET = ("AGGREGATE_EVERY",)


def test_the_examples_are_found() -> None:
    assert {"tutorial.yml", "tasks.yml"} <= set(PIPELINES)


@pytest.mark.parametrize("name", PIPELINES)
def test_streamstash_test_passes_on_the_example(name: str) -> None:
    path = EXAMPLES / name
    environment = {key: value for key, value in os.environ.items() if key not in UNSET}
    cases = len(load_pipeline(path, env=environment).tests.cases)
    assert cases >= 4, f"{name} should show its pipeline with test cases"
    result = CliRunner().invoke(
        app, ["test", "--config", str(path)], env={**dict.fromkeys(UNSET)}, catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert re.search(rf"^{cases} cases: {cases} passed, 0 failed$", result.output, re.MULTILINE), result.output
