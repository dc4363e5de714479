"""The one envelope every topic carries, and its codec.

A Kafka record is never a single log line: it is a :class:`Batch` of events from one source (on
``logs.raw``/``logs.parsed``) or tasks of one partition (``logs.tasks``/``logs.aggregated``). A Faust agent
pays ~0.2-0.5 ms per record for its stream machinery, so one line per record would cap a stage at
a few thousand lines/s; a batch of hundreds makes the per-line cost the parsing itself.

Each event keeps its own identity inside a batch: ``id`` is set by the parser from where the line
entered ``logs.raw`` (topic, partition, offset, position in the record), so a replay or a
re-delivery produces the same Elasticsearch document id, and the DLQ can point at the exact line.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any, NamedTuple, TypeVar

import msgspec

from streamstash import names


class Source(msgspec.Struct, omit_defaults=True, kw_only=True):
    """Where a line entered the pipeline."""

    kind: str
    host: str | None = None
    path: str | None = None
    inode: int | None = None
    offset: int | None = None
    container_id: str | None = None
    container_name: str | None = None
    image: str | None = None
    labels: dict[str, str] | None = None
    stream: str | None = None
    peer: str | None = None


class Event(msgspec.Struct, omit_defaults=True, kw_only=True):
    """One log line (or one aggregate) and everything known about it.

    ``message`` may be removed by a filter, so it is optional. ``raw_b64`` holds the original bytes
    (base64) when they were not valid UTF-8 and ``message`` had to use replacement characters.
    """

    message: str | None = None
    timestamp: str | None = msgspec.field(default=None, name=names.FIELD_TIMESTAMP)
    source: Source
    tags: list[str] = msgspec.field(default_factory=list)
    fields: dict[str, Any] = msgspec.field(default_factory=dict)
    id: str | None = None
    raw_b64: str | None = None


class Batch(msgspec.Struct, omit_defaults=True, kw_only=True):
    """The value of every record on every streamstash topic."""

    events: list[Event]


class DeadLetter(msgspec.Struct, omit_defaults=True, kw_only=True):
    """A line a stage could not handle, with the reason; the value of records on ``logs.dlq``."""

    stage: str
    reason: str
    event: Event
    origin: str | None = None
    failed_at: str = msgspec.field(default_factory=lambda: format_timestamp(time.time()))


class DeadLetterBatch(msgspec.Struct, kw_only=True):
    letters: list[DeadLetter]


class WireEvent(msgspec.Struct, omit_defaults=True, kw_only=True):
    """An :class:`Event` with ``fields`` kept as the JSON object they came as, for a stage that looks at
    most events' fields only as text: the aggregator's re-key stage passes over the events no aggregation
    can take without decoding their fields (``TaskRouter.may_route``). :func:`decode_wire_batch` accepts
    what :func:`decode_batch` accepts; :func:`event_of` gives the whole event where one is needed.
    """

    message: str | None = None
    timestamp: str | None = msgspec.field(default=None, name=names.FIELD_TIMESTAMP)
    source: Source
    tags: list[str] = msgspec.field(default_factory=list)
    fields: msgspec.Raw = msgspec.field(default_factory=lambda: msgspec.Raw(b"{}"))
    id: str | None = None
    raw_b64: str | None = None


class WireBatch(msgspec.Struct, kw_only=True):
    events: list[WireEvent]


class _Unread(msgspec.Struct):
    """An event skipped by the decoder: its JSON is parsed, but nothing of it is kept or checked."""


class _CountedBatch(msgspec.Struct, kw_only=True):
    events: list[_Unread]


_batch_encoder = msgspec.json.Encoder()
_batch_decoder = msgspec.json.Decoder(Batch)
_dlq_decoder = msgspec.json.Decoder(DeadLetterBatch)
_wire_decoder = msgspec.json.Decoder(WireBatch)
_fields_decoder = msgspec.json.Decoder(dict[str, Any])
_count_decoder = msgspec.json.Decoder(_CountedBatch)


Decoded = TypeVar("Decoded")


class RecordDecodeError(ValueError):
    """A record value that is not a streamstash batch; it goes to the DLQ, never crashes a stage."""


def encode(value: Batch | DeadLetterBatch) -> bytes:
    return _batch_encoder.encode(value)


def _decoded(decoder: msgspec.json.Decoder[Decoded], data: bytes, what: str) -> Decoded:
    try:
        return decoder.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise RecordDecodeError(f"not a streamstash {what}: {exc}") from exc


def decode_batch(data: bytes) -> Batch:
    return _decoded(_batch_decoder, data, "batch")


def decode_wire_batch(data: bytes) -> WireBatch:
    batch = _decoded(_wire_decoder, data, "batch")
    for event in batch.events:
        # decode_batch's dict[str, Any]: any JSON object, and only that
        if memoryview(event.fields)[:1].tobytes() != b"{":
            raise RecordDecodeError("not a streamstash batch: Expected `object` for `fields`")
    return batch


def count_events(data: bytes) -> int:
    """How many events a batch holds, none of them decoded: for a stage that passes over a whole record.

    Refuses what is not JSON with a list of objects under ``events``; what an event holds is not checked
    (``decode_batch`` checks it).
    """
    return len(_decoded(_count_decoder, data, "batch").events)


def event_of(wire: WireEvent) -> Event:
    """The whole event of a :class:`WireEvent`."""
    return Event(
        message=wire.message,
        timestamp=wire.timestamp,
        source=wire.source,
        tags=wire.tags,
        fields=_fields_decoder.decode(wire.fields),
        id=wire.id,
        raw_b64=wire.raw_b64,
    )


def decode_dead_letters(data: bytes) -> DeadLetterBatch:
    return _decoded(_dlq_decoder, data, "dead-letter batch")


def encoded_size(event: Event) -> int:
    """Cheap upper-bound estimate of an event's encoded size, for byte-bounded batching."""
    return len(event.message or "") * 2 + 256


