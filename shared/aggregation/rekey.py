"""The re-key stage's work on one round of parsed events: which `logs.tasks` records to send, encoded.

Free of Faust: `services/aggregator/app.py` decodes the round's records and sends what this returns.
"""

from __future__ import annotations

from streamstash.aggregation.records import encode_task_record, task_records
from streamstash.aggregation.routing import TaskRouter
from streamstash.events.envelope import Event, count_events, decode_wire_batch, event_of


def rekey_round(
    events: list[Event], router: TaskRouter, partitions: int, max_events: int, max_bytes: int
) -> list[tuple[int, bytes, int]]:
    """(partition, encoded `logs.tasks` record, events in it) for the round, in the order to send them."""
    by_partition = task_records(events, router.keys_for, partitions, max_events, max_bytes)
    return [
        (partition, encode_task_record(record), record.event_count())
        for partition, records in by_partition.items()
        for record in records
    ]


def routable_events(value: bytes, router: TaskRouter) -> tuple[int, list[Event]]:
    """How many events a `logs.parsed` record holds, and those of them an aggregation may take.

    The others have a field every aggregation needs missing from their fields' text (``may_route``): they
    are never decoded beyond that. When the record's whole text lacks such a field, so does every event's:
    the record's events are only counted, not decoded or checked (the indexer, which decodes every event
    of `logs.parsed`, dead-letters what it cannot decode). Raises ``RecordDecodeError`` for what
    ``decode_batch`` refuses, except for such a record: there only for what is not a list of events.
    """
    if not router.may_route(value):
        return count_events(value), []
    batch = decode_wire_batch(value)
    return len(batch.events), [event_of(wire) for wire in batch.events if router.may_route(bytes(wire.fields))]
