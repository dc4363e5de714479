"""The translate filter: a value replaced by what a dictionary (inline or a YAML, JSON or CSV file) gives it.

Lookups follow Logstash's three strategies: exact (a dict lookup), exact regex (the first key, in the file's
order, whose regex is found in the value) and substring (`exact: false`: every key found inside the value is
replaced). Regex and substring results are cached per value, since scanning every key for every event would not
fit the parser's budget; the cache is emptied whenever the dictionary is reloaded.

A dictionary file is checked for changes every `refresh_interval` seconds, from the event path (a `stat`, no
thread): a changed file is read again and merged into (or replaces) the entries held. A file that cannot be read
at start stops the parser with the reason; one that breaks later is logged and the entries held are kept.
"""

from __future__ import annotations

import copy
import csv
import functools
import logging
import os
import re
import time
from pathlib import Path
from typing import Any

import orjson
import yaml

from streamstash.config.plugin_filters import TranslateFilter as TranslateSettings
from streamstash.events.fieldpath import get_field, has_field, set_field
from streamstash.events.templates import Template
from streamstash.filters.base import Decorations, FilterResourceError, Verdict

log = logging.getLogger(__name__)

RESULT_CACHE_SIZE = 10_000
_NO_MATCH = object()
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class DictionaryError(FilterResourceError):
    """A dictionary file that cannot be used."""


def read_dictionary(path: Path) -> dict[str, Any]:
    """The entries of a dictionary file, keys as text (YAML and JSON may have numbers as keys)."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            with open(path, encoding="utf-8-sig", newline="") as handle:
                return {row[0]: row[1] if len(row) > 1 else None for row in csv.reader(handle) if row}
        raw = path.read_bytes()
        if suffix == ".json":
            loaded = orjson.loads(raw) if raw.strip() else {}
        else:
            loaded = yaml.load(raw.decode("utf-8-sig"), Loader=_Loader) or {}  # noqa: S506 - a SafeLoader
    except (OSError, ValueError, yaml.YAMLError, csv.Error, UnicodeDecodeError) as exc:
        raise DictionaryError(f"translate: dictionary {str(path)!r} cannot be read: {exc}", str(path)) from exc
    if not isinstance(loaded, dict):
        raise DictionaryError(
            f"translate: dictionary {str(path)!r} holds a {type(loaded).__name__}, not key: value", str(path)
        )
    return {_key_text(key): value for key, value in loaded.items()}


def _key_text(key: Any) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    return str(key)


def _source_text(value: Any) -> str:
    """What Logstash looks up: text as it is, a list's first item, anything else as text."""
    if isinstance(value, list):
        value = value[0] if value else ""
    if isinstance(value, str):
        return value
    return _key_text(value) if value is not None else ""


class Lookup:
    """The dictionary and its strategy; ``find`` returns the translation or ``_NO_MATCH``."""

    def __init__(self, entries: dict[str, Any], exact: bool, regex: bool) -> None:
        self.exact, self.regex = exact, regex
        self.replace(entries)

    def replace(self, entries: dict[str, Any]) -> None:
        self.entries = entries
        if self.exact and self.regex:
            self.patterns = [(re.compile(key), value) for key, value in entries.items()]
        elif not self.exact and entries:
            # Longest keys first would differ from Logstash: like Ruby's Regexp.union, the first key listed wins.
            self.union = re.compile("|".join(re.escape(key) for key in entries))
        self.cached = functools.lru_cache(maxsize=RESULT_CACHE_SIZE)(self._scan)

    def find(self, text: str) -> Any:
        value = self.entries.get(text, _NO_MATCH) if self.exact and not self.regex else self.cached(text)
        # Values from files may be lists or objects: each event gets its own copy to change.
        return value if isinstance(value, str) or value is _NO_MATCH else copy.deepcopy(value)

    def _scan(self, text: str) -> Any:
        if self.exact:
            return next((value for pattern, value in self.patterns if pattern.search(text)), _NO_MATCH)
        if not self.entries:
            return _NO_MATCH
        replaced = self.union.sub(lambda match: _key_text(self.entries[match.group(0)]), text)
        return _NO_MATCH if replaced == text else replaced


