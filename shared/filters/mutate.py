"""The mutate filter, in Logstash's fixed order: rename, convert, gsub, lowercase/uppercase, add, remove."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from streamstash.config.parser import MutateFilter as MutateSettings
from streamstash.fieldpath import get_field, has_field, remove_field, set_field
from streamstash.filters.base import Verdict, add_tags
from streamstash.templates import Template


def _to_integer(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    try:
        return int(float(value)) if isinstance(value, str) and "." in value else int(value)
    except (TypeError, ValueError):
        return value  # Logstash leaves values it cannot convert as they were


def _to_float(value: Any) -> Any:
    try:
        return float(value)
    except (TypeError, ValueError):
        return value


def _to_boolean(value: Any) -> Any:
    text = str(value).strip().lower()
    if text in ("true", "t", "yes", "y", "1"):
        return True
    if text in ("false", "f", "no", "n", "0"):
        return False
    return value


def _to_string(value: Any) -> Any:
    return value if isinstance(value, str) else str(value)


CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "integer": _to_integer, "int": _to_integer, "float": _to_float, "boolean": _to_boolean, "string": _to_string,
}


def _each(value: Any, function: Callable[[Any], Any]) -> Any:
    return [function(item) for item in value] if isinstance(value, list) else function(value)


class MutateFilter:
    def __init__(self, settings: MutateSettings) -> None:
        self.settings = settings
        self.converters = [(field, CONVERTERS[kind]) for field, kind in settings.convert.items()]
        self.gsubs = [(field, re.compile(pattern), replacement) for field, pattern, replacement in settings.gsub]
        self.add_fields = [(field, Template(value)) for field, value in settings.add_field.items()]
        self.add_tags = [Template(tag) for tag in settings.add_tag]

    def apply(self, doc: dict[str, Any]) -> Verdict | None:
        settings = self.settings
        for source, target in settings.rename.items():
            if has_field(doc, source):
                set_field(doc, target, remove_field(doc, source))
        for field, convert in self.converters:
            if has_field(doc, field):
                set_field(doc, field, _each(get_field(doc, field), convert))
        for field, pattern, replacement in self.gsubs:
            value = get_field(doc, field)
            if value is not None:
                set_field(doc, field, _each(value, lambda item: pattern.sub(replacement, item)
                                            if isinstance(item, str) else item))
        for field in settings.lowercase:
            value = get_field(doc, field)
            if value is not None:
                set_field(doc, field, _each(value, lambda item: item.lower() if isinstance(item, str) else item))
        for field in settings.uppercase:
            value = get_field(doc, field)
            if value is not None:
                set_field(doc, field, _each(value, lambda item: item.upper() if isinstance(item, str) else item))
        for field, template in self.add_fields:
            rendered = template.try_render(doc)
            if rendered is not None:
                set_field(doc, Template(field).try_render(doc) or field, rendered)
        for field in settings.remove_field:
            remove_field(doc, field)
        if self.add_tags:
            add_tags(doc, [tag for tag in (template.try_render(doc) for template in self.add_tags) if tag])
        if settings.remove_tag and isinstance(doc.get("tags"), list):
            doc["tags"] = [tag for tag in doc["tags"] if tag not in settings.remove_tag]
        return None
