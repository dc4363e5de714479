"""The events an aggregation emits: an accumulator's results with the task's kept fields, and stable ids.

Ids never depend on how events were batched: a segment's aggregate is ``<aggregation>:<task>:<seq>``,
a window's ``<aggregation>:<task>:w<start>``, and a late event's own window aggregate adds the event's
id (``...:late:<event id>``), so a replay or a crash re-emits the same documents under the same ids.
"""

from __future__ import annotations

from typing import Any

from streamstash import names
from streamstash.aggregation.accumulators import Accumulator
from streamstash.aggregation.flush import REASON_LATE, REASON_TAGS, TIMEOUT_REASONS
from streamstash.aggregation.routing import Route
from streamstash.aggregation.state import SEGMENT, TaskState
from streamstash.events.envelope import Event, Source, format_timestamp
from streamstash.events.fieldpath import remove_field, set_field


def iso_ms(epoch_ms: int) -> str:
    return format_timestamp(epoch_ms / 1000)


def segment_aggregate(route: Route, task_id: str, state: TaskState, acc: Accumulator, reason: str) -> Event:
    """The aggregate of the task's segment; closes it in ``state`` and counts it in ``seq``."""
    state["open"].pop(SEGMENT, None)
    state["seq"] += 1
    event_id = f"{route.spec.name}:{task_id}:{state['seq']}"
    return _aggregate(route, task_id, acc, reason, event_id, acc.timestamp, {})


def window_aggregate(route: Route, task_id: str, start: int, acc: Accumulator, reason: str) -> Event:
    window = route.spec.flush.window
    assert window is not None
    start_text = iso_ms(start)
    event_id = f"{route.spec.name}:{task_id}:w{start_text}"
    if reason == REASON_LATE:
        event_id = f"{event_id}:late:{acc.first_id}"
    extra = {names.FIELD_WINDOW_START: start_text, names.FIELD_WINDOW_END: iso_ms(start + window.size)}
    return _aggregate(route, task_id, acc, reason, event_id, start_text, extra)


def _aggregate(
    route: Route,
    task_id: str,
    acc: Accumulator,
    reason: str,
    event_id: str,
    timestamp: str | None,
    extra: dict[str, Any],
) -> Event:
    spec = route.spec
    fields: dict[str, Any] = {}
    if route.keeps_all:
        fields.update((key, value) for key, value in acc.fields.items() if key != names.FIELD_TIMESTAMP)
    else:
        for reference, value in acc.fields.items():
            if value is not None:
                set_field(fields, reference, value)
    for reference in spec.remove_fields:
        remove_field(fields, reference)
    fields[names.FIELD_COUNT] = acc.n
    fields.update(acc.results())
    fields.update(extra)
    fields[names.FIELD_AGGREGATED] = True
    fields[names.FIELD_TASK_ID] = task_id
    fields[names.FIELD_AGGREGATION] = spec.name
    fields[names.FIELD_FLUSH_REASON] = reason
    timed_out = reason in TIMEOUT_REASONS
    _set_added(fields, route.added)
    if timed_out:
        _set_added(fields, route.added_on_timeout)
    message = fields.pop(names.FIELD_MESSAGE, None)
    raw_tags = fields.pop(names.FIELD_TAGS, None)
    tags = list(raw_tags) if isinstance(raw_tags, list) else ([] if raw_tags is None else [str(raw_tags)])
    if reason in REASON_TAGS and REASON_TAGS[reason] not in tags:
        tags.append(REASON_TAGS[reason])
    if timed_out:
        tags += [tag for tag in spec.timeout_tags if tag not in tags]
    return Event(
        message=None if message is None else str(message),
        timestamp=timestamp,
        source=Source(kind=names.SOURCE_AGGREGATE),
        tags=tags,
        fields=fields,
        id=event_id,
    )


def _set_added(fields: dict[str, Any], added: list[tuple[str, Any, Any]]) -> None:
    """add_fields / timeout_fields, the conditions judged on the aggregate as it stands."""
    for name, value, condition in added:
        set_field(fields, name, value if condition is None else condition(fields))
