"""The json filter: parse a field holding JSON into the event, guarded against huge and deeply nested input."""

from __future__ import annotations

from typing import Any

import orjson

from streamstash import names
from streamstash.config.parser import JsonFilter as JsonSettings
from streamstash.events.fieldpath import get_field, set_field
from streamstash.events.timeformats import format_iso8601, parse_iso8601
from streamstash.filters.base import Decorations, Verdict, add_tags


def nesting_depth(value: Any, give_up_past: int) -> int:
    """Levels of objects/arrays in ``value`` (a scalar is 0), counted without recursion; stops early once
    past ``give_up_past`` so a pathological document costs no more than the cap."""
    deepest = 0
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        node, depth = pending.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > give_up_past:
            return deepest
        pending.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return deepest


class JsonFilter:
    def __init__(self, settings: JsonSettings) -> None:
        self.settings = settings
        self.decorations = Decorations(settings)

    def apply(self, doc: dict[str, Any]) -> Verdict | None:
        settings = self.settings
        text = get_field(doc, settings.source)
        if text is None:
            return None  # as Logstash: nothing to parse is not a failure
        if not isinstance(text, str):
            return self._fail(doc, [], f"json: field {settings.source!r} is not text")
        if len(text) * 4 > settings.max_bytes and len(text.encode("utf-8", "surrogatepass")) > settings.max_bytes:
            return self._fail(
                doc,
                [names.TAG_JSON_TOO_LARGE],
                f"json: field {settings.source!r} is longer than {settings.max_bytes} bytes",
            )
        try:
            parsed = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            if "depth" in str(exc):  # orjson's own cap (1024 levels) is past ours anyway
                return self._too_deep(doc)
            if settings.skip_on_invalid_json:
                return None
            return self._fail(doc, [], f"json: field {settings.source!r} is not valid JSON: {exc}")
        if nesting_depth(parsed, settings.max_depth) > settings.max_depth:
            return self._too_deep(doc)
        if settings.target is not None:
            set_field(doc, settings.target, parsed)
        elif isinstance(parsed, dict):
            self._merge_top_level(doc, parsed)
        else:
            return self._fail(
                doc,
                [],
                f"json: field {settings.source!r} holds a {type(parsed).__name__}, not an "
                "object; set `target` to keep it",
            )
        self.decorations.apply(doc)
        return None

    @staticmethod
    def _merge_top_level(doc: dict[str, Any], parsed: dict[str, Any]) -> None:
        for key, value in parsed.items():
            if key == names.FIELD_TIMESTAMP:
                moment = parse_iso8601(value) if isinstance(value, str) else None
                if moment is None:  # Logstash keeps an unreadable @timestamp aside and tags the event
                    doc[names.FIELD_TIMESTAMP_FAILURE] = value
                    add_tags(doc, [names.TAG_TIMESTAMP_FAILURE])
                else:
                    doc[key] = format_iso8601(moment)
            elif key == names.FIELD_TAGS:
                # Tags stay a list of text whatever the JSON says, so the event keeps its schema.
                add_tags(doc, [str(tag) for tag in (value if isinstance(value, list) else [value])])
            else:
                doc[key] = value

    def _too_deep(self, doc: dict[str, Any]) -> Verdict | None:
        return self._fail(
            doc,
            [names.TAG_JSON_TOO_DEEP],
            f"json: field {self.settings.source!r} is nested deeper than {self.settings.max_depth} levels",
        )

    def _fail(self, doc: dict[str, Any], extra_tags: list[str], reason: str) -> Verdict | None:
        add_tags(doc, [*self.settings.tag_on_failure, *extra_tags])
        return Verdict("dead_letter", reason) if self.settings.dead_letter_on_failure else None
