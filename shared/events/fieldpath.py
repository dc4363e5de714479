"""Logstash field references: `name`, `[name]`, `[a][b]` on nested dicts, and `[list][0]` / `[list][-1]` on
lists (a part that spells an integer indexes a list; on an object it is an ordinary key, as in Logstash)."""

from __future__ import annotations

import functools
import re
from typing import Any

_MISSING = object()
_INDEX = re.compile(r"-?\d+")


@functools.lru_cache(maxsize=4096)
def parse_path(reference: str) -> tuple[str, ...]:
    reference = reference.strip()
    if reference.startswith("[") and reference.endswith("]"):
        return tuple(part for part in reference[1:-1].split("][") if part)
    return (reference,)


def _child(node: Any, part: str) -> Any:
    if isinstance(node, dict):
        return node.get(part, _MISSING)
    if isinstance(node, list) and _INDEX.fullmatch(part):
        index = int(part)
        return node[index] if -len(node) <= index < len(node) else _MISSING
    return _MISSING


def top_level_name(reference: str) -> str | None:
    """The field's name when ``reference`` names a top-level field (``bytes``, ``[bytes]``), else None: a filter
    that knows it reads such a field with one dict lookup per event."""
    parts = parse_path(reference)
    return parts[0] if len(parts) == 1 else None


def get_field(doc: dict[str, Any], reference: str, default: Any = None) -> Any:
    parts = parse_path(reference)
    if len(parts) == 1 and type(doc) is dict:  # a top-level field, most references: one dict lookup
        return doc.get(parts[0], default)
    node: Any = doc
    for part in parts:
        node = _child(node, part)
        if node is _MISSING:
            return default
    return node


def has_field(doc: dict[str, Any], reference: str) -> bool:
    parts = parse_path(reference)
    if len(parts) == 1 and type(doc) is dict:
        return parts[0] in doc
    return get_field(doc, reference, _MISSING) is not _MISSING


def set_field(doc: dict[str, Any], reference: str, value: Any) -> None:
    """Set a field, creating the objects on the way; an index into an existing list replaces that item
    (or appends, one past the end), as Logstash does."""
    parts = parse_path(reference)
    if len(parts) == 1 and type(doc) is dict:
        doc[parts[0]] = value
        return
    node: Any = doc
    for part in parts[:-1]:
        child = _child(node, part)
        if not isinstance(child, (dict, list)):
            child = {}
            if not _store(node, part, child):
                return
        node = child
    _store(node, parts[-1], value)


def _store(node: Any, part: str, value: Any) -> bool:
    if isinstance(node, dict):
        node[part] = value
        return True
    if isinstance(node, list) and _INDEX.fullmatch(part):
        index = int(part)
        if -len(node) <= index < len(node):
            node[index] = value
            return True
        if index == len(node):
            node.append(value)
            return True
    return False  # an item past the end of a list, or a key into one: Logstash refuses it too


def remove_field(doc: dict[str, Any], reference: str) -> Any:
    parts = parse_path(reference)
    node: Any = doc
    for part in parts[:-1]:
        node = _child(node, part)
        if node is _MISSING:
            return None
    last = parts[-1]
    if isinstance(node, dict):
        return node.pop(last, None)
    if isinstance(node, list) and _INDEX.fullmatch(last):
        index = int(last)
        return node.pop(index) if -len(node) <= index < len(node) else None
    return None
