"""The issue's application log: generated lines, the pipeline that aggregates them, and the straight
computation of what the aggregates must be (a plain regex and arithmetic, independent of grok and of
the aggregator's code)."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from streamstash.events.envelope import Batch, Event, Source

GROK_PATTERN = (
    "%{TIMESTAMP_ISO8601:origtime}%{GREEDYDATA} %{WORD:progress}:%{WORD:action} "
    "elapsed:%{NUMBER:elapsed:int}%{GREEDYDATA}"
)
LINE = re.compile(r"^(?P<time>\S+) \S+ \S+ (?P<progress>\w+):(?P<action>\w+) elapsed:(?P<elapsed>\d+) ms")
START = datetime(2026, 11, 21, 10, 0, 0, tzinfo=UTC)
PROGRESSES = ["resize", "upload", "encode", "scan"]
ACTIONS = ["thumbnail", "avatar", "banner"]


def task_lines(count: int, seed: int = 1, tasks: int | None = None, step_ms: int = 10) -> list[str]:
    """``count`` lines like the issue's example, time increasing by ``step_ms``; ``tasks`` distinct task ids."""
    rng = random.Random(seed)
    pairs = [(progress, action) for progress in PROGRESSES for action in ACTIONS]
    if tasks is not None and tasks > len(pairs):
        pairs = [(f"p{index % 100}", f"a{index // 100}") for index in range(tasks)]
    elif tasks is not None:
        pairs = pairs[:tasks]
    lines = []
    for index in range(count):
        moment = START + timedelta(milliseconds=index * step_ms)
        stamp = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
        progress, action = rng.choice(pairs)
        lines.append(
            f"{stamp} worker-{rng.randint(1, 8)} INFO {progress}:{action} elapsed:{rng.randint(1, 2000)} ms id={index}"
        )
    return lines


def issue_pipeline(every: str = "${AGG_EVERY:-1}", index_events: bool = False, **flush: Any) -> dict[str, Any]:
    """The pipeline body of the issue's case (grok + date, aggregation per `%{action}_%{progress}`)."""
    return {
        "filters": [
            {"grok": {"match": {"message": [GROK_PATTERN]}}},
            {"date": {"match": ["origtime", "ISO8601"]}},
        ],
        "aggregations": [
            {
                "name": "task_elapsed",
                "task_id": "%{action}_%{progress}",
                "metrics": {"elapsedAvg": {"type": "avg", "field": "elapsed"}, "count": {"type": "count"}},
                "flush": {"every": every, **flush},
                "keep_fields": ["*"],
                "remove_fields": ["message", "tags", "elapsed"],
                "index_events": index_events,
            }
        ],
    }


@dataclass(frozen=True)
class Expected:
    task_id: str
    action: str
    progress: str
    count: int
    average: float
    timestamp: str


def expected_every(lines: list[str], every: int, name: str = "task_elapsed") -> dict[str, Expected]:
    """Per task, in line order, one aggregate per ``every`` lines: id -> what it must hold."""
    pending: dict[str, list[tuple[str, int]]] = {}
    emitted: dict[str, int] = {}
    out = {}
    for line in lines:
        match = LINE.match(line)
        assert match, line
        task = f"{match['action']}_{match['progress']}"
        pending.setdefault(task, []).append((match["time"], int(match["elapsed"])))
        if len(pending[task]) == every:
            group = pending.pop(task)
            emitted[task] = emitted.get(task, 0) + 1
            out[f"{name}:{task}:{emitted[task]}"] = Expected(
                task, match["action"], match["progress"], every, sum(e for _, e in group) / every, group[-1][0]
            )
    return out


def raw_batches(lines: list[str], per_record: int, path: str = "/var/log/app/tasks.log") -> list[tuple[bytes, Batch]]:
    """`logs.raw` records as the collector writes them: batches of one source's lines, keyed by the source."""
    batches = []
    offset = 0
    for start in range(0, len(lines), per_record):
        events = []
        for line in lines[start : start + per_record]:
            events.append(
                Event(
                    message=line,
                    timestamp="2026-11-21T12:00:00.000Z",
                    source=Source(kind="file", host="test", path=path, offset=offset),
                )
            )
            offset += len(line) + 1
        batches.append((path.encode(), Batch(events=events)))
    return batches


def parsed_events(lines: list[str], raw_partition: int = 0, per_record: int = 100) -> list[Event]:
    """What the parser makes of ``lines`` with the issue's pipeline, ids included (for feeding `logs.parsed`)."""
    events = []
    for index, line in enumerate(lines):
        match = LINE.match(line)
        assert match, line
        events.append(
            Event(
                timestamp=match["time"],
                source=Source(kind="file", host="test", path="/var/log/app/tasks.log"),
                fields={
                    "origtime": match["time"],
                    "progress": match["progress"],
                    "action": match["action"],
                    "elapsed": int(match["elapsed"]),
                },
                id=f"logs.raw:{raw_partition}:{index // per_record}:{index % per_record}",
            )
        )
    return events
