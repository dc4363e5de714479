"""The urldecode filter: `%XX` escapes of a field (or every field) decoded, Logstash's way (`+` stays a `+`)."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from streamstash.config.plugin_filters import UrldecodeFilter as UrldecodeSettings
from streamstash.events.fieldpath import get_field, has_field, set_field
from streamstash.filters.base import Decorations, Verdict, add_tags


class UrldecodeFilter:
    def __init__(self, settings: UrldecodeSettings) -> None:
        self.settings = settings
        self.charset = settings.charset
        self.decorations = Decorations(settings)

    def apply(self, doc: dict[str, Any]) -> Verdict | None:
        try:
            if self.settings.all_fields:
                for name, value in doc.items():
                    doc[name] = self._decode(value)
            elif has_field(doc, self.settings.field):
                set_field(doc, self.settings.field, self._decode(get_field(doc, self.settings.field)))
        except (ValueError, LookupError):
            add_tags(doc, self.settings.tag_on_failure)
        # As in Logstash the common options apply whether or not decoding failed.
        self.decorations.apply(doc)
        return None

    def _decode(self, value: Any) -> Any:
        if isinstance(value, str):
            # Most values hold no escape at all: skip unquote's own work for them.
            return unquote(value, encoding=self.charset, errors="replace") if "%" in value else value
        if isinstance(value, list):
            return [self._decode(item) for item in value]
        if isinstance(value, dict):
            return {key: self._decode(item) for key, item in value.items()}
        return value
