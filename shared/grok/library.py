"""Pattern libraries in Logstash's file format: `NAME regex` per line, `#` comment lines, blank lines."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from pathlib import Path

from streamstash.grok.errors import GrokError

#: The pattern files shipped with streamstash (after logstash-patterns-core's legacy set).
BUILTIN_PATTERNS_DIR = Path(__file__).resolve().parent / "patterns"

# Logstash splits a line at the first run of whitespace; a name is letters, digits and `_`.
_DEFINITION = re.compile(r"([A-Za-z0-9_]+)\s+(.*)")


def parse_pattern_text(text: str, source: str = "<string>") -> dict[str, str]:
    """Definitions in one pattern file's text; a later definition of a name replaces an earlier one."""
    patterns: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip("\r\n")
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = _DEFINITION.fullmatch(line.lstrip())
        if match is None or not match.group(2).strip():
            raise GrokError(f"{source}:{number}: expected 'NAME regex', got {line!r}")
        patterns[match.group(1)] = match.group(2)
    return patterns


def read_pattern_file(path: Path | str) -> dict[str, str]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise GrokError(f"cannot read pattern file {path}: {exc.strerror or exc}") from exc
    return parse_pattern_text(text, str(path))


def read_pattern_dir(directory: Path | str) -> dict[str, str]:
    """Every regular file of the directory (not recursive), in name order; like Logstash's `patterns_dir`."""
    directory = Path(directory)
    if not directory.is_dir():
        raise GrokError(f"pattern directory {directory} does not exist or is not a directory")
    patterns: dict[str, str] = {}
    for path in sorted(directory.iterdir()):
        if path.is_file() and not path.name.startswith("."):
            patterns.update(read_pattern_file(path))
    return patterns


@functools.lru_cache(maxsize=1)
def _builtin_patterns() -> tuple[tuple[str, str], ...]:
    return tuple(read_pattern_dir(BUILTIN_PATTERNS_DIR).items())


def builtin_patterns() -> dict[str, str]:
    """A fresh copy of the built-in library (read from disk once per process)."""
    return dict(_builtin_patterns())


def load_pattern_library(
    extra_dirs: Iterable[Path | str] = (),
    extra_files: Iterable[Path | str] = (),
    definitions: dict[str, str] | None = None,
) -> dict[str, str]:
    """The built-in patterns, then the extra directories, files and definitions in that order (later ones win)."""
    patterns = builtin_patterns()
    for directory in extra_dirs:
        patterns.update(read_pattern_dir(directory))
    for path in extra_files:
        patterns.update(read_pattern_file(path))
    if definitions:
        patterns.update(definitions)
    return patterns
