"""Dissect patterns: split text at literal delimiters, left to right, without regular expressions.

Pattern syntax (Logstash's): `%{name}` captures up to the next delimiter; `%{}` and `%{?name}` capture and
throw away (a `?name` value can become a key: `%{?key}=%{&key}` sets field <key> to the second value; `*key`
works like `?key`, as in Elasticsearch); `%{+name}` appends to `name` with `append_separator`, in pattern
order or by `%{+name/2}` ordinals; a trailing `->` (`%{name->}`) skips repeats of the delimiter after it, for
padded columns. Text before the first field must start the line; the last field takes the rest of the line
unless a delimiter follows it.

The pattern language alone, so that the pipeline's settings can check patterns when they are loaded; the
filter is :mod:`streamstash.filters.dissect`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

_FIELD = re.compile(r"%\{([^}]*)\}")
_KEY = re.compile(r"(?P<modifier>[+?&*]?)(?P<name>[^/]*?)(?:/(?P<ordinal>\d+))?(?P<pad>->)?")

Role = Literal["capture", "skip", "append", "key", "reference"]


class DissectPatternError(ValueError):
    """A dissect pattern that cannot work; raised when the pipeline is loaded."""


@dataclass(frozen=True, slots=True)
class _Field:
    role: Role
    name: str
    ordinal: int | None
    pad: bool
    delimiter: str  # the text after this field, up to the next one ('' for a last field without a suffix)


@dataclass(frozen=True, slots=True)
class DissectPattern:
    text: str
    prefix: str
    fields: tuple[_Field, ...]
    appended: frozenset[str]


def compile_dissect(pattern: str) -> DissectPattern:
    matches = list(_FIELD.finditer(pattern))
    if not matches:
        raise DissectPatternError(f"dissect pattern {pattern!r} has no %{{field}}")
    prefix = pattern[: matches[0].start()]
    fields: list[_Field] = []
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(pattern)
        delimiter = pattern[match.end() : end]
        if not delimiter and index + 1 < len(matches):
            raise DissectPatternError(
                f"dissect pattern {pattern!r}: %{{{match.group(1)}}} and the next field need a delimiter between them"
            )
        fields.append(_parse_key(pattern, match.group(1), delimiter))
    keys = {field.name for field in fields if field.role == "key"}
    for field in fields:
        if field.role == "reference" and field.name not in keys:
            raise DissectPatternError(
                f"dissect pattern {pattern!r}: %{{&{field.name}}} needs a %{{?{field.name}}} that supplies its key"
            )
    appended = frozenset(field.name for field in fields if field.role == "append")
    return DissectPattern(pattern, prefix, tuple(fields), appended)


def _parse_key(pattern: str, key: str, delimiter: str) -> _Field:
    match = _KEY.fullmatch(key)
    if match is None:
        raise DissectPatternError(f"dissect pattern {pattern!r}: cannot read %{{{key}}}")
    modifier, name = match.group("modifier"), match.group("name")
    ordinal = int(match.group("ordinal")) if match.group("ordinal") else None
    role: Role
    if modifier == "+":
        role = "append"
    elif modifier in ("?", "*"):
        role = "key"
    elif modifier == "&":
        role = "reference"
    else:
        role = "capture" if name else "skip"
    if role in ("append", "reference", "capture") and not name:
        raise DissectPatternError(f"dissect pattern {pattern!r}: %{{{key}}} needs a field name")
    if ordinal is not None and role != "append":
        raise DissectPatternError(f"dissect pattern {pattern!r}: only appends (%{{+name/N}}) take an order")
    return _Field(role, name, ordinal, match.group("pad") is not None, delimiter)


def dissect(pattern: DissectPattern, text: str, append_separator: str) -> dict[str, str] | None:
    """Field -> value for ``text``, or None when a delimiter is missing."""
    if not text.startswith(pattern.prefix):
        return None
    position = len(pattern.prefix)
    captured: dict[str, str] = {}
    keys: dict[str, str] = {}
    appends: dict[str, list[tuple[int, int, str]]] = {}
    for index, field in enumerate(pattern.fields):
        if field.delimiter:
            end = text.find(field.delimiter, position)
            if end < 0:
                return None
            value = text[position:end]
            position = end + len(field.delimiter)
            if field.pad:
                while text.startswith(field.delimiter, position):
                    position += len(field.delimiter)
        else:
            value = text[position:]
            position = len(text)
        if field.role == "capture" and field.name in pattern.appended:
            appends.setdefault(field.name, []).append((0, index, value))
        elif field.role == "capture":
            captured[field.name] = value
        elif field.role == "append":
            appends.setdefault(field.name, []).append((field.ordinal or 0, index, value))
        elif field.role == "key":
            keys[field.name] = value
        elif field.role == "reference":
            key = keys.get(field.name)
            if key:
                captured[key] = value
    for name, parts in appends.items():
        captured[name] = append_separator.join(value for _, _, value in sorted(parts))
    return captured
