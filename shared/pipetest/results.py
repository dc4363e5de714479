"""Results of test cases: the text report (a field-by-field diff per failing case) and JUnit XML for CI."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO
from xml.etree import ElementTree


@dataclass
class CaseResult:
    suite: str  # where the case is written: a file, or a file's `tests:` section
    name: str
    problems: list[str] = field(default_factory=list)
    error: str | None = None  # the case could not run at all
    notes: list[str] = field(default_factory=list)  # what was left out or approximated, shown when it fails
    description: str = ""
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return self.error is None and not self.problems


@dataclass
class Summary:
    passed: int
    failed: int

    @property
    def total(self) -> int:
        return self.passed + self.failed


def summarise(results: Sequence[CaseResult]) -> Summary:
    passed = sum(1 for result in results if result.passed)
    return Summary(passed, len(results) - passed)


def write_report(results: Sequence[CaseResult], out: TextIO, verbose: bool = False) -> None:
    """Every failing case with what differs; with ``verbose`` the passing ones too; then one line per suite."""
    for result in results:
        if result.passed:
            if verbose:
                print(f"PASS  {result.suite}: {result.name}", file=out)
            continue
        print(f"FAIL  {result.suite}: {result.name}", file=out)
        if result.description:
            print(f"      {result.description}", file=out)
        if result.error is not None:
            print(f"      error: {result.error}", file=out)
        for line in result.problems:
            print(f"      {line}", file=out)
        for note in result.notes:
            print(f"      note: {note}", file=out)
    suites: dict[str, list[CaseResult]] = {}
    for result in results:
        suites.setdefault(result.suite, []).append(result)
    for suite, members in suites.items():
        summary = summarise(members)
        print(f"{suite}: {summary.passed} of {summary.total} passed", file=out)
    total = summarise(results)
    print(
        f"{total.total} case{'s' if total.total != 1 else ''}: {total.passed} passed, {total.failed} failed", file=out
    )


def write_junit(results: Sequence[CaseResult], path: Path) -> None:
    """JUnit XML (the Ant schema that Jenkins, GitLab and GitHub reporters read): one testsuite per file."""
    suites: dict[str, list[CaseResult]] = {}
    for result in results:
        suites.setdefault(result.suite, []).append(result)
    total = summarise(results)
    root = ElementTree.Element(
        "testsuites",
        name="streamstash test",
        tests=str(total.total),
        failures=str(sum(1 for r in results if r.error is None and r.problems)),
        errors=str(sum(1 for r in results if r.error is not None)),
        time=f"{sum(r.seconds for r in results):.3f}",
    )
    for suite, members in suites.items():
        element = ElementTree.SubElement(
            root,
            "testsuite",
            name=suite,
            tests=str(len(members)),
            failures=str(sum(1 for r in members if r.error is None and r.problems)),
            errors=str(sum(1 for r in members if r.error is not None)),
            skipped="0",
            time=f"{sum(r.seconds for r in members):.3f}",
        )
        for result in members:
            case = ElementTree.SubElement(
                element, "testcase", classname=suite, name=result.name, time=f"{result.seconds:.3f}"
            )
            details = "\n".join([*result.problems, *(f"note: {note}" for note in result.notes)])
            if result.error is not None:
                error = ElementTree.SubElement(case, "error", message=result.error)
                error.text = details or result.error
            elif result.problems:
                failure = ElementTree.SubElement(case, "failure", message=result.problems[0].strip())
                failure.text = details
    tree = ElementTree.ElementTree(root)
    ElementTree.indent(tree)
    path.parent.mkdir(parents=True, exist_ok=True)
    tree.write(path, encoding="utf-8", xml_declaration=True)