def record_origin(topic: str, partition: int, offset: int) -> str:
    """Where a Kafka record is: ``topic:partition:offset``, the prefix of its events' ids."""
    return f"{topic}:{partition}:{offset}"


def event_id(topic: str, partition: int, offset: int, position: int) -> str:
    """The document id of the line at ``position`` in record ``offset`` of ``topic``/``partition``."""
    return event_id_in(record_origin(topic, partition, offset), position)


def event_id_in(origin: str, position: int) -> str:
    """:func:`event_id` of the line at ``position`` in the record ``origin`` names (:func:`record_origin`): a
    parser names every event of a record, and makes the origin once for all of them."""
    return f"{origin}:{position}"


class EventPosition(NamedTuple):
    """What :func:`event_id` was made of."""

    topic: str
    partition: int
    offset: int
    position: int


def parse_event_id(value: str | None) -> EventPosition | None:
    """The parts of an id :func:`event_id` made; None for any other id (aggregates, record origins)."""
    if not value:
        return None
    parts = value.rsplit(":", 3)
    if len(parts) != 4:
        return None
    topic, partition, offset, position = parts
    try:
        return EventPosition(topic, int(partition), int(offset), int(position))
    except ValueError:
        return None


def format_timestamp(epoch_seconds: float) -> str:
    """ISO 8601 in UTC with milliseconds, the form ``@timestamp`` always takes."""
    dt = datetime.fromtimestamp(epoch_seconds, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def to_document(event: Event) -> dict[str, Any]:
    """The Elasticsearch document of an event: fields at the top level, like Logstash, without `@metadata`
    (which Logstash never indexes either)."""
    doc: dict[str, Any] = dict(event.fields)
    doc.pop(names.FIELD_METADATA, None)
    if event.message is not None:
        doc.setdefault(names.FIELD_MESSAGE, event.message)
    if event.timestamp is not None:
        doc[names.FIELD_TIMESTAMP] = event.timestamp
    if event.tags:
        doc[names.FIELD_TAGS] = event.tags
    if event.raw_b64 is not None:
        doc[names.FIELD_RAW_B64] = event.raw_b64
    doc[names.FIELD_SOURCE] = msgspec.to_builtins(event.source)
    return doc


def to_working_dict(event: Event) -> dict[str, Any]:
    """Flatten an event into the dict filters work on (message, @timestamp, tags beside fields)."""
    doc = dict(event.fields)
    if event.message is not None:
        doc[names.FIELD_MESSAGE] = event.message
    if event.timestamp is not None:
        doc[names.FIELD_TIMESTAMP] = event.timestamp
    doc[names.FIELD_TAGS] = list(event.tags)
    return doc


def fold_working_dict(event: Event, doc: dict[str, Any]) -> Event:
    """Fold a filtered working dict back into ``event``, in place (its identity, source and raw bytes stay), and
    return it. Once per line in the parser: setting four members instead of building a new event saved about
    1 µs a line (bench/README.md, issue 16)."""
    message = doc.pop(names.FIELD_MESSAGE, None)
    timestamp = doc.pop(names.FIELD_TIMESTAMP, None)
    tags = doc.pop(names.FIELD_TAGS, None) or []
    event.message = message if message is None else str(message)
    event.timestamp = timestamp if timestamp is None else str(timestamp)
    event.tags = list(tags) if isinstance(tags, list) else [str(tags)]
    event.fields = doc
    return event
