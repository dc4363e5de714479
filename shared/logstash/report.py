"""What a translation could not do (or did differently), each finding with file, line and the source text."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, Literal

UNTRANSLATED: Final = "untranslated"
NOTE: Final = "note"
MARK = "UNTRANSLATED"

Severity = Literal["untranslated", "note"]


class Untranslatable(Exception):
    """Raised inside the translator for one spot; caught where the spot is marked and reported."""

    def __init__(self, message: str, line: int | None = None, snippet: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.snippet = snippet


@dataclass(slots=True)
class Finding:
    severity: Severity
    path: str
    line: int
    subject: str  # "filter grok", "aggregate code", "output elasticsearch option document_id", ...
    message: str
    snippet: str = ""

    def format(self) -> str:
        head = f"{self.path}:{self.line}: {self.severity}: {self.subject}: {self.message}"
        if not self.snippet:
            return head
        return head + "\n" + "\n".join(f"    {line}" for line in self.snippet.rstrip().split("\n"))

    def comment_lines(self) -> list[str]:
        """How the spot is marked in the pipeline file written."""
        label = MARK if self.severity == UNTRANSLATED else "NOTE"
        lines = [f"{label} {self.path}:{self.line} {self.subject}: {self.message}"]
        if self.snippet and self.severity == UNTRANSLATED:
            lines += [f"  {line}" for line in self.snippet.rstrip().split("\n")]
        return lines


@dataclass
class Report:
    path: str
    findings: list[Finding] = field(default_factory=list)

    def untranslated(self, line: int, subject: str, message: str, snippet: str = "") -> Finding:
        return self._add(UNTRANSLATED, line, subject, message, snippet)

    def note(self, line: int, subject: str, message: str, snippet: str = "") -> Finding:
        return self._add(NOTE, line, subject, message, snippet)

    def _add(self, severity: Severity, line: int, subject: str, message: str, snippet: str) -> Finding:
        finding = Finding(severity, self.path, line, subject, message, snippet)
        self.findings.append(finding)
        return finding

    @property
    def untranslated_spots(self) -> list[Finding]:
        return [finding for finding in self.findings if finding.severity == UNTRANSLATED]

    @property
    def notes(self) -> list[Finding]:
        return [finding for finding in self.findings if finding.severity == NOTE]

    def format(self) -> str:
        ordered = sorted(self.findings, key=lambda finding: (finding.line, finding.severity != UNTRANSLATED))
        return "\n".join(finding.format() for finding in ordered)
