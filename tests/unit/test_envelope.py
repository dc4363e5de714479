from __future__ import annotations

import msgspec
import pytest

from streamstash import names
from streamstash.events.envelope import (
    Batch,
    DeadLetter,
    DeadLetterBatch,
    Event,
    RecordDecodeError,
    Source,
    WireEvent,
    decode_batch,
    decode_dead_letters,
    decode_wire_batch,
    encode,
    event_id,
    event_of,
    fold_working_dict,
    to_document,
    to_working_dict,
)


def sample_event(**overrides) -> Event:
    values = {
        "message": "GET / 200",
        "timestamp": "2015-01-04T05:13:42.000Z",
        "source": Source(kind=names.SOURCE_FILE, path="/var/log/a.log", inode=7, offset=120),
        "tags": ["web"],
        "fields": {"verb": "GET", "response": 200},
    }
    values.update(overrides)
    return Event(**values)


def test_batch_round_trips_with_timestamp_under_its_document_name() -> None:
    batch = Batch(events=[sample_event(), sample_event(message="second", raw_b64="AAE=")])
    data = encode(batch)
    assert b'"@timestamp":"2015-01-04T05:13:42.000Z"' in data
    assert decode_batch(data) == batch


def test_unset_optional_fields_are_not_encoded() -> None:
    data = encode(Batch(events=[Event(message="x", source=Source(kind="stdin"))]))
    assert b"raw_b64" not in data and b"container_id" not in data and b"null" not in data


@pytest.mark.parametrize("garbage", [b"", b"not json", b'{"events": 3}', b'{"events": [{"message": 1}]}', b"\xff\xfe"])
def test_garbage_is_a_decode_error_not_a_crash(garbage: bytes) -> None:
    with pytest.raises(RecordDecodeError):
        decode_batch(garbage)


def test_dead_letters_round_trip() -> None:
    letters = DeadLetterBatch(
        letters=[DeadLetter(stage="parser", reason="grok: no match", event=sample_event(), origin="logs.raw:0:5:1")]
    )
    decoded = decode_dead_letters(encode(letters))
    assert decoded.letters[0].reason == "grok: no match"
    assert decoded.letters[0].failed_at.endswith("Z")


def test_event_id_names_topic_partition_offset_and_position() -> None:
    assert event_id("logs.raw", 3, 1234, 17) == "logs.raw:3:1234:17"


def test_document_puts_fields_at_top_level_with_source_and_tags() -> None:
    doc = to_document(sample_event())
    assert doc["verb"] == "GET" and doc["response"] == 200
    assert doc["@timestamp"] == "2015-01-04T05:13:42.000Z"
    assert doc["message"] == "GET / 200"
    assert doc["tags"] == ["web"]
    assert doc["source"] == {"kind": "file", "path": "/var/log/a.log", "inode": 7, "offset": 120}


def test_working_dict_round_trip_keeps_identity_and_allows_removing_message() -> None:
    event = sample_event(id="logs.raw:0:1:2", raw_b64="AA==")
    doc = to_working_dict(event)
    doc.pop("message")
    doc["extra"] = 1
    back = fold_working_dict(event, doc)
    assert back is event  # folded in place
    assert back.message is None
    assert back.id == "logs.raw:0:1:2" and back.raw_b64 == "AA==" and back.source == event.source
    assert back.fields == {"verb": "GET", "response": 200, "extra": 1}
    assert back.tags == ["web"]


WIRE_CASES = [
    b'{"events":[{"source":{"kind":"file"},"fields":[1,2]}]}',
    b'{"events":[{"source":{"kind":"file"},"fields":"text"}]}',
    b'{"events":[{"source":"file"}]}',
    b'{"events":[{"source":{"kind":"file"},"fields":{"a":1}',  # cut short
]


@pytest.mark.parametrize("value", WIRE_CASES)
def test_the_wire_decoder_refuses_what_decode_batch_refuses(value: bytes) -> None:
    with pytest.raises(RecordDecodeError):
        decode_batch(value)
    with pytest.raises(RecordDecodeError):
        decode_wire_batch(value)


def test_an_event_from_the_wire_is_the_decoded_event() -> None:
    events = [
        Event(message="m", timestamp="2015-01-04T05:13:42.000Z", source=Source(kind="file", path="/a"), id="x"),
        Event(source=Source(kind="tcp"), tags=["t"], fields={"a": {"b": [1, 2.5, None]}, "c": "d"}, raw_b64="/w=="),
    ]
    value = encode(Batch(events=events))
    assert [event_of(wire) for wire in decode_wire_batch(value).events] == decode_batch(value).events
    spaced = b'{"events":[{"source":{"kind":"f"},"fields": { "x" : 1 } }]}'
    assert event_of(decode_wire_batch(spaced).events[0]).fields == {"x": 1}


def test_a_wire_event_has_the_fields_of_an_event_under_the_same_names() -> None:
    """`event_of` copies them one by one: an Event field that WireEvent lacks would be dropped silently."""

    def names_of(struct: type) -> list[tuple[str, str]]:
        return [(info.name, info.encode_name) for info in msgspec.structs.fields(struct)]

    assert names_of(WireEvent) == names_of(Event)
