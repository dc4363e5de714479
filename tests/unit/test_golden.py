"""Golden files: real log lines through the parser's record logic, compared with hand-written expectations.

Each directory under tests/golden/ is one case: `pipeline.yml` (a pipeline file; only `filters` matter),
`input.log` (one event per line) and `expected.jsonl` (one line per input line: the expected document
without `source`, or `{"dead_letter": "<reason substring>"}` (optionally with `"tags"`) or
`{"dropped": true}`). The expectations are written by hand from Logstash's documented behaviour, never
generated from this program's output, so there is no update switch.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from streamstash import names
from streamstash.config import parse_pipeline
from streamstash.events import timeformats
from streamstash.events.envelope import Batch, Event, Source, encode, to_document
from streamstash.events.inputfields import input_fields_for
from streamstash.filters import FilterChain
from streamstash.services.parser.logic import RecordParser

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
CASES = sorted(path.name for path in GOLDEN.iterdir() if (path / "pipeline.yml").is_file())
# When the collector read the lines; stays in @timestamp unless a date filter replaces it.
INGEST_TIME = "2030-01-01T00:00:00.000Z"
# Yearless stamps (syslog) take the year of "now"; pin it so the expectations hold in any year.
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
TOPIC, PARTITION, OFFSET = "logs.raw", 0, 7


def read_lines(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    return text.removesuffix("\n").split("\n") if text else []


def test_there_are_golden_cases() -> None:
    assert len(CASES) >= 10, CASES


@pytest.mark.parametrize("case", CASES)
def test_golden(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(timeformats, "utc_now", lambda: NOW)
    directory = GOLDEN / case
    config = parse_pipeline((directory / "pipeline.yml").read_text(encoding="utf-8"), str(directory), env={})
    lines = read_lines(directory / "input.log")
    expected = [json.loads(line) for line in read_lines(directory / "expected.jsonl")]
    assert len(expected) == len(lines), f"{case}: {len(lines)} input lines but {len(expected)} expectations"

    source = Source(kind=names.SOURCE_FILE, host="golden", path=f"/var/log/{case}.log")
    batch = Batch(events=[Event(message=line, timestamp=INGEST_TIME, source=source) for line in lines])
    parser = RecordParser(FilterChain(config.filters), input_fields_for(config))
    result = parser.parse_record(encode(batch), TOPIC, PARTITION, OFFSET)

    outcomes: dict[str, dict[str, Any]] = {}
    for event in result.parsed:
        document = to_document(event)
        assert document.pop(names.FIELD_SOURCE) == {"kind": "file", "host": "golden", "path": f"/var/log/{case}.log"}
        outcomes[event.id or ""] = document
    for letter in result.dead_letters:
        outcomes[letter.origin or ""] = {
            "dead_letter": letter.reason,
            "tags": letter.event.tags,
            "message": letter.event.message,
        }
    assert result.received == len(lines)

    mismatches = []
    for position, (line, wanted) in enumerate(zip(lines, expected, strict=True)):
        got = outcomes.get(f"{TOPIC}:{PARTITION}:{OFFSET}:{position}", {"dropped": True})
        if "dead_letter" in wanted:
            ok = (
                "dead_letter" in got
                and wanted["dead_letter"] in got["dead_letter"]
                and got["message"] == line
                and got["tags"] == wanted.get("tags", got["tags"])
            )
        else:
            ok = got == wanted
        if not ok:
            mismatches.append(
                f"line {position + 1}: {line!r}\n  expected {json.dumps(wanted, sort_keys=True)}"
                f"\n  got      {json.dumps(got, sort_keys=True)}"
            )
    assert not mismatches, "\n".join(mismatches)
    assert result.dropped == sum(1 for wanted in expected if wanted.get("dropped"))
