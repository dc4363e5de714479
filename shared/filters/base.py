"""What every filter is: a callable on the working dict that may ask to drop or dead-letter the event."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol


@dataclass(frozen=True, slots=True)
class Verdict:
    """Returned by a filter that ends the event's way through the chain."""

    action: Literal["drop", "dead_letter"]
    reason: str


class Filter(Protocol):
    def apply(self, doc: dict[str, Any]) -> Verdict | None:
        """Change ``doc`` in place; return a verdict to drop or dead-letter the event."""


def add_tags(doc: dict[str, Any], tags: list[str]) -> None:
    current = doc.get("tags")
    if not isinstance(current, list):
        current = [] if current is None else [current]
        doc["tags"] = current
    for tag in tags:
        if tag not in current:
            current.append(tag)
