"""Pattern libraries in Logstash's file format: `NAME regex` per line, `#` comment lines, blank lines.

Read the way Logstash's grok reads them (jls-grok's `add_patterns_from_file`): leading blanks are dropped, the
name ends at the first run of whitespace and the rest of the line, trailing blanks included, is the regex. A
line holding only a name defines an empty pattern when a line break or a blank follows the name, and is
skipped when it is the file's last line with nothing after it.
"""

from __future__ import annotations

import functools
import glob
import logging
import re
from collections.abc import Iterable
from pathlib import Path

from streamstash.grok.errors import GrokError

log = logging.getLogger(__name__)

#: The pattern files shipped with streamstash (after logstash-patterns-core's legacy set).
BUILTIN_PATTERNS_DIR = Path(__file__).resolve().parent / "patterns"

_SPLIT = re.compile(r"\s+")
_LINES = re.compile(r"[^\n]*\n|[^\n]+$")


def parse_pattern_text(text: str, source: str = "<string>") -> dict[str, str]:
    """Definitions in one pattern file's text; a later definition of a name replaces an earlier one."""
    patterns: dict[str, str] = {}
    for line in _LINES.findall(text):
        stripped = line.lstrip()
        if not stripped or stripped.startswith("#"):
            continue
        parts = _SPLIT.split(stripped, maxsplit=1)
        if len(parts) < 2 or not parts[0]:
            continue  # a name alone on the last line: Logstash has no pattern for it either
        patterns[parts[0]] = parts[1].removesuffix("\n").removesuffix("\r")
    return patterns


def read_pattern_file(path: Path | str) -> dict[str, str]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise GrokError(f"cannot read pattern file {path}: {exc.strerror or exc}") from exc
    return parse_pattern_text(text, str(path))


def read_pattern_dir(directory: Path | str) -> dict[str, str]:
    """Every regular file of the directory (not recursive), in name order."""
    directory = Path(directory)
    if not directory.is_dir():
        raise GrokError(f"pattern directory {directory} does not exist or is not a directory")
    patterns: dict[str, str] = {}
    for path in sorted(directory.iterdir()):
        if path.is_file() and not path.name.startswith("."):
            patterns.update(read_pattern_file(path))
    return patterns


def pattern_files(paths: Iterable[Path | str], files_glob: str = "*") -> list[Path]:
    """The files Logstash's `patterns_dir` names: a directory stands for its files matching `files_glob`
    (`patterns_files_glob`), anything else is a file or a glob; directories a glob finds are skipped, and a
    path that finds nothing is ignored (logged), as in Logstash."""
    found: list[Path] = []
    for entry in paths:
        text = str(entry)
        if Path(text).is_dir():
            text = str(Path(text) / files_glob)
        matches = sorted(glob.glob(text)) if glob.has_magic(text) else ([text] if Path(text).exists() else [])
        files = [Path(match) for match in matches if not Path(match).is_dir()]
        if not files:
            log.warning("grok patterns_dir finds no pattern file", extra={"path": str(entry), "glob": files_glob})
        found.extend(files)
    return found


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
    files_glob: str = "*",
) -> dict[str, str]:
    """The built-in patterns, then what `extra_dirs` finds (directories, files or globs, see `pattern_files`),
    the extra files and the definitions, in that order (later ones win)."""
    patterns = builtin_patterns()
    for found in pattern_files(extra_dirs, files_glob):
        patterns.update(read_pattern_file(found))
    for path in extra_files:
        patterns.update(read_pattern_file(path))
    if definitions:
        patterns.update(definitions)
    return patterns
