"""The grok filter: match fields against Logstash patterns and merge the captures into the event."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from streamstash import names
from streamstash.config.parser import GrokFilter as GrokSettings
from streamstash.filters.base import Decorations, Verdict, add_tags
from streamstash.grok import Grok
from streamstash.grok.compiler import field_path


class GrokFilter:
    def __init__(self, settings: GrokSettings) -> None:
        self.settings = settings
        self.matchers = [
            (
                field,
                Grok(
                    patterns,
                    pattern_definitions=settings.pattern_definitions,
                    pattern_dirs=[Path(directory) for directory in settings.patterns_dir],
                    patterns_files_glob=settings.patterns_files_glob,
                    break_on_match=settings.break_on_match,
                    timeout_ms=settings.timeout_ms,
                ),
            )
            for field, patterns in settings.match.items()
        ]
        self.decorations = Decorations(settings)
        self.overwrite = (
            None if settings.overwrite is None else frozenset(field_path(name) for name in settings.overwrite)
        )

    def capture_roots(self) -> frozenset[str]:
        """The top-level names of every field a pattern of this filter captures into."""
        return frozenset(
            capture.path[0]
            for _, grok in self.matchers
            for expression in grok.expressions
            for capture in expression.expansion.captures
        )

    def apply(self, doc: dict[str, Any]) -> Verdict | None:
        for field, grok in self.matchers:
            value = doc.get(field)
            if not isinstance(value, str):
                return self._fail(doc, self.settings.tag_on_failure, f"grok: field {field!r} is missing or not text")
            result = grok.match(value)
            if result.timed_out:
                return self._fail(
                    doc,
                    [names.TAG_GROK_TIMEOUT],
                    f"grok: patterns on {field!r} exceeded {self.settings.timeout_ms:g} ms",
                )
            if not result.matched:
                return self._fail(doc, self.settings.tag_on_failure, f"grok: no pattern matched field {field!r}")
            if self.overwrite is None:
                if grok.flat:  # nothing to merge into: `_merge` would set each field as it is
                    doc.update(result.fields)
                else:
                    _merge(doc, result.fields)
            else:
                _merge_keeping(doc, result.fields, self.overwrite, ())
        self.decorations.apply(doc)
        return None

    def _fail(self, doc: dict[str, Any], tags: list[str], reason: str) -> Verdict | None:
        add_tags(doc, tags)
        return Verdict("dead_letter", reason) if self.settings.dead_letter_on_failure else None


def _merge(target: dict[str, Any], captured: dict[str, Any]) -> None:
    # Hot path (once per event): flat captures, the common case, are a plain dict update.
    for key, value in captured.items():
        if type(value) is dict:
            existing = target.get(key)
            if type(existing) is dict:
                _merge(existing, value)
                continue
        target[key] = value


def _merge_keeping(
    target: dict[str, Any], captured: dict[str, Any], overwrite: frozenset[tuple[str, ...]], prefix: tuple[str, ...]
) -> None:
    """Logstash's way: a capture replaces only a field named in `overwrite`; otherwise an existing text
    becomes an array of both, an existing array is appended to, any other existing value stays as it is."""
    for key, value in captured.items():
        path = (*prefix, key)
        if type(value) is dict:  # captures into [a][b]
            node = target.get(key)
            if node is None:
                node = target[key] = {}
            if isinstance(node, dict):
                _merge_keeping(node, value, overwrite, path)
            continue
        values = value if type(value) is list else [value]  # a list: the field was captured more than once
        if path in overwrite:
            target[key] = values[-1]
            continue
        for item in values:
            existing = target.get(key)
            if existing is None:
                target[key] = item
            elif type(existing) is list:
                existing.append(item)
            elif isinstance(existing, str):
                target[key] = [existing, item]
