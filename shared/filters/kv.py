"""The kv filter: `key=value` pairs out of a field, with Logstash's scanning rules.

As in Logstash, `field_split`, `value_split`, `trim_*` and `remove_char_*` are regex character classes
(each character is one choice; escape `]`, `\\` and `^` with a backslash), values may be quoted ("..." or
'...') or bracketed, empty values are skipped, and a repeated key collects its values in a list.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from streamstash.config.parser import KvFilter as KvSettings
from streamstash.events.fieldpath import get_field, set_field
from streamstash.events.templates import Template
from streamstash.filters.base import Decorations, Verdict

_TRANSFORMS: dict[str, Callable[[str], str]] = {
    "lowercase": str.lower,
    "uppercase": str.upper,
    "capitalize": lambda text: text[:1].upper() + text[1:].lower(),
}


def _until_charclass(charclass: str) -> str:
    return rf"((?:\\.|[^{charclass}])+)"


def _until_pattern(*patterns: str) -> str:
    union = "|".join(f"(?:{pattern})" for pattern in patterns)
    return rf"((?:\\.|(?!{union}).)+)"


def _quoted(open_quote: str, close_quote: str) -> str:
    return f"{re.escape(open_quote)}{_until_charclass(re.escape(close_quote))}?{re.escape(close_quote)}"


def _trimmer(characters: str) -> re.Pattern[str] | None:
    return re.compile(f"^[{characters}]+|[{characters}]+$") if characters else None


def scan_pattern(settings: KvSettings) -> re.Pattern[str]:
    """The one regex that finds every pair: key, separator, value (quoted, bracketed or bare), field split."""
    field_split = settings.field_split_pattern or f"[{settings.field_split}]"
    value_split = settings.value_split_pattern or f"[{settings.value_split}]"
    if settings.whitespace == "lenient":
        value_split = f" *(?:{value_split}) *"
    custom = settings.field_split_pattern is not None or settings.value_split_pattern is not None
    key = (
        _until_pattern(value_split, field_split)
        if custom
        else _until_charclass(settings.value_split + settings.field_split)
    )
    values = [_quoted('"', '"'), _quoted("'", "'")]
    if settings.include_brackets:
        values += [_quoted("(", ")"), _quoted("[", "]"), _quoted("<", ">")]
    values.append(
        _until_pattern(field_split)
        if settings.field_split_pattern is not None
        else _until_charclass(settings.field_split)
    )
    return re.compile(f"{key}(?:{value_split})(?:{'|'.join(values)})?(?:{field_split}|$)", re.MULTILINE)


class KvFilter:
    def __init__(self, settings: KvSettings) -> None:
        self.settings = settings
        self.scan = scan_pattern(settings)
        self.has_separator = re.compile(settings.value_split_pattern or f"[{settings.value_split}]")
        self.trim_key = _trimmer(settings.trim_key)
        self.trim_value = _trimmer(settings.trim_value)
        self.remove_key = re.compile(f"[{settings.remove_char_key}]") if settings.remove_char_key else None
        self.remove_value = re.compile(f"[{settings.remove_char_value}]") if settings.remove_char_value else None
        self.transform_key = _TRANSFORMS[settings.transform_key] if settings.transform_key else None
        self.transform_value = _TRANSFORMS[settings.transform_value] if settings.transform_value else None
        self.prefix = Template(settings.prefix)
        self.include_keys = set(settings.include_keys)
        self.exclude_keys = set(settings.exclude_keys)
        self.decorations = Decorations(settings)

    def apply(self, doc: dict[str, Any]) -> Verdict | None:
        value = get_field(doc, self.settings.source)
        pairs: dict[str, Any] = {}
        if isinstance(value, str):
            self._parse(value, doc, pairs)
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, str):
                    self._parse(item, doc, pairs)
        pairs = {**self.settings.default_keys, **pairs}
        if not pairs:
            return None
        if self.settings.target is not None:
            set_field(doc, self.settings.target, pairs)
        else:
            doc.update(pairs)
        self.decorations.apply(doc)
        return None

    def _parse(self, text: str, doc: dict[str, Any], pairs: dict[str, Any]) -> None:
        if not self.has_separator.search(text):
            return
        prefix = self.prefix.try_render(doc) or ""
        for match in self.scan.finditer(text):
            key, *candidates = match.groups()
            value = next((candidate for candidate in candidates if candidate is not None), None)
            if not value:
                continue
            if self.trim_key:
                key = self.trim_key.sub("", key)
            if self.remove_key:
                key = self.remove_key.sub("", key)
            if self.transform_key:
                key = self.transform_key(key)
            if (self.include_keys and key not in self.include_keys) or key in self.exclude_keys:
                continue
            key = prefix + key
            if self.trim_value:
                value = self.trim_value.sub("", value)
            if self.remove_value:
                value = self.remove_value.sub("", value)
            if self.transform_value:
                value = self.transform_value(value)
            self._add(pairs, key, value)

    def _add(self, pairs: dict[str, Any], key: str, value: str) -> None:
        if key not in pairs:
            pairs[key] = value
            return
        current = pairs[key]
        values = current if isinstance(current, list) else [current]
        if not self.settings.allow_duplicate_values and value in values:
            return
        pairs[key] = [*values, value]
