"""streamstash's own test cases: from a pipeline's `tests:` section or a file of them, each case run on its own."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from streamstash import names
from streamstash.config import ConfigError, PipelineConfig
from streamstash.config.loader import format_validation_error
from streamstash.config.testcases import PipelineTestCase, PipelineTests
from streamstash.events.envelope import Event, Source
from streamstash.events.timeformats import parse_iso8601
from streamstash.filters import FilterChain
from streamstash.pipetest.compare import compare_documents
from streamstash.pipetest.results import CaseResult
from streamstash.pipetest.runner import PipelineRun, Produced, at_end_rule, make_event

CASE_FILE_SUFFIXES = (".yml", ".yaml")


def load_case_file(path: Path) -> PipelineTests:
    """A file of test cases: the shape of the pipeline's `tests:` section (a list of cases, or the mapping)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the test cases: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text: {exc}") from exc
    try:
        tree: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if isinstance(tree, dict) and set(tree) == {"tests"}:
        tree = tree["tests"]  # a file that holds a `tests:` section cut out of a pipeline file
    try:
        return PipelineTests.model_validate(tree if tree is not None else [])
    except ValidationError as exc:
        raise ConfigError(f"{path}: invalid test cases:\n{format_validation_error(exc)}") from exc


def case_files(paths: Sequence[Path]) -> list[Path]:
    """The files named, and the YAML files in the directories named (sorted, not recursive)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(item for item in path.iterdir() if item.suffix in CASE_FILE_SUFFIXES))
        else:
            found.append(path)
    return found


def input_fields(config: PipelineConfig, case: PipelineTestCase) -> tuple[dict[str, Any], Source]:
    """The fields the case's input sets on every event, and the events' source."""
    chosen = case.input
    if chosen == "auto":
        chosen = 0 if len(config.inputs) == 1 else "none"
    if chosen == "none":
        return {}, Source(kind=names.SOURCE_STDIN)
    assert isinstance(chosen, int)
    if not 0 <= chosen < len(config.inputs):
        raise ValueError(f"input: {chosen} is not an input of the pipeline (it has {len(config.inputs)})")
    settings = config.inputs[chosen]
    return dict(settings.add_fields), Source(kind=settings.type)


def case_events(config: PipelineConfig, case: PipelineTestCase) -> list[Event]:
    """The events the collector would send for the case's lines (or events)."""
    fields, source = input_fields(config, case)
    fields.update(case.add_fields)
    if case.type is not None:
        fields.setdefault("type", case.type)  # Logstash: an input's type never replaces an event's own
    base = {**fields, names.FIELD_TIMESTAMP: case.received_at}
    if case.lines:
        return [make_event({**base, names.FIELD_MESSAGE: line}, source) for line in case.lines]
    return [make_event({**base, **given}, source) for given in case.events]


def run_case(
    config: PipelineConfig,
    suite: str,
    tests: PipelineTests,
    case: PipelineTestCase,
    ignore: Sequence[str],
    chain: FilterChain | None = None,
) -> CaseResult:
    """One case through a run of its own (``chain``: the pipeline's, built once for all cases)."""
    started = time.perf_counter()
    result = CaseResult(suite=suite, name=case.name, description=case.description)
    try:
        clock = parse_iso8601(case.received_at)
        assert clock is not None  # validated by the model
        run = PipelineRun(config, clock, seed=case.name, chain=chain)
        produced = run.feed(case_events(config, case))
        rule = at_end_rule(case.at_end)
        if rule is not None:
            produced.aggregates.extend(run.finish(rule))
    except Exception as exc:  # noqa: BLE001 - one case that cannot run must not hide the others' results
        result.error = str(exc) if isinstance(exc, ValueError) else f"{type(exc).__name__}: {exc}"
    else:
        result.problems = check(case, produced, case.match or tests.match, [*tests.ignore, *case.ignore, *ignore])
        if result.problems and produced.consumed and case.expect.documents != "any":
            result.notes.append(
                f"{produced.consumed} event(s) went only to aggregations (`index_events: false`): not documents"
            )
    result.seconds = time.perf_counter() - started
    return result


def check(case: PipelineTestCase, produced: Produced, mode: str, ignore: Sequence[str]) -> list[str]:
    expect = case.expect
    problems: list[str] = []
    for kind, wanted, got in (
        ("documents", expect.documents, produced.documents),
        ("aggregates", expect.aggregates, produced.aggregates),
        ("dead_letters", expect.dead_letters, produced.dead_letters),
    ):
        if wanted == "any":
            continue
        assert isinstance(wanted, list)
        problems.extend(compare_documents(kind, wanted, got, mode, ignore, case.ordered).problems)
    if expect.dropped != "any" and expect.dropped != produced.dropped:
        problems.append(f"dropped: expected {expect.dropped}, got {produced.dropped}")
    return problems
