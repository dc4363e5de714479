"""From batches to bulk actions: index names from templates, ids from where each line entered."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from streamstash.envelope import Batch, Event, to_document
from streamstash.templates import MissingFieldError, Template


@dataclass(slots=True)
class Action:
    index: str
    id: str
    document: dict[str, Any]
    event: Event

    def bulk_header(self) -> dict[str, Any]:
        return {"index": {"_index": self.index, "_id": self.id}}


class IndexNamer:
    """Renders an index template per event; events missing a referenced field go to ``fallback``."""

    def __init__(self, template: str, fallback: str) -> None:
        self.template = Template(template)
        self.fallback = fallback

    def name_for(self, doc: dict[str, Any]) -> str:
        try:
            return self.template.render(doc).lower()
        except MissingFieldError:
            return self.fallback


def build_actions(batch: Batch, namer: IndexNamer, skip: Callable[[Event], bool] | None = None) -> Iterator[Action]:
    for event in batch.events:
        if event.id is None:
            raise ValueError("event without id: only parsed or aggregated events can be indexed")
        if skip is not None and skip(event):
            continue
        document = to_document(event)
        yield Action(index=namer.name_for(document), id=event.id, document=document, event=event)
