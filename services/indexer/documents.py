"""From events to bulk actions: index names from templates, ids from where each line entered."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from streamstash.events.envelope import Event, to_document
from streamstash.events.templates import MissingFieldError, Template
from streamstash.services.indexer.ecs import to_ecs

if TYPE_CHECKING:
    from streamstash.services.indexer.commits import PendingRecord

OP_INDEX = "index"
OP_CREATE = "create"


@dataclass(slots=True, eq=False)
class Action:
    """One document to write, with the record it came from (its offset commits once this is settled)."""

    index: str
    id: str
    document: dict[str, Any]
    event: Event
    op_type: str = OP_INDEX
    topic: str = ""
    partition: int = -1
    record: PendingRecord | None = None
    retries: int = 0
    _body: bytes | None = field(default=None, repr=False)

    def bulk_header(self) -> dict[str, Any]:
        return {self.op_type: {"_index": self.index, "_id": self.id}}

    @property
    def body(self) -> bytes:
        """The two NDJSON lines of this action, encoded once (sizes for batching, reused on retries)."""
        if self._body is None:
            self._body = (
                orjson.dumps(self.bulk_header())
                + b"\n"
                + orjson.dumps(self.document, default=str, option=orjson.OPT_NON_STR_KEYS)
                + b"\n"
            )
        return self._body

    @property
    def size(self) -> int:
        return len(self.body)


class IndexNamer:
    """Renders an index template per document; documents missing a referenced field go to ``fallback``."""

    def __init__(self, template: str, fallback: str) -> None:
        self.template = Template(template)
        self.fallback = fallback
        self.constant = self.template.text.lower() if self.template.is_constant else None

    def name_for(self, doc: dict[str, Any], *alternatives: dict[str, Any]) -> str:
        if self.constant is not None:  # the common case, asked once per document
            return self.constant
        for candidate in (doc, *alternatives):
            try:
                return self.template.render(candidate).lower()
            except MissingFieldError:
                continue
        return self.fallback


class DocumentBuilder:
    """Turns the events of one record into actions for one topic's index (or data stream)."""

    def __init__(self, namer: IndexNamer, op_type: str = OP_INDEX, ecs: bool = False) -> None:
        self.namer = namer
        self.op_type = op_type
        self.ecs = ecs

    def action_for(self, event: Event) -> Action:
        if event.id is None:
            raise ValueError("event without id: only parsed or aggregated events can be indexed")
        document = to_document(event)
        if self.ecs:
            renamed = to_ecs(document)
            # Templates may name either the event's own fields or their ECS names.
            index = self.namer.name_for(document, renamed)
            document = renamed
        else:
            index = self.namer.name_for(document)
        return Action(index=index, id=event.id, document=document, event=event, op_type=self.op_type)
