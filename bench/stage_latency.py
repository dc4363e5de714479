"""Where a latency line's time goes, stage by stage, from the records' own timestamps in logs.raw and logs.parsed.

Both producers stamp each record when they send it (Kafka's CreateTime, wall clock in ms), so for a marked
line: written -> in logs.raw is the collector (file poll, batching, linger), logs.raw -> logs.parsed the
parser (fetch, parse, send), and logs.parsed -> searchable the indexer with Elasticsearch's refresh and the
benchmark's own poll.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from aiokafka import ConsumerRecord

from streamstash.events.envelope import Event, decode_batch
from tests.helpers.kafka import read_to_end

_MARK_IN_LINE = re.compile(r'" \d{3} (\d+) "')


def _sent_at(records: list[ConsumerRecord], mark_of: Callable[[Event], int | None]) -> dict[int, float]:
    sent: dict[int, float] = {}
    for record in records:
        for event in decode_batch(record.value).events:
            mark = mark_of(event)
            if mark is not None:
                sent.setdefault(mark, record.timestamp / 1000)
    return sent


def _raw_mark(event: Event) -> int | None:
    found = _MARK_IN_LINE.search(event.message or "")
    return int(found.group(1)) if found else None


def _parsed_mark(event: Event) -> int | None:
    value = event.fields.get("bytes")
    return value if isinstance(value, int) else None


async def stages(
    kafka: str, raw_topic: str, parsed_topic: str, written_at: dict[int, float], seen_at: dict[int, float]
) -> dict[str, list[float]]:
    """Seconds per stage for every mark seen in all three places."""
    in_raw = _sent_at(await read_to_end(kafka, raw_topic), _raw_mark)
    in_parsed = _sent_at(await read_to_end(kafka, parsed_topic), _parsed_mark)
    marks = [mark for mark in seen_at if mark in in_raw and mark in in_parsed and mark in written_at]
    return {
        "written -> logs.raw (collector)": [in_raw[m] - written_at[m] for m in marks],
        "logs.raw -> logs.parsed (parser)": [in_parsed[m] - in_raw[m] for m in marks],
        "logs.parsed -> searchable (indexer)": [seen_at[m] - in_parsed[m] for m in marks],
    }


def summary(values: list[float]) -> str:
    if not values:
        return "no marks found"
    ordered = sorted(values)
    p50 = ordered[len(ordered) // 2]
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"p50 {p50 * 1000:6,.0f} ms, p99 {p99 * 1000:6,.0f} ms ({len(ordered):,} marks)"
