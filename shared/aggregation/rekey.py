"""The re-key stage's work on one round of parsed events: which `logs.tasks` records to send, encoded.

Free of Faust: `services/aggregator/app.py` decodes the round's records and sends what this returns.
"""

from __future__ import annotations

from streamstash.aggregation.records import encode_task_record, task_records
from streamstash.aggregation.routing import TaskRouter
from streamstash.events.envelope import Event


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
