"""Timestamp parsing and formatting: ISO8601, UNIX, UNIX_MS, TAI64N, HTTPDATE, Joda-style and strftime formats.

How the date filter reads a format (Logstash's names, plus Python's strftime):

* ``ISO8601``, ``UNIX`` (seconds, fractions allowed), ``UNIX_MS``, ``TAI64N`` and ``HTTPDATE`` (an alias of
  ``dd/MMM/yyyy:HH:mm:ss Z``) are named formats.
* A format containing ``%`` is a Python strptime format (``%d/%b/%Y:%H:%M:%S %z``): Joda patterns never
  need a ``%``, so the two cannot be confused.
* Anything else is a Joda pattern (``MMM dd HH:mm:ss``, ``yyyy-MM-dd HH:mm:ss,SSS``). Joda patterns are
  compiled to a regular expression of our own rather than translated to strptime, because strptime cannot
  read nanosecond fractions (``SSSSSSSSS``) or zone ids (``ZZZ``). Like Joda, a pattern must match the whole
  text, month and day names are read case-insensitively, and a numeric field accepts fewer digits than
  letters unless it touches another numeric field (``yyyyMMdd``). One liberty: a run of spaces in the
  pattern accepts any run of whitespace, so ``MMM d`` also reads syslog's padded ``Nov  5``.

Formats without a year (syslog's ``MMM dd HH:mm:ss``) take the current year, except that a December stamp
read in January belongs to last year and a January stamp read in December to next year (Logstash's rule).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

Parser = Callable[[str], datetime | None]

NAMED_FORMATS = {"HTTPDATE": "dd/MMM/yyyy:HH:mm:ss Z"}


_pinned_now: ContextVar[datetime | None] = ContextVar("streamstash_pinned_now", default=None)


def utc_now() -> datetime:
    """The clock yearless formats guess the year from (a module function so a test can pin it)."""
    pinned = _pinned_now.get()
    return datetime.now(UTC) if pinned is None else pinned


@contextmanager
def pinned_clock(moment: datetime) -> Iterator[None]:
    """Within the block, `utc_now` is ``moment``: `streamstash test` reads yearless stamps the same way every year."""
    token = _pinned_now.set(moment)
    try:
        yield
    finally:
        _pinned_now.reset(token)


# ---------------------------------------------------------------------------------------------------------
# Formatting (templates such as `%{+YYYY.MM.dd}`): Joda tokens -> strftime; longest first so `MMMM` wins.
_JODA_TOKENS = [
    ("yyyy", "%Y"),
    ("YYYY", "%Y"),
    ("yy", "%y"),
    ("YY", "%y"),
    ("MMMM", "%B"),
    ("MMM", "%b"),
    ("MM", "%m"),
    ("M", "%m"),
    ("dd", "%d"),
    ("d", "%d"),
    ("DDD", "%j"),
    ("HH", "%H"),
    ("H", "%H"),
    ("hh", "%I"),
    ("h", "%I"),
    ("mm", "%M"),
    ("m", "%M"),
    ("ss", "%S"),
    ("s", "%S"),
    ("SSSSSS", "%f"),
    ("SSS", "%f"),
    ("SS", "%f"),
    ("S", "%f"),
    ("EEEE", "%A"),
    ("EEE", "%a"),
    ("a", "%p"),
    ("ZZZ", "%Z"),
    ("ZZ", "%z"),
    ("Z", "%z"),
    ("z", "%Z"),
]
_JODA_SPLIT = re.compile("|".join(re.escape(token) for token, _ in _JODA_TOKENS) + r"|'[^']*'|.", re.DOTALL)
_JODA_MAP = dict(_JODA_TOKENS)


@functools.lru_cache(maxsize=256)
def joda_to_strftime(pattern: str) -> str:
    """A strftime format printing ``pattern`` (approximately: `SSS` prints microseconds); for output only."""
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
    moment = moment.astimezone(UTC)
    if moment.year < 1000:  # strftime's own (unpadded) year, as before
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    # %-formatting costs half an f-string with format specs (and isoformat with timespec), a third of strftime.
    return "%d-%02d-%02dT%02d:%02d:%02d.%03dZ" % (  # noqa: UP031
        moment.year,
        moment.month,
        moment.day,
        moment.hour,
        moment.minute,
        moment.second,
        moment.microsecond // 1000,
    )


# ---------------------------------------------------------------------------------------------------------
# ISO 8601, epoch and TAI64N.


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
        moment = moment.replace(tzinfo=UTC)
    return moment


_EPOCH = re.compile(r"\s*(-?)(\d{1,15})(?:\.(\d{1,9}))?\s*")
_UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# TAI64N labels count from 2**62; Logstash also takes off the 10 s TAI was ahead of UTC in 1970.
_TAI64N = re.compile(r"@?([0-9a-fA-F]{16})([0-9a-fA-F]{8})")
_TAI64_BASE = 2**62 + 10


def _epoch_parser(scale_digits: int) -> Parser:
    """Seconds (scale 0) or milliseconds (scale 3) since 1970, read exactly (no float rounding)."""

    def parse(text: str) -> datetime | None:
        match = _EPOCH.fullmatch(text)
        if match is None:
            return None
        sign, whole, fraction = match.groups()
        digits = whole + (fraction or "")
        # The value in units of 10**-(scale_digits + len(fraction)) seconds, as exact microseconds.
        exponent = 6 - scale_digits - len(fraction or "")
        micros = int(digits) * 10**exponent if exponent >= 0 else int(digits) // 10**-exponent
        try:
            return _UNIX_EPOCH + timedelta(microseconds=-micros if sign else micros)
        except OverflowError:
            return None

    return parse


def _parse_tai64n(text: str) -> datetime | None:
    match = _TAI64N.fullmatch(text.strip())
    if match is None:
        return None
    seconds = int(match.group(1), 16) - _TAI64_BASE
    nanos = int(match.group(2), 16)
    if nanos >= 1_000_000_000:
        return None
    try:
        return _UNIX_EPOCH + timedelta(seconds=seconds, microseconds=nanos // 1000)
    except OverflowError:
        return None


# ---------------------------------------------------------------------------------------------------------
# Joda patterns.


class FormatError(ValueError):
    """A date format that cannot be used; raised when the pipeline is loaded, not per event."""


_MONTHS = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]
_MONTH_NUMBER = (
    {name: index + 1 for index, name in enumerate(_MONTHS)}
    | {name[:3]: index + 1 for index, name in enumerate(_MONTHS)}
    | {"sept": 9}
)
_DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_DAY_NAMES = set(_DAYS) | {name[:3] for name in _DAYS}

# Pattern letter -> (field kind, most digits it reads when free-standing); None for text fields.
_NUMERIC = {
    "y": ("year", 4),
    "Y": ("year", 4),
    "u": ("year", 4),
    "M": ("month", 2),
    "d": ("day", 2),
    "D": ("dayofyear", 3),
    "H": ("hour", 2),
    "k": ("hour24", 2),
    "h": ("hour12", 2),
    "K": ("hour11", 2),
    "m": ("minute", 2),
    "s": ("second", 2),
    "S": ("fraction", 9),
    "e": ("weekday", 1),
}
_PATTERN_PIECE = re.compile(r"'(?:[^']|'')*'|([A-Za-z])\1*|\s+|.", re.DOTALL)
_OFFSET = r"Z|[+-]\d{2}(?::?\d{2})?"
_ZONE_ID = r"[A-Za-z][A-Za-z0-9_+\-]*(?:/[A-Za-z0-9_+\-]+)*"


@dataclass(frozen=True, slots=True)
class _Field:
    kind: str
    letters: int


def _pieces(pattern: str) -> list[str | _Field]:
    """The pattern as literals (str) and fields, in order."""
    pieces: list[str | _Field] = []
    for match in _PATTERN_PIECE.finditer(pattern):
        token = match.group(0)
        if token == "''":  # noqa: S105 - a Joda pattern token, not a secret
            pieces.append("'")
        elif token.startswith("'"):
            if len(token) < 2 or not token.endswith("'"):
                raise FormatError(f"date format {pattern!r}: unclosed quote")
            pieces.append(token[1:-1].replace("''", "'"))
        elif match.group(1):
            pieces.append(_field_for(pattern, token))
        else:
            pieces.append(token)
    return pieces


def _field_for(pattern: str, token: str) -> _Field:
    letter, count = token[0], len(token)
    if letter in _NUMERIC:
        kind = _NUMERIC[letter][0]
        if letter == "M" and count >= 3:
            kind = "monthname"
        elif kind == "year" and count == 2:
            kind = "year2"
        return _Field(kind, count)
    if letter == "E":
        return _Field("dayname", count)
    if letter == "a":
        return _Field("halfday", count)
    if letter == "Z":
        return _Field("zoneid" if count >= 3 else "offset", count)
    if letter == "z":
        raise FormatError(
            f"date format {pattern!r}: zone names (`z`) cannot be parsed (as in Joda); "
            "use `Z` for an offset or `ZZZ` for a zone id"
        )
    if letter == "G":
        return _Field("era", count)
    raise FormatError(f"date format {pattern!r}: unknown pattern letter {letter!r}; quote literal text like 'T'")


def _is_numeric(piece: str | _Field | None) -> bool:
    return isinstance(piece, _Field) and piece.kind in {kind for kind, _ in _NUMERIC.values()} | {"year2"}


def _regex_for(field: _Field, adjacent_numeric: bool) -> str:
    if field.kind == "year2":
        return r"(\d{2})"
    if field.kind in {kind for kind, _ in _NUMERIC.values()}:
        most = next(width for kind, width in _NUMERIC.values() if kind == field.kind)
        if adjacent_numeric:  # `yyyyMMdd`: with no separator, the letter count is the width
            return rf"(\d{{{field.letters}}})"
        return rf"(\d{{1,{max(most, field.letters)}}})"
    if field.kind in ("monthname", "dayname"):
        return r"([A-Za-z]{3,9})"
    if field.kind == "halfday":
        return r"([AaPp][Mm])"
    if field.kind == "offset":
        return rf"({_OFFSET})"
    if field.kind == "zoneid":
        return rf"({_ZONE_ID})"
    if field.kind == "era":
        return r"(AD|BC|ad|bc)"
    raise AssertionError(field.kind)


@dataclass(frozen=True, slots=True)
class JodaPattern:
    regex: re.Pattern[str]
    fields: tuple[_Field, ...]
    has_year: bool


@functools.lru_cache(maxsize=256)
def compile_joda(pattern: str) -> JodaPattern:
    pieces = _pieces(NAMED_FORMATS.get(pattern, pattern))
    parts: list[str] = []
    fields: list[_Field] = []
    for index, piece in enumerate(pieces):
        if isinstance(piece, _Field):
            following = pieces[index + 1] if index + 1 < len(pieces) else None
            parts.append(_regex_for(piece, _is_numeric(piece) and _is_numeric(following)))
            fields.append(piece)
        elif piece.isspace():
            parts.append(r"\s+")
        else:
            parts.append(re.escape(piece))
    if not fields:
        raise FormatError(f"date format {pattern!r} has no date or time field")
    kinds = {field.kind for field in fields}
    return JodaPattern(
        regex=re.compile("".join(parts)),
        fields=tuple(fields),
        has_year=bool(kinds & {"year", "year2"}),
    )


@functools.lru_cache(maxsize=512)
def _zone_for_id(name: str) -> tzinfo | None:
    if name.upper() in ("UTC", "Z", "GMT", "ETC/UTC"):
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


@functools.lru_cache(maxsize=256)  # a log writes the same few offsets on every line
def _offset_zone(text: str) -> tzinfo:
    if text == "Z":
        return UTC
    digits = text[1:].replace(":", "")
    minutes = int(digits[:2]) * 60 + (int(digits[2:4]) if len(digits) > 2 else 0)
    return timezone(timedelta(minutes=-minutes if text[0] == "-" else minutes))


def guess_year(month: int) -> int:
    """Logstash's year for a stamp without one: this year, but December seen in January is last year's."""
    now = utc_now()
    if month == 12 and now.month == 1:
        return now.year - 1
    if month == 1 and now.month == 12:
        return now.year + 1
    return now.year


def _two_digit_year(value: int) -> int:
    """Joda's pivot: the century that puts the year within 50 years of now."""
    current = utc_now().year
    year = current - current % 100 + value
    if year > current + 49:
        year -= 100
    elif year <= current - 50:
        year += 100
    return year


