"""Writing a cached result into an event fast: many fields under a few parents, as geoip and useragent produce."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from streamstash.events.fieldpath import parse_path

Tree = dict[str, Any]


def tree_of(fields: Iterable[tuple[str, Any]]) -> Tree:
    """Field references and values -> one nested dict, built once per cached result."""
    tree: Tree = {}
    for reference, value in fields:
        *parents, leaf = parse_path(reference)
        node = tree
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return tree


def write_tree(doc: dict[str, Any], tree: Tree) -> None:
    """Merge ``tree`` into ``doc``: objects are merged (new ones created, so the cached tree is never shared with
    an event that a later filter may change), anything else is overwritten."""
    for key, value in tree.items():
        if type(value) is dict:
            child = doc.get(key)
            if type(child) is not dict:
                child = doc[key] = {}
            write_tree(child, value)
        else:
            doc[key] = value
