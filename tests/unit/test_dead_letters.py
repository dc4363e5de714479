"""One dead-letter builder and one origin/id function, whichever stage fails."""

from __future__ import annotations

import base64

import pytest
from aiokafka.structs import ConsumerRecord

from streamstash import names
from streamstash.config import parse_pipeline
from streamstash.events.envelope import (
    Batch,
    Event,
    EventPosition,
    Source,
    encode,
    event_id,
    parse_event_id,
    record_origin,
)
from streamstash.filters import FilterChain
from streamstash.services.indexer.app import document_builders
from streamstash.services.indexer.pipeline import decode_record
from streamstash.services.parser.logic import RecordParser

GARBAGE = b"\xff\xfe not a batch \x00" + b"x" * 5000


def consumer_record(topic: str, partition: int, offset: int, value: bytes) -> ConsumerRecord:
    return ConsumerRecord(topic, partition, offset, 0, 0, None, value, None, 0, len(value), [])


def test_event_ids_parse_back_into_what_made_them() -> None:
    assert parse_event_id(event_id("logs.raw", 3, 1234, 7)) == EventPosition("logs.raw", 3, 1234, 7)
    assert event_id("logs.raw", 3, 1234, 7).startswith(record_origin("logs.raw", 3, 1234) + ":")


@pytest.mark.parametrize(
    "value", [None, "", "logs.raw:3:1234", "agg:task:w2015-01-04T05:13:42.000Z", "logs.raw:x:1:2", "t:1:2:three"]
)
def test_other_ids_are_not_event_positions(value: str | None) -> None:
    assert parse_event_id(value) is None


def test_parser_and_indexer_dead_letter_an_undecodable_record_alike() -> None:
    parser_letter = RecordParser(FilterChain([])).parse_record(GARBAGE, "logs.raw", 2, 41).dead_letters[0]
    config = parse_pipeline("{}", ".", env={})
    builder = document_builders(config)[config.kafka.topics.parsed]
    indexer_letter = decode_record(consumer_record("logs.parsed", 2, 41, GARBAGE), builder).letters[0]
    for letter, stage, topic in ((parser_letter, "parser", "logs.raw"), (indexer_letter, "indexer", "logs.parsed")):
        assert letter.stage == stage
        assert letter.origin == letter.event.id == f"{topic}:2:41"
        assert letter.event.tags == [names.TAG_DECODE_FAILURE]
        assert letter.event.source.kind == names.SOURCE_UNKNOWN
        assert base64.b64decode(letter.event.raw_b64 or "") == GARBAGE  # every byte, not only the preview
        assert len(letter.event.message or "") <= 4096


def test_a_line_that_fails_in_a_filter_names_its_event_id_as_origin() -> None:
    config = parse_pipeline("filters: [{grok: {match: {message: ['%{NUMBER:n}']}}}]", ".", env={})
    record = encode(Batch(events=[Event(message="no digits here", source=Source(kind="stdin"))]))
    letter = RecordParser(FilterChain(config.filters)).parse_record(record, "logs.raw", 0, 9).dead_letters[0]
    assert letter.origin == letter.event.id == "logs.raw:0:9:0"
