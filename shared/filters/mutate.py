"""The mutate filter, in Logstash's fixed order (see :class:`~streamstash.config.parser.MutateFilter`)."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

from streamstash.config.parser import MutateFilter as MutateSettings
from streamstash.events.fieldpath import get_field, has_field, remove_field, set_field, top_level_name
from streamstash.events.templates import Template
from streamstash.filters.base import Decorations, Verdict

_INTEGER = re.compile(r"\s*[+-]?\d+\s*")
_DECIMAL = re.compile(r"\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*")


def _to_integer(value: Any) -> Any:
    if type(value) is str and value.isdecimal():  # plain digits, most values: what the patterns below accept
        return int(value)
    if isinstance(value, str) and "," in value:
        value = _without_grouping(value)
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value == value and abs(value) != float("inf") else value
    if isinstance(value, str):
        if _INTEGER.fullmatch(value):
            return int(value)
        if _DECIMAL.fullmatch(value):
            return int(float(value))  # Logstash truncates "3.7" to 3
    return value  # Logstash leaves values it cannot convert as they were


def _to_float(value: Any) -> Any:
    if isinstance(value, str) and "," in value:
        value = _without_grouping(value)
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and _DECIMAL.fullmatch(value):
        return float(value)
    return value


def _without_grouping(text: str) -> str:
    """`1,000` -> `1000`, as Logstash reads thousands separators; text with other commas is left alone."""
    return text.replace(",", "") if re.fullmatch(r"\s*[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?\s*", text) else text


def _european(value: Any) -> Any:
    """`1.234,5` -> `1234.5`: dots group thousands, the comma marks decimals."""
    return value.replace(".", "").replace(",", ".") if isinstance(value, str) else value


def _to_boolean(value: Any) -> Any:
    text = str(value).strip().lower()
    if text in ("true", "t", "yes", "y", "1", "1.0"):
        return True
    if text in ("false", "f", "no", "n", "0", "0.0"):
        return False
    return value


def _to_string(value: Any) -> Any:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"  # as Logstash (Ruby) writes them
    return str(value)


CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "integer": _to_integer,
    "int": _to_integer,
    "float": _to_float,
    "boolean": _to_boolean,
    "string": _to_string,
    "integer_eu": lambda value: _to_integer(_european(value)),
    "float_eu": lambda value: _to_float(_european(value)),
}


def _each(value: Any, function: Callable[[Any], Any]) -> Any:
    return [function(item) for item in value] if isinstance(value, list) else function(value)


def _text_only(function: Callable[[str], Any]) -> Callable[[Any], Any]:
    return lambda item: function(item) if isinstance(item, str) else item


_ABSENT = object()


def _capitalize(text: str) -> str:
    return text[:1].upper() + text[1:].lower()


class MutateFilter:
    def __init__(self, settings: MutateSettings) -> None:
        self.settings = settings
        self.updates = [(field, Template(value)) for field, value in settings.update.items()]
        self.replaces = [(field, Template(value)) for field, value in settings.replace.items()]
        # (reference, its name when it is a top-level field, converter): most converted fields are top-level
        self.converters = [(field, top_level_name(field), CONVERTERS[kind]) for field, kind in settings.convert.items()]
        self.gsubs = [(field, re.compile(pattern), replacement) for field, pattern, replacement in settings.gsub]
        self.case_changes: list[tuple[str, Callable[[Any], Any]]] = [
            *((field, _text_only(str.upper)) for field in settings.uppercase),
            *((field, _text_only(_capitalize)) for field in settings.capitalize),
            *((field, _text_only(str.lower)) for field in settings.lowercase),
            *((field, _text_only(str.strip)) for field in settings.strip),
        ]
        self.decorations = Decorations(settings)
        # Logstash's fixed order, each operation only if configured: a filter sets one or two of them, and
        # looking at all the others for every event was a tenth of the tutorial chain's CPU (bench/README.md).
        steps: list[tuple[object, Callable[[dict[str, Any]], None]]] = [
            (settings.coerce, self._coerce),
            (settings.rename, self._rename),
            (self.updates, self._update),
            (self.replaces, self._replace),
            (self.converters, self._convert),
            (self.gsubs, self._gsub),
            (self.case_changes, self._change_case),
            (settings.split, self._split),
            (settings.join, self._join),
            (settings.merge, self._merge_all),
            (settings.copy_, self._copy),
            (not self.decorations.empty, self.decorations.apply),
        ]
        self._steps = [step for configured, step in steps if configured]

    def apply(self, doc: dict[str, Any]) -> Verdict | None:
        for step in self._steps:
            step(doc)
        return None

    def _coerce(self, doc: dict[str, Any]) -> None:
        for field, value in self.settings.coerce.items():
            if has_field(doc, field) and get_field(doc, field) is None:
                set_field(doc, field, value)

    def _rename(self, doc: dict[str, Any]) -> None:
        for source, target in self.settings.rename.items():
            if has_field(doc, source):
                set_field(doc, target, remove_field(doc, source))

    def _update(self, doc: dict[str, Any]) -> None:
        for field, template in self.updates:
            if has_field(doc, field):
                rendered = template.try_render(doc)
                if rendered is not None:
                    set_field(doc, field, rendered)

    def _replace(self, doc: dict[str, Any]) -> None:
        for field, template in self.replaces:
            rendered = template.try_render(doc)
            if rendered is not None:
                set_field(doc, field, rendered)

    def _convert(self, doc: dict[str, Any]) -> None:
        for field, name, convert in self.converters:
            if name is not None:
                value = doc.get(name, _ABSENT)
                if value is not _ABSENT:
                    doc[name] = _each(value, convert)
            elif has_field(doc, field):
                set_field(doc, field, _each(get_field(doc, field), convert))

    def _gsub(self, doc: dict[str, Any]) -> None:
        for field, pattern, replacement in self.gsubs:
            value = get_field(doc, field)
            if value is not None:
                set_field(doc, field, _each(value, _text_only(functools.partial(pattern.sub, replacement))))

    def _change_case(self, doc: dict[str, Any]) -> None:
        for field, change in self.case_changes:
            value = get_field(doc, field)
            if value is not None:
                set_field(doc, field, _each(value, change))

    def _split(self, doc: dict[str, Any]) -> None:
        for field, separator in self.settings.split.items():
            value = get_field(doc, field)
            if isinstance(value, str):
                set_field(doc, field, value.split(separator))

    def _join(self, doc: dict[str, Any]) -> None:
        for field, separator in self.settings.join.items():
            value = get_field(doc, field)
            if isinstance(value, list):
                set_field(doc, field, separator.join(_to_string(item) for item in value))

    def _merge_all(self, doc: dict[str, Any]) -> None:
        for destination, added in self.settings.merge.items():
            self._merge(doc, destination, added)

    def _copy(self, doc: dict[str, Any]) -> None:
        for source, destination in self.settings.copy_.items():
            if has_field(doc, source):
                set_field(doc, destination, _deep_copy(get_field(doc, source)))

    @staticmethod
    def _merge(doc: dict[str, Any], destination: str, added: str) -> None:
        if not has_field(doc, added):
            return
        addition = get_field(doc, added)
        if not has_field(doc, destination):
            set_field(doc, destination, _deep_copy(addition))
            return
        current = get_field(doc, destination)
        if isinstance(current, dict) and isinstance(addition, dict):
            current.update(_deep_copy(addition))
            return
        current_list = current if isinstance(current, list) else [current]
        set_field(doc, destination, current_list + (list(addition) if isinstance(addition, list) else [addition]))


def _deep_copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _deep_copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_deep_copy(item) for item in value]
    return value
