"""Dead letters, built the same way by every stage.

A letter names its ``origin``: for a line, its event id (where it entered ``logs.raw``); for a record
that could not be decoded at all, the record itself (``topic:partition:offset`` of the topic the stage
read). An undecodable record's letter keeps all of its bytes (``raw_b64``) besides a readable preview,
so it can be inspected or replayed whatever it held.
"""

from __future__ import annotations

import base64

from streamstash import names
from streamstash.events.envelope import DeadLetter, Event, Source, record_origin

PREVIEW_BYTES = 4096


def dead_letter(stage: str, reason: str, event: Event, origin: str | None = None) -> DeadLetter:
    """A line that ``stage`` could not handle; its origin is the event's id unless given."""
    return DeadLetter(stage=stage, reason=reason, event=event, origin=origin if origin is not None else event.id)


def undecodable_letter(
    stage: str, topic: str, partition: int, offset: int, value: bytes | None, reason: str
) -> DeadLetter:
    """A record of ``topic`` whose value is not what the stage reads."""
    data = value or b""
    origin = record_origin(topic, partition, offset)
    event = Event(
        message=data[:PREVIEW_BYTES].decode("utf-8", errors="replace"),
        source=Source(kind=names.SOURCE_UNKNOWN),
        tags=[names.TAG_DECODE_FAILURE],
        id=origin,
        raw_b64=base64.b64encode(data).decode("ascii"),
    )
    return DeadLetter(stage=stage, reason=reason, event=event, origin=origin)
