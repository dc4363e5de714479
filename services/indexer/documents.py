"""From events to bulk actions: index names from templates, ids from where each line entered."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from streamstash import names
from streamstash.events.envelope import Event, to_document
from streamstash.events.inputfields import CLASSIC, InputFields
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
    pipeline: str | None = None
    _body: bytes | None = field(default=None, repr=False)

    def bulk_header(self) -> dict[str, Any]:
        header: dict[str, Any] = {"_index": self.index, "_id": self.id}
        if self.pipeline is not None:
            header["pipeline"] = self.pipeline
        return {self.op_type: header}

    @property
    def body(self) -> bytes:
        """The two NDJSON lines of this action, encoded once (sizes for batching, reused on retries).

        The header is the bytes ``orjson.dumps(self.bulk_header())`` gives, put together from a start
        encoded once per op_type and index: building and encoding two dicts per document was a twentieth
        of the indexer's CPU.
        """
        if self._body is None:
            tail = b"}}\n" if self.pipeline is None else b',"pipeline":' + orjson.dumps(self.pipeline) + b"}}\n"
            self._body = b"".join(
                (_header_start(self.op_type, self.index), orjson.dumps(self.id), tail, _encoded(self.document), b"\n")
            )
        return self._body

    @property
    def size(self) -> int:
        return len(self.body)


def _encoded(document: dict[str, Any]) -> bytes:
    """The document's JSON. Its keys are strings whenever it came through Kafka (JSON has no other), and
    orjson's option for other keys costs 60% more per document; a document built in process may still
    hold one (an int key a filter wrote), and is encoded with the option then."""
    try:
        return orjson.dumps(document, default=str)
    except TypeError:
        return orjson.dumps(document, default=str, option=orjson.OPT_NON_STR_KEYS)


@functools.lru_cache(maxsize=1024)  # index names are few (constant, or one per day or target)
def _header_start(op_type: str, index: str) -> bytes:
    """``{"<op_type>":{"_index":"<index>","_id":`` as orjson writes it."""
    return b"{" + orjson.dumps(op_type) + b':{"_index":' + orjson.dumps(index) + b',"_id":'


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

    def __init__(
        self,
        namer: IndexNamer,
        op_type: str = OP_INDEX,
        ecs: bool = False,
        fields: InputFields = CLASSIC,
        document_id: str | None = None,
        pipeline: str | None = None,
    ) -> None:
        self.namer = namer
        self.op_type = op_type
        self.ecs = ecs
        self.fields = fields
        self.document_id = Template(document_id) if document_id else None
        self.pipeline = Template(pipeline) if pipeline else None
        self._sees_fields = not (
            namer.constant is not None
            and all(template is None or template.is_constant for template in (self.document_id, self.pipeline))
        )

    def action_for(self, event: Event) -> Action:
        if event.id is None:
            raise ValueError("event without id: only parsed or aggregated events can be indexed")
        document = to_document(event)  # without @metadata
        renamed = to_ecs(document) if self.ecs else None
        document_id, pipeline = event.id, None
        if not self._sees_fields:
            index = self.namer.constant or ""
            pipeline = self.pipeline.text if self.pipeline is not None else None
            document_id = self.document_id.text if self.document_id is not None else event.id
        else:
            # Templates see the document and what filters saw too (`%{[@metadata][target]}`, `%{host}`);
            # index names fall back to the document's ECS names.
            seen = dict(document)
            if names.FIELD_METADATA in event.fields:
                seen[names.FIELD_METADATA] = event.fields[names.FIELD_METADATA]
            self.fields.show(seen, event)
            index = self.namer.name_for(seen, *((renamed,) if renamed is not None else ()))
            if self.pipeline is not None:
                pipeline = self.pipeline.try_render(seen)
            if self.document_id is not None:
                document_id = self.document_id.try_render(seen) or event.id
        if renamed is not None:
            document = renamed
        return Action(
            index=index, id=document_id, document=document, event=event, op_type=self.op_type, pipeline=pipeline
        )
