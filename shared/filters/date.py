"""The date filter: parse a field with one of several formats into `@timestamp` (or another target)."""

from __future__ import annotations

import functools
from typing import Any

from streamstash.config.parser import DateFilter as DateSettings
from streamstash.events.fieldpath import get_field, set_field, top_level_name
from streamstash.events.timeformats import format_iso8601, make_parser, zone_named
from streamstash.filters.base import Decorations, Verdict, add_tags


class DateFilter:
    def __init__(self, settings: DateSettings) -> None:
        self.settings = settings
        self.field = settings.match[0]
        self._field_name, self._target_name = top_level_name(self.field), top_level_name(settings.target)
        zone = zone_named(settings.timezone)
        self.parsers = [make_parser(fmt, zone) for fmt in settings.match[1:]]
        self.decorations = Decorations(settings)
        # Log lines repeat the same second many times; remember recent conversions.
        self._convert = functools.lru_cache(maxsize=4096)(self._convert_uncached)

    def apply(self, doc: dict[str, Any]) -> Verdict | None:
        name = self._field_name
        value = doc.get(name) if name is not None else get_field(doc, self.field)
        if isinstance(value, list):  # Logstash reads the first of several values
            value = value[0] if value else None
        if value is None:
            return None  # Logstash's date filter does nothing when the field is absent
        converted = self._convert(value if isinstance(value, str) else str(value))
        if converted is None:
            add_tags(doc, self.settings.tag_on_failure)
            return None
        if self._target_name is not None:
            doc[self._target_name] = converted
        else:
            set_field(doc, self.settings.target, converted)
        self.decorations.apply(doc)
        return None

    def forget_conversions(self) -> None:
        """Drop remembered conversions: the year a yearless stamp gets depends on the clock (`streamstash test`
        pins one per case and reuses the filter)."""
        self._convert.cache_clear()

    def _convert_uncached(self, text: str) -> str | None:
        for parse in self.parsers:
            try:
                moment = parse(text)
            except (ValueError, OverflowError):  # a stamp beyond what datetime holds
                moment = None
            if moment is not None:
                try:
                    return format_iso8601(moment)
                except (ValueError, OverflowError):
                    continue
        return None
