"""The parser's work on one `logs.raw` record, free of Kafka and Faust so it can be tested in memory."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

from streamstash import names
from streamstash.events.envelope import (
    Batch,
    DeadLetter,
    Event,
    RecordDecodeError,
    Source,
    decode_batch,
    event_id,
    from_working_dict,
    to_working_dict,
)
from streamstash.filters import FilterChain

STAGE = names.SERVICE_PARSER


@dataclass(slots=True)
class ParseResult:
    parsed: list[Event] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    dropped: int = 0

    @property
    def received(self) -> int:
        return len(self.parsed) + len(self.dead_letters) + self.dropped


class RecordParser:
    def __init__(self, chain: FilterChain) -> None:
        self.chain = chain

    def parse_record(self, value: bytes, topic: str, partition: int, offset: int) -> ParseResult:
        result = ParseResult()
        origin = event_id(topic, partition, offset, 0)
        try:
            batch = decode_batch(value)
        except RecordDecodeError as exc:
            result.dead_letters.append(_undecodable(value, origin, str(exc)))
            return result
        for position, event in enumerate(batch.events):
            event.id = event_id(topic, partition, offset, position)
            self._parse_event(event, result)
        return result

    def _parse_event(self, event: Event, result: ParseResult) -> None:
        doc = to_working_dict(event)
        try:
            verdict = self.chain.apply(doc)
        except Exception as exc:  # noqa: BLE001 - one bad event must not stop the partition
            result.dead_letters.append(
                DeadLetter(stage=STAGE, reason=f"filter error: {exc!r}", event=event, origin=event.id)
            )
            return
        if verdict is None:
            result.parsed.append(from_working_dict(event, doc))
        elif verdict.action == "drop":
            result.dropped += 1
        else:
            failed = from_working_dict(event, doc)
            failed.message = event.message  # the original line, whatever the filters did to it
            result.dead_letters.append(DeadLetter(stage=STAGE, reason=verdict.reason, event=failed, origin=event.id))


def _undecodable(value: bytes, origin: str, reason: str) -> DeadLetter:
    event = Event(
        message=value[:4096].decode("utf-8", errors="replace"),
        source=Source(kind="unknown"),
        tags=[names.TAG_DECODE_FAILURE],
        id=origin,
        raw_b64=base64.b64encode(value).decode("ascii"),
    )
    return DeadLetter(stage=STAGE, reason=reason, event=event, origin=origin)


def parsed_batch(result: ParseResult) -> Batch | None:
    return Batch(events=result.parsed) if result.parsed else None
