"""Logstash field references: `name`, `[name]`, `[a][b]` on nested dicts."""

from __future__ import annotations

import functools
from typing import Any

_MISSING = object()


@functools.lru_cache(maxsize=4096)
def parse_path(reference: str) -> tuple[str, ...]:
    reference = reference.strip()
    if reference.startswith("[") and reference.endswith("]"):
        return tuple(part for part in reference[1:-1].split("][") if part)
    return (reference,)


def get_field(doc: dict[str, Any], reference: str, default: Any = None) -> Any:
    node: Any = doc
    for part in parse_path(reference):
        if not isinstance(node, dict):
            return default
        node = node.get(part, _MISSING)
        if node is _MISSING:
            return default
    return node


def has_field(doc: dict[str, Any], reference: str) -> bool:
    return get_field(doc, reference, _MISSING) is not _MISSING


def set_field(doc: dict[str, Any], reference: str, value: Any) -> None:
    parts = parse_path(reference)
    node = doc
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[parts[-1]] = value


def remove_field(doc: dict[str, Any], reference: str) -> Any:
    parts = parse_path(reference)
    node: Any = doc
    for part in parts[:-1]:
        node = node.get(part) if isinstance(node, dict) else None
        if node is None:
            return None
    return node.pop(parts[-1], None) if isinstance(node, dict) else None
