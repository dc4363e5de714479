"""`streamstash grok`: match lines against grok patterns and print one JSON object per line."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

import orjson

from streamstash import names
from streamstash.grok.engine import Grok
from streamstash.grok.errors import GrokError

EXIT_OK = 0
EXIT_BAD_PATTERN = 2

_FAILURE = orjson.dumps({"tags": [names.TAG_GROK_FAILURE]}).decode()
_TIMEOUT = orjson.dumps({"tags": [names.TAG_GROK_TIMEOUT]}).decode()


def run_grok(
    patterns: list[str],
    pattern_dirs: list[Path],
    lines: Iterable[str],
    out: TextIO,
    err: TextIO | None = None,
    timeout_ms: float = 1000.0,
) -> int:
    """Each input line (without its line break) -> the captured fields as JSON, or the failure/timeout tag.

    Returns 0, or 2 with a message on `err` (stderr) when a pattern names an unknown pattern or does not compile.
    """
    err = sys.stderr if err is None else err
    try:
        grok = Grok(patterns, pattern_dirs=pattern_dirs, timeout_ms=timeout_ms)
    except GrokError as exc:
        print(f"error: {exc}", file=err)
        return EXIT_BAD_PATTERN
    write = out.write
    for line in lines:
        result = grok.match(line.rstrip("\r\n"))
        if result.matched:
            write(orjson.dumps(result.fields, option=orjson.OPT_NON_STR_KEYS).decode())
        else:
            write(_TIMEOUT if result.timed_out else _FAILURE)
        write("\n")
    return EXIT_OK