# A stamp being read: where each kind of field goes, and how its text is read (``_INVALID``: no such stamp).
_YEAR, _MONTH, _DAY, _HOUR, _MINUTE, _SECOND, _MICROS, _DAY_OF_YEAR, _PM, _HOUR12, _ZONE, _CHECKED = range(12)
_INVALID: Any = object()


def _month_by_name(raw: str) -> int:
    return _MONTH_NUMBER.get(raw.lower(), _INVALID)


def _day_name(raw: str) -> str:
    return raw if raw.lower() in _DAY_NAMES else _INVALID


def _zone_by_id(raw: str) -> tzinfo:
    return _zone_for_id(raw) or _INVALID


_READERS: dict[str, tuple[int, Callable[[str], Any]]] = {
    "year": (_YEAR, int),
    "year2": (_YEAR, lambda raw: _two_digit_year(int(raw))),
    "month": (_MONTH, int),
    "monthname": (_MONTH, _month_by_name),
    "day": (_DAY, int),
    "dayofyear": (_DAY_OF_YEAR, int),
    "hour": (_HOUR, int),
    "hour24": (_HOUR, lambda raw: int(raw) % 24),
    "hour12": (_HOUR12, lambda raw: int(raw) % 12),
    "hour11": (_HOUR12, lambda raw: int(raw) % 12),
    "minute": (_MINUTE, int),
    "second": (_SECOND, int),
    "fraction": (_MICROS, lambda raw: int((raw + "00000")[:6])),
    "weekday": (_CHECKED, str),  # matched, not used: the date says the day
    "dayname": (_CHECKED, _day_name),
    "era": (_CHECKED, str),
    "halfday": (_PM, lambda raw: raw.lower() == "pm"),
    "offset": (_ZONE, _offset_zone),
    "zoneid": (_ZONE, _zone_by_id),
}


