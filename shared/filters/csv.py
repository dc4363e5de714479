"""The csv filter: one line of separated values -> named fields, with Logstash's options and failure tags.

A line without quotes is split as it is; one with quotes is scanned with Ruby CSV's strict rules (Logstash's
parser): a doubled quote inside quotes is one quote, an unclosed quote or a quote inside an unquoted value is an
error. The separator may be longer than one character, as in Logstash.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from streamstash import names
from streamstash.config.plugin_filters import CsvFilter as CsvSettings
from streamstash.events.fieldpath import get_field, set_field
from streamstash.events.timeformats import format_iso8601, parse_iso8601
from streamstash.filters.base import Decorations, Verdict, add_tags


class CsvError(ValueError):
    """The text is not one valid CSV record."""


def _to_int(value: str) -> Any:
    try:
        return int(value)
    except ValueError:
        return value


def _to_float(value: str) -> Any:
    try:
        return float(value)
    except ValueError:
        return value


def _to_bool(value: str) -> Any:
    lowered = value.strip().lower()
    return True if lowered == "true" else False if lowered == "false" else value


def _to_timestamp(value: str) -> Any:
    moment = parse_iso8601(value.strip())
    return format_iso8601(moment) if moment is not None else value


CONVERTERS: dict[str, Callable[[str], Any]] = {
    "integer": _to_int,
    "float": _to_float,
    "boolean": _to_bool,
    "date": _to_timestamp,
    "date_time": _to_timestamp,
}


def split_record(text: str, separator: str, quote: str) -> list[str | None]:
    """The values of one CSV record; empty unquoted values are None (Ruby's CSV gives nil)."""
    text = text.rstrip("\r\n")
    if quote not in text:  # the common case, and then a plain split is exact
        return [value or None for value in text.split(separator)]
    return _scan(text, separator, quote)


def _scan(text: str, separator: str, quote: str) -> list[str | None]:
    values: list[str | None] = []
    position, length = 0, len(text)
    while True:
        if text.startswith(quote, position):
            end = position + 1
            pieces = []
            while True:
                close = text.find(quote, end)
                if close < 0:
                    raise CsvError("unclosed quoted field")
                pieces.append(text[end:close])
                if text.startswith(quote, close + 1):  # a doubled quote is one quote character
                    pieces.append(quote)
                    end = close + 2
                    continue
                position = close + 1
                break
            values.append("".join(pieces))
            if position < length and not text.startswith(separator, position):
                raise CsvError("text after a closing quote")
        else:
            end = text.find(separator, position)
            end = length if end < 0 else end
            value = text[position:end]
            if quote in value:
                raise CsvError("quote inside an unquoted field")
            values.append(value or None)
            position = end
        if position >= length:
            return values
        position += len(separator)
        if position == length:
            values.append(None)
            return values


class CsvFilter:
    def __init__(self, settings: CsvSettings) -> None:
        self.settings = settings
        self.columns = list(settings.columns)
        self.prefix = (
            (settings.target if settings.target.startswith("[") else f"[{settings.target}]") if settings.target else ""
        )
        self.converters = {column: CONVERTERS[kind] for column, kind in settings.convert.items()}
        self.decorations = Decorations(settings)

    def apply(self, doc: dict[str, Any]) -> Verdict | None:
        settings = self.settings
        text = get_field(doc, settings.source)
        if text is None:
            return None
        if not isinstance(text, str):
            text = str(text)
        if text.strip("\r\n") == "":
            add_tags(doc, [names.TAG_CSV_EMPTY_ROW] if settings.skip_empty_rows else settings.tag_on_failure)
            return None
        try:
            values = split_record(text, settings.separator, settings.quote_char)
        except CsvError:
            add_tags(doc, settings.tag_on_failure)
            return None
        if settings.autodetect_column_names and not self.columns:
            self.columns = [value or "" for value in values]
            return Verdict("drop", "csv: header line (autodetect_column_names)")
        if settings.skip_header and self.columns and values == self.columns:
            return Verdict("drop", "csv: header line (skip_header)")
        columns = self.columns
        for index, value in enumerate(values):
            if settings.skip_empty_columns and not value:
                continue
            if index < len(columns):
                name = columns[index]
            elif settings.autogenerate_column_names:
                name = f"column{index + 1}"
            else:
                continue
            converter = self.converters.get(name)
            converted = converter(value) if converter is not None and value is not None else value
            set_field(doc, self._reference(name), converted)
        self.decorations.apply(doc)
        return None

    def _reference(self, name: str) -> str:
        if not self.prefix:
            return name
        return f"{self.prefix}{name}" if name.startswith("[") else f"{self.prefix}[{name}]"
