"""Logstash sprintf templates: `%{field}`, `%{[a][b]}`, `%{[list][0]}` and `%{+YYYY.MM.dd}` (from @timestamp).

Values are written the way Logstash's string interpolation writes them: a list as its items joined by commas,
an object as JSON, true/false in lower case.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import orjson

from streamstash import names
from streamstash.events.fieldpath import get_field
from streamstash.events.timeformats import joda_to_strftime, parse_iso8601

_REFERENCE = re.compile(r"%\{([^}]+)\}")


class MissingFieldError(KeyError):
    """A template referenced a field the event does not have."""


class Template:
    """A compiled template; ``render`` raises :class:`MissingFieldError` for an absent field."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._parts: list[Callable[[dict[str, Any]], str]] = []
        self.fields: list[str] = []
        self.uses_timestamp = False  # a `%{+...}` part: reads @timestamp
        position = 0
        for match in _REFERENCE.finditer(text):
            literal = text[position : match.start()]
            if literal:
                self._parts.append(_literal_part(literal))
            reference = match.group(1)
            if reference.startswith("+"):
                self.uses_timestamp = True
                self._parts.append(_time_part(joda_to_strftime(reference[1:])))
            else:
                self.fields.append(reference)
                self._parts.append(_field_part(reference))
            position = match.end()
        tail = text[position:]
        if tail:
            self._parts.append(_literal_part(tail))
        self.is_constant = not _REFERENCE.search(text)

    def render(self, doc: dict[str, Any]) -> str:
        if self.is_constant:
            return self.text
        return "".join(part(doc) for part in self._parts)

    def try_render(self, doc: dict[str, Any]) -> str | None:
        try:
            return self.render(doc)
        except MissingFieldError:
            return None


def _field_part(reference: str) -> Callable[[dict[str, Any]], str]:
    def render(doc: dict[str, Any]) -> str:
        value = get_field(doc, reference)
        if value is None:
            raise MissingFieldError(reference)
        return value if isinstance(value, str) else render_value(value)

    return render


def _literal_part(text: str) -> Callable[[dict[str, Any]], str]:
    return lambda _doc: text


def render_value(value: Any) -> str:
    """A field's value as text in a template."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(render_value(item) for item in value)
    if isinstance(value, dict):
        return orjson.dumps(value, default=str).decode()
    return str(value)


def _time_part(strftime_format: str) -> Callable[[dict[str, Any]], str]:
    def render(doc: dict[str, Any]) -> str:
        stamp = doc.get(names.FIELD_TIMESTAMP)
        moment = parse_iso8601(stamp) if isinstance(stamp, str) else None
        if moment is None:
            raise MissingFieldError(names.FIELD_TIMESTAMP)
        return moment.strftime(strftime_format)

    return render