class TranslateFilter:
    def __init__(self, settings: TranslateSettings) -> None:
        self.settings = settings
        self.source = settings.source
        self.target = settings.effective_target
        self.override = settings.override if settings.override is not None else self.target == self.source
        self.fallback = Template(settings.fallback) if settings.fallback is not None else None
        self.path = settings.dictionary_path
        entries = read_dictionary(self.path) if self.path is not None else dict(settings.dictionary)
        self.lookup = Lookup(entries, settings.exact, settings.regex)
        self._mtime = self._modified()
        self._next_check = time.monotonic() + settings.refresh_interval
        self.decorations = Decorations(settings)

    def apply(self, doc: dict[str, Any]) -> Verdict | None:
        if self.path is not None and self.settings.refresh_interval and time.monotonic() >= self._next_check:
            self.refresh()
        iterate_on = self.settings.iterate_on
        if iterate_on is None:
            matched = self._translate_one(doc)
        elif iterate_on == self.source:
            matched = self._translate_items(doc)
        else:
            matched = self._translate_objects(doc, iterate_on)
        if matched:
            self.decorations.apply(doc)
        return None

    def _translate_one(self, doc: dict[str, Any]) -> bool:
        if not self.override and has_field(doc, self.target):
            return False
        if not has_field(doc, self.source):
            return False
        value = self.lookup.find(_source_text(get_field(doc, self.source)))
        if value is _NO_MATCH:
            if self.fallback is None:
                return self.target == self.source
            value = self.fallback.try_render(doc) or self.fallback.text
        set_field(doc, self.target, value)
        return True

    def _translate_items(self, doc: dict[str, Any]) -> bool:
        if not self.override and has_field(doc, self.target):
            return False
        if not has_field(doc, self.source):
            return False
        items = get_field(doc, self.source)
        items = items if isinstance(items, list) else [items]
        fallback = (self.fallback.try_render(doc) or self.fallback.text) if self.fallback is not None else None
        translated = []
        for item in items:
            value = self.lookup.find(_source_text(item))
            translated.append(fallback if value is _NO_MATCH else value)
        set_field(doc, self.target, translated)
        return any(value is not None for value in translated)

    def _translate_objects(self, doc: dict[str, Any], iterate_on: str) -> bool:
        items = get_field(doc, iterate_on)
        if items is None:
            return False
        matched = False
        for item in items if isinstance(items, list) else [items]:
            if not isinstance(item, dict) or not has_field(item, self.source):
                continue
            value = self.lookup.find(_source_text(get_field(item, self.source)))
            if value is _NO_MATCH:
                if self.fallback is None:
                    continue
                value = self.fallback.try_render(doc) or self.fallback.text
            set_field(item, self.target, value)
            matched = True
        return matched

    # ---- reloading -----------------------------------------------------------------------------------

    def _modified(self) -> float | None:
        if self.path is None:
            return None
        try:
            return os.stat(self.path).st_mtime
        except OSError:
            return None

    def refresh(self) -> None:
        """Read the dictionary file again if it changed; keep the entries held if it cannot be read."""
        assert self.path is not None
        self._next_check = time.monotonic() + self.settings.refresh_interval
        modified = self._modified()
        if modified is None or modified == self._mtime:
            return
        try:
            entries = read_dictionary(self.path)
        except DictionaryError as exc:
            log.warning(
                "dictionary not reloaded, keeping the entries held",
                extra={"path": str(self.path), "error": str(exc)},
            )
            return
        self._mtime = modified
        if self.settings.refresh_behaviour == "merge":
            entries = {**self.lookup.entries, **entries}
        self.lookup.replace(entries)
        log.info("dictionary reloaded", extra={"path": str(self.path), "entries": len(entries)})
