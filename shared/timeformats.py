"""Timestamp parsing and formatting: ISO 8601, UNIX, UNIX_MS, HTTPDATE and Joda-style patterns."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from datetime import datetime, timezone, tzinfo
from zoneinfo import ZoneInfo

# Joda/Logstash tokens -> strftime; longest first so `MMMM` wins over `MM`.
_JODA_TOKENS = [
    ("yyyy", "%Y"), ("YYYY", "%Y"), ("yy", "%y"), ("YY", "%y"),
    ("MMMM", "%B"), ("MMM", "%b"), ("MM", "%m"), ("M", "%m"),
    ("dd", "%d"), ("d", "%d"), ("HH", "%H"), ("H", "%H"), ("hh", "%I"), ("h", "%I"),
    ("mm", "%M"), ("m", "%M"), ("ss", "%S"), ("s", "%S"),
    ("SSSSSS", "%f"), ("SSS", "%f"), ("SS", "%f"), ("S", "%f"),
    ("EEEE", "%A"), ("EEE", "%a"), ("a", "%p"), ("ZZZ", "%Z"), ("ZZ", "%z"), ("Z", "%z"), ("z", "%Z"),
]
_JODA_SPLIT = re.compile("|".join(re.escape(token) for token, _ in _JODA_TOKENS) + r"|'[^']*'|.", re.S)
_JODA_MAP = dict(_JODA_TOKENS)

NAMED_FORMATS = {"HTTPDATE": "dd/MMM/yyyy:HH:mm:ss Z"}


@functools.lru_cache(maxsize=256)
def joda_to_strftime(pattern: str) -> str:
    pattern = NAMED_FORMATS.get(pattern, pattern)
    out = []
    for token in _JODA_SPLIT.findall(pattern):
        if token in _JODA_MAP:
            out.append(_JODA_MAP[token])
        elif token.startswith("'") and token.endswith("'") and len(token) >= 2:
            out.append(token[1:-1].replace("%", "%%") or "'")
        else:
            out.append(token.replace("%", "%%"))
    return "".join(out)


def format_iso8601(moment: datetime) -> str:
    """UTC, millisecond precision, `Z` suffix: the one form `@timestamp` takes."""
    moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@functools.lru_cache(maxsize=8192)
def parse_iso8601_local(text: str) -> datetime | None:
    """ISO 8601 as written: aware if the text carries an offset, naive if not."""
    try:
        return datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
    except ValueError:
        return None


def parse_iso8601(text: str) -> datetime | None:
    """ISO 8601 as an aware datetime; a stamp without offset is taken as UTC."""
    moment = parse_iso8601_local(text)
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment


def make_parser(fmt: str, zone: tzinfo) -> Callable[[str], datetime | None]:
    """A function turning a string in ``fmt`` into an aware datetime, or None if it does not fit."""
    if fmt == "ISO8601":
        def parse(text: str) -> datetime | None:
            moment = parse_iso8601_local(text.strip())
            if moment is not None and moment.tzinfo is None:
                moment = moment.replace(tzinfo=zone)
            return moment
        return parse
    if fmt in ("UNIX", "UNIX_MS"):
        scale = 1000.0 if fmt == "UNIX_MS" else 1.0

        def parse_epoch(text: str) -> datetime | None:
            try:
                return datetime.fromtimestamp(float(text) / scale, tz=timezone.utc)
            except (ValueError, OverflowError, OSError):
                return None
        return parse_epoch
    strftime_format = joda_to_strftime(fmt)
    has_zone = "%z" in strftime_format or "%Z" in strftime_format

    def parse_pattern(text: str) -> datetime | None:
        try:
            moment = datetime.strptime(text, strftime_format)
        except ValueError:
            return None
        if moment.year == 1900 and "%Y" not in strftime_format and "%y" not in strftime_format:
            moment = moment.replace(year=datetime.now(timezone.utc).year)  # syslog-style stamps have no year
        if not has_zone or moment.tzinfo is None:
            moment = moment.replace(tzinfo=zone)
        return moment
    return parse_pattern


def zone_named(name: str) -> tzinfo:
    return timezone.utc if name.upper() in ("UTC", "Z", "GMT") else ZoneInfo(name)

