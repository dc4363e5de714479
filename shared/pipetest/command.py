"""`streamstash test --config pipeline.yml [CASES...] [--lfv FILE|DIR] [--junit FILE]`, and the migration check of
`import-logstash --lfv-tests DIR`.

Exit codes: 0 every case passed; 1 a case failed (or could not run), or there was no case to run; 2 the
pipeline or a case file is invalid (the message names the file and the key).
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from streamstash.aggregation.routing import TaskRouter
from streamstash.config import ConfigError, PipelineConfig, load_pipeline, parse_pipeline
from streamstash.config.testcases import DEFAULT_RECEIVED_AT, PipelineTests
from streamstash.events.timeformats import parse_iso8601
from streamstash.filters import FilterChain
from streamstash.pipetest.cases import case_files, load_case_file, run_case
from streamstash.pipetest.lfv import LfvFile, lfv_files, load_lfv_file, run_lfv_file
from streamstash.pipetest.results import CaseResult, Summary, summarise, write_junit, write_report

EXIT_PASSED = 0
EXIT_FAILED = 1
EXIT_INVALID = 2


@dataclass
class Selection:
    """What to run: streamstash cases (by name pattern) and LFV files, with fields ignored everywhere."""

    patterns: Sequence[str] = ()
    ignore: Sequence[str] = ()
    lfv_received_at: str = DEFAULT_RECEIVED_AT

    def wants(self, name: str) -> bool:
        return not self.patterns or any(fnmatch.fnmatchcase(name, pattern) for pattern in self.patterns)


def run_pipeline_tests(
    config_path: Path,
    case_paths: Sequence[Path],
    lfv_paths: Sequence[Path],
    selection: Selection,
    junit: Path | None,
    verbose: bool,
    out: TextIO,
    err: TextIO,
) -> int:
    try:
        config = load_pipeline(config_path)
        chain = usable(config, str(config_path))
        suites: list[tuple[str, PipelineTests]] = []
        if config.tests.cases:
            suites.append((str(config_path), config.tests))
        suites.extend((str(path), load_case_file(path)) for path in _existing(case_files(case_paths)))
        lfvs = [(path, load_lfv_file(path)) for path in _existing(lfv_files(lfv_paths))]
        if parse_iso8601(selection.lfv_received_at) is None:
            raise ConfigError(f"--received-at {selection.lfv_received_at!r}: not an ISO 8601 time")
    except ConfigError as exc:
        print(str(exc), file=err)
        return EXIT_INVALID
    results: list[CaseResult] = []
    for suite, tests in suites:
        results.extend(
            run_case(config, suite, tests, case, selection.ignore, chain)
            for case in tests.cases
            if selection.wants(case.name)
        )
    for path, lfv in lfvs:
        results.extend(
            run_lfv_file(config, path, lfv, ignore=selection.ignore, received_at=selection.lfv_received_at, chain=chain)
        )
    if not results:
        where = "no `tests:` section, no case files" if not selection.patterns else "no case matches --case"
        print(f"{config_path}: nothing to test ({where}; LFV files: {len(lfvs)})", file=err)
        return EXIT_FAILED
    write_report(results, out, verbose)
    if junit is not None:
        write_junit(results, junit)
    return EXIT_PASSED if summarise(results).failed == 0 else EXIT_FAILED


def usable(config: PipelineConfig, source: str) -> FilterChain:
    """Compile the filters and aggregations, as `streamstash check` does, before any case runs."""
    try:
        chain = FilterChain(config.filters)
        TaskRouter(config.aggregations)
    except ValueError as exc:
        raise ConfigError(f"{source}: {exc}") from exc
    return chain


def _existing(paths: list[Path]) -> list[Path]:
    for path in paths:
        if not path.exists():
            raise ConfigError(f"{path}: no such file or directory")
    return paths


def migration_check(pipeline_text: str, source: str, lfv_paths: Sequence[Path], out: TextIO) -> Summary:
    """Run LFV files against a pipeline `import-logstash` just wrote; print the failures and "N of M".

    A file that cannot be read counts as one failed test, so M never leaves a file out.
    """
    results: list[CaseResult] = []
    try:
        config = parse_pipeline(pipeline_text, source=source, env=os.environ)
        chain = usable(config, source)
    except ConfigError as exc:
        print(f"cannot run the LFV tests against the translation: {exc}", file=out)
        return Summary(0, 1)
    paths = lfv_files(lfv_paths)
    loaded: list[tuple[Path, LfvFile]] = []
    for path in paths:
        try:
            loaded.append((path, load_lfv_file(path)))
        except ConfigError as exc:
            results.append(CaseResult(suite=str(path), name="(file)", error=str(exc)))
    for path, lfv in loaded:
        results.extend(run_lfv_file(config, path, lfv, chain=chain))
    if results:
        write_report(results, out)
    summary = summarise(results)
    print(
        f"the imported pipeline passes {summary.passed} of {summary.total} of your LFV test cases "
        f"({len(paths)} file{'s' if len(paths) != 1 else ''} in {', '.join(map(str, lfv_paths))})",
        file=out,
    )
    return summary