def _joda_parser(pattern: str, zone: tzinfo) -> Parser:
    compiled = compile_joda(pattern)
    fullmatch = compiled.regex.fullmatch
    # One reader per field, looked up once: the stamps of a log that the date filter has not seen yet
    # are read here, one per second of log time.
    readers = tuple(_READERS[field.kind] for field in compiled.fields)
    defaults: list[Any] = [None, 1, 1, 0, 0, 0, 0, None, None, None, zone, None]

    def parse(text: str) -> datetime | None:
        match = fullmatch(text)
        if match is None:
            return None
        values = defaults.copy()
        for (slot, read), raw in zip(readers, match.groups(), strict=True):
            value = read(raw)
            if value is _INVALID:
                return None
            values[slot] = value
        year, month, day, hour, minute, second, micros, day_of_year, pm, hour12, moment_zone, _ = values
        if hour12 is not None:
            hour = hour12 + (12 if pm else 0)
        elif pm is not None and hour < 12 and pm:
            hour += 12
        if year is None:
            year = guess_year(month)
        try:
            if day_of_year is not None:
                moment = datetime(year, 1, 1, hour, minute, second, micros, moment_zone)
                moment += timedelta(days=day_of_year - 1)
                return moment if moment.year == year else None
            return datetime(year, month, day, hour, minute, second, micros, moment_zone)
        except ValueError:
            return None

    return parse


