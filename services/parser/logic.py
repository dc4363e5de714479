"""The parser's work on one `logs.raw` record, free of Kafka and Faust so it can be tested in memory."""

from __future__ import annotations

from dataclasses import dataclass, field

from streamstash import names
from streamstash.events.deadletters import undecodable_letter
from streamstash.events.envelope import (
    DeadLetter,
    Event,
    RecordDecodeError,
    decode_batch,
    event_id_in,
    record_origin,
)
from streamstash.events.inputfields import CLASSIC, InputFields
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
    def __init__(self, chain: FilterChain, input_fields: InputFields = CLASSIC) -> None:
        self.chain = chain
        self.input_fields = input_fields

    def parse_record(self, value: bytes, topic: str, partition: int, offset: int) -> ParseResult:
        result = ParseResult()
        try:
            batch = decode_batch(value)
        except RecordDecodeError as exc:
            result.dead_letters.append(undecodable_letter(STAGE, topic, partition, offset, value, str(exc)))
            return result
        origin = record_origin(topic, partition, offset)
        for position, event in enumerate(batch.events):
            # An input that knows its events' identity (beats: what a Beat sends again after a crash) set it, so
            # a re-sent event overwrites its document; every other event is named by its place in logs.raw.
            if event.id is None:
                event.id = event_id_in(origin, position)
            self._parse_event(event, result)
        return result

    def _parse_event(self, event: Event, result: ParseResult) -> None:
        outcome = self.chain.filter_event(event, STAGE, self.input_fields)
        if outcome is None:
            result.dropped += 1
        elif isinstance(outcome, DeadLetter):
            result.dead_letters.append(outcome)
        else:
            result.parsed.append(outcome)
