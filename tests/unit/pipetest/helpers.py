"""Pipelines and cases for the `streamstash test` tests, run in memory or through the command line."""

from __future__ import annotations

import io
from pathlib import Path

import yaml

from streamstash.config import PipelineConfig, parse_pipeline
from streamstash.config.testcases import PipelineTests
from streamstash.filters import FilterChain
from streamstash.pipetest.cases import run_case
from streamstash.pipetest.command import Selection, run_pipeline_tests
from streamstash.pipetest.results import CaseResult

GROK_TASKS = """
filters:
  - grok:
      match:
        message: ["%{TIMESTAMP_ISO8601:origtime} %{WORD:action}:%{WORD:progress} elapsed=%{INT:elapsed:int}"]
  - date:
      match: [origtime, ISO8601]
"""


def pipeline(text: str) -> PipelineConfig:
    return parse_pipeline(text, "pipeline.yml", env={})


def run_cases(config: PipelineConfig, cases: str) -> list[CaseResult]:
    """Cases (YAML, the shape of `tests:`) run against ``config``, each on its own, on one chain as the command does."""
    tests = PipelineTests.model_validate(yaml.safe_load(cases))
    chain = FilterChain(config.filters)
    return [run_case(config, "cases.yml", tests, case, (), chain) for case in tests.cases]


def run_command(
    config: Path,
    *cases: Path,
    lfv: list[Path] | None = None,
    selection: Selection | None = None,
    junit: Path | None = None,
) -> tuple[int, str, str]:
    """`streamstash test`: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    code = run_pipeline_tests(config, list(cases), lfv or [], selection or Selection(), junit, False, out, err)
    return code, out.getvalue(), err.getvalue()
