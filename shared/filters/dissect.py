"""The dissect filter: fields split out of text by a dissect pattern (:mod:`streamstash.events.dissect`)."""

from __future__ import annotations

from typing import Any

from streamstash.config.parser import DissectFilter as DissectSettings
from streamstash.events.dissect import compile_dissect, dissect
from streamstash.events.fieldpath import get_field, set_field
from streamstash.filters.base import Decorations, Verdict, add_tags


def _convert(value: str, kind: str) -> Any:
    try:
        return int(value) if kind == "int" else float(value)
    except ValueError:
        return value


class DissectFilter:
    def __init__(self, settings: DissectSettings) -> None:
        self.settings = settings
        self.patterns = [(field, compile_dissect(pattern)) for field, pattern in settings.mapping.items()]
        self.decorations = Decorations(settings)

    def apply(self, doc: dict[str, Any]) -> Verdict | None:
        results: list[dict[str, str]] = []
        for field, pattern in self.patterns:
            text = get_field(doc, field)
            if not isinstance(text, str):
                return self._fail(doc, f"dissect: field {field!r} is missing or not text")
            found = dissect(pattern, text, self.settings.append_separator)
            if found is None:
                return self._fail(doc, f"dissect: pattern {pattern.text!r} does not fit field {field!r}")
            results.append(found)
        for found in results:
            for name, value in found.items():
                set_field(doc, name, value)
        for name, kind in self.settings.convert_datatype.items():
            value = get_field(doc, name)
            if isinstance(value, str):
                set_field(doc, name, _convert(value, kind))
        self.decorations.apply(doc)
        return None

    def _fail(self, doc: dict[str, Any], reason: str) -> Verdict | None:
        add_tags(doc, self.settings.tag_on_failure)
        return Verdict("dead_letter", reason) if self.settings.dead_letter_on_failure else None
