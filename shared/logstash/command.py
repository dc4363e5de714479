"""`streamstash import-logstash logstash.conf [-o pipeline.yml] [--allow-partial]`.

Exit codes: 0 translated (notes may list behaviours that differ); 1 some spots could not be translated
(they are marked in the file written) and `--allow-partial` was not given, or with `--lfv-tests` not every
logstash-filter-verifier test case passes against the translation; 2 the Logstash file cannot be read or
parsed, or the result does not load (a translator bug, reported as such).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from streamstash.config import ConfigError, parse_pipeline
from streamstash.logstash.emit import render_yaml
from streamstash.logstash.parser import LogstashSyntaxError, parse_file
from streamstash.logstash.translator import Translation, translate

EXIT_OK = 0
EXIT_PARTIAL = 1
EXIT_UNUSABLE = 2


def import_logstash_command(
    path: Path,
    output: Path | None,
    allow_partial: bool,
    *,
    support_escapes: bool = False,
    lfv_tests: Path | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    try:
        pipeline = parse_file(path, support_escapes=support_escapes)
    except OSError as exc:
        print(f"{path}: cannot read: {exc.strerror or exc}", file=stderr)
        return EXIT_UNUSABLE
    except UnicodeDecodeError as exc:
        print(f"{path}: not UTF-8 text: {exc}", file=stderr)
        return EXIT_UNUSABLE
    except LogstashSyntaxError as exc:
        print(str(exc), file=stderr)
        return EXIT_UNUSABLE
    translation = translate(pipeline)
    text = render_yaml(translation)
    problem, stood_in = validate(text, translation)
    if problem is not None and not stood_in:
        print(
            f"{path}: the translation does not load (a bug in import-logstash, please report it):\n{problem}",
            file=stderr,
        )
        return EXIT_UNUSABLE
    if problem is not None:
        print(
            f"{path}: could not check the translation without {', '.join(sorted(stood_in))} set: {problem}", file=stderr
        )
    if output is None:
        stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
    report = translation.report
    if report.findings:
        print(report.format(), file=stderr)
    untranslated = len(report.untranslated_spots)
    target = str(output) if output is not None else "stdout"
    print(f"{path} -> {target}: {untranslated} untranslated spot(s), {len(report.notes)} note(s)", file=stderr)
    code = EXIT_OK
    if lfv_tests is not None:
        from streamstash.pipetest.command import migration_check

        if migration_check(text, f"translation of {path}", [lfv_tests], stderr).failed:
            code = EXIT_PARTIAL
    if untranslated and not allow_partial:
        print(
            "some of the pipeline is not translated (marked UNTRANSLATED in the output); fix those spots or "
            "pass --allow-partial",
            file=stderr,
        )
        code = EXIT_PARTIAL
    return code


def validate(text: str, translation: Translation) -> tuple[str | None, set[str]]:
    """Load the written pipeline as `streamstash check` would: (the problem or None, variables stood in for).

    A variable the environment lacks is only needed when the pipeline runs; here it reads as "1" (valid as
    a count, a port or a name), and a failure that may come from that is not blamed on the translation."""
    from streamstash.aggregation.routing import TaskRouter
    from streamstash.filters import FilterChain
    from streamstash.filters.base import FilterResourceError

    environment = _StandIns(os.environ)
    try:
        config = parse_pipeline(text, source=f"translation of {translation.path}", env=environment)
        FilterChain(config.filters)
        TaskRouter(config.aggregations)
    except FilterResourceError as exc:  # a database or dictionary of the Logstash host, not here
        return str(exc), {*environment.stood_in, exc.resource}
    except (ConfigError, ValueError) as exc:
        return str(exc), environment.stood_in
    return None, environment.stood_in


class _StandIns(dict):  # get() answers for keys it does not hold
    def __init__(self, environ: Mapping[str, str]) -> None:
        super().__init__(environ)
        self.stood_in: set[str] = set()

    def get(self, key: str, default: object = None) -> object:
        if key not in self:
            self.stood_in.add(key)
            return "1"
        return super().get(key)