# ---------------------------------------------------------------------------------------------------------
# strptime formats.


def _strptime_parser(fmt: str, zone: tzinfo) -> Parser:
    has_year = "%Y" in fmt or "%y" in fmt or "%G" in fmt
    # Without a year strptime picks 1900, where Feb 29 does not exist: read with a leap year, then move.
    read_format = fmt if has_year else fmt + " %Y"

    def parse(text: str) -> datetime | None:
        try:
            moment = datetime.strptime(text if has_year else f"{text} 2000", read_format)
            if not has_year:
                moment = moment.replace(year=guess_year(moment.month))
        except ValueError:
            return None
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)

    return parse


def check_strptime_format(fmt: str) -> None:
    """Reject formats strptime can never use (`%Q`, a trailing `%`); a mere mismatch is fine here."""
    try:
        datetime.strptime("", fmt)
    except ValueError as exc:
        if "directive" in str(exc) or "stray %" in str(exc):
            raise FormatError(f"date format {fmt!r} is not a valid strptime format: {exc}") from exc


# ---------------------------------------------------------------------------------------------------------


def make_parser(fmt: str, zone: tzinfo) -> Parser:
    """A function turning a string in ``fmt`` into an aware datetime, or None if it does not fit.

    Raises :class:`FormatError` for a format that can never work, so a pipeline fails when it is loaded.
    """
    if fmt == "ISO8601":

        def parse_iso(text: str) -> datetime | None:
            moment = parse_iso8601_local(text.strip())
            if moment is not None and moment.tzinfo is None:
                moment = moment.replace(tzinfo=zone)
            return moment

        return parse_iso
    if fmt == "UNIX":
        return _epoch_parser(0)
    if fmt == "UNIX_MS":
        return _epoch_parser(3)
    if fmt == "TAI64N":
        return _parse_tai64n
    if "%" in fmt:
        check_strptime_format(fmt)
        return _strptime_parser(fmt, zone)
    return _joda_parser(fmt, zone)


def zone_named(name: str) -> tzinfo:
    """The zone for a canonical id (`Europe/Berlin`), `UTC`, or a fixed offset (`+02:00`)."""
    if re.fullmatch(_OFFSET, name):
        return _offset_zone(name)
    zone = _zone_for_id(name)
    if zone is None:
        raise FormatError(f"unknown time zone {name!r}; use an IANA id like 'Europe/Berlin' or an offset like '+02:00'")
    return zone
