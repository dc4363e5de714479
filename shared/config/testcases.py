"""Test cases of a pipeline (`streamstash test`): in the pipeline file's `tests:` section or in files of their own.

A case feeds lines (or events) through the pipeline's filters and aggregations in memory and says which
documents, aggregates, dead letters and drops must come out. What a case does not list must not happen;
`any` leaves a kind unchecked.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any, Literal

import orjson
from pydantic import Field, field_validator, model_validator

from streamstash.config.base import StrictModel
from streamstash.events.timeformats import format_iso8601, parse_iso8601

# When "the collector read the lines": the `@timestamp` of an event no date filter sets, and the clock
# from which a stamp without a year takes its year. Fixed, so that a case passes the same way every day.
DEFAULT_RECEIVED_AT = "2000-01-01T00:00:00.000Z"

MatchMode = Literal["all", "subset"]
Unchecked = Literal["any"]

_REFERENCE = re.compile(r"^(\[[^\[\],]+\])+$")


def expand_references(mapping: dict[str, Any]) -> dict[str, Any]:
    """Keys written as field references (`[log][file][path]`) become nested objects, as in LFV's files."""
    result: dict[str, Any] = {}
    for key, raw in mapping.items():
        value = expand_references(raw) if isinstance(raw, dict) else raw
        parts = key[1:-1].split("][") if isinstance(key, str) and _REFERENCE.match(key) else [key]
        node = result
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[parts[-1]] = value
    return result


def plain_value(value: Any) -> Any:
    """YAML's own types as the JSON an event holds: an unquoted time is the `@timestamp` text."""
    if isinstance(value, datetime):
        return format_iso8601(value if value.tzinfo is not None else value.replace(tzinfo=UTC))
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(key): plain_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain_value(item) for item in value]
    return value


def document_value(value: Any) -> dict[str, Any]:
    """A mapping, or the text of a JSON object, with plain values and field-reference keys expanded."""
    if isinstance(value, str):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError as exc:
            raise ValueError(f"not a JSON object: {exc}") from exc
    if not isinstance(value, dict):
        # A ValueError: pydantic reports it as a validation error at its key (a TypeError would escape).
        raise ValueError(f"expected a mapping (or the text of a JSON object), got {type(value).__name__}")
    return expand_references(plain_value(value))


def text_lines(value: Any) -> Any:
    """Lines as text: one string is one line; an unquoted integer or date (`- 404`) is the text it was written
    as; other values YAML reads as something else (true, 1.50, 10:00:00Z) must be quoted."""
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list):
        return value
    lines = []
    for index, item in enumerate(value):
        if isinstance(item, str):
            lines.append(item)
        elif isinstance(item, date) and not isinstance(item, datetime):
            lines.append(item.isoformat())
        elif isinstance(item, int) and not isinstance(item, bool):
            lines.append(str(item))
        else:
            raise ValueError(f"line {index} is read by YAML as {item!r}, not as text: quote it")
    return lines


def _documents(value: Any) -> Any:
    if isinstance(value, list):
        return [document_value(item) for item in value]
    return value


class CaseExpectation(StrictModel):
    """What a case must produce. A kind left out must not occur at all; `any` leaves it unchecked."""

    documents: list[dict[str, Any]] | Unchecked = Field(
        default_factory=list,
        description="The documents the indexer writes for the events, in the order of the lines (events an "
        "aggregation consumes with `index_events: false` are not among them). `source` is left out.",
        examples=[[{"verb": "GET", "response": 200}]],
    )
    aggregates: list[dict[str, Any]] | Unchecked = Field(
        default_factory=list,
        description="The aggregates emitted, in the order they are emitted, with their bookkeeping fields "
        "(`count`, `task_id`, `aggregation`, `flush_reason`, `aggregated`).",
        examples=[[{"task_id": "resize_banner", "count": 3, "elapsedAvg": 500.0}]],
    )
    dead_letters: list[dict[str, Any]] | Unchecked = Field(
        default_factory=list,
        description="The dead letters, each `{reason: ..., event: {document}}` (the event keeps its original "
        "`message`).",
        examples=[[{"reason": "grok: no pattern matched field 'message'", "event": {"message": ""}}]],
    )
    dropped: int | Unchecked = Field(0, ge=0, description="How many events a `drop` filter drops.", examples=[1])

    @field_validator("documents", "aggregates", "dead_letters", mode="before")
    @classmethod
    def _plain_documents(cls, value: Any) -> Any:
        return _documents(value)


class PipelineTestCase(StrictModel):
    """One case: lines (or events) in, the documents, aggregates, dead letters and drops that must come out."""

    name: str = Field(
        min_length=1,
        description="Unique within its file; `--case` selects cases by it.",
        examples=["a 404 is parsed"],
    )
    description: str = Field("", description="What the case shows (printed when it fails).", examples=["a 404"])
    lines: list[str] = Field(
        default_factory=list,
        description="Log lines, one event each, in order, as an input would read them (they become `message`).",
        examples=[['83.149.9.216 - - [04/Jan/2015:05:13:42 +0000] "GET / HTTP/1.1" 200 203 "-" "curl/8.5"']],
    )
    events: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Instead of `lines`: events as JSON (a mapping or its text). `message`, `@timestamp` and "
        "`tags` are the envelope's, every other key is a field; keys may be field references (`[a][b]`).",
        examples=[[{"message": "resize:banner elapsed:20", "@timestamp": "2026-11-21T10:00:00.000Z"}]],
    )
    add_fields: dict[str, Any] = Field(
        default_factory=dict,
        description="Fields set on every event, as an input's `add_fields` sets them (on top of those of "
        "`input`); keys may be field references.",
        examples=[{"env": "prod"}],
    )
    type: str | None = Field(
        None,
        description="Logstash's input `type`: the `type` field of every event that does not have one yet.",
        examples=["apache"],
    )
    input: int | Literal["auto", "none"] = Field(
        "auto",
        description="Which of the pipeline's `inputs` (its index) the lines come through: its `add_fields` are "
        "set on them. `auto`: the only input when there is exactly one; `none`: no input's fields.",
        examples=[0],
    )
    received_at: str = Field(
        DEFAULT_RECEIVED_AT,
        description="When the collector read the lines: the `@timestamp` of events no date filter sets, and "
        "the clock that gives a stamp without a year its year. Fixed, so results never depend on the day.",
        examples=["2026-11-21T10:00:00.000Z"],
    )
    expect: CaseExpectation = Field(default_factory=CaseExpectation, description="What must come out.")
    match: MatchMode | None = Field(
        None,
        description="`all`: a produced document must have exactly the fields expected; `subset`: the fields "
        "expected must be there with those values, others may be too (nested objects likewise). Unset: the "
        "file's `match`.",
        examples=["subset"],
    )
    ignore: list[str] = Field(
        default_factory=list,
        description="Fields (references like `[http][status]`) left out of both sides in this case, on top of "
        "the file's `ignore`.",
        examples=[["@timestamp"]],
    )
    ordered: bool = Field(
        True,
        description="Documents, aggregates and dead letters come in the order listed; false: in any order.",
        examples=[False],
    )
    at_end: Literal["none", "idle", "all"] = Field(
        "none",
        description="After the last event: `none` leaves open tasks open; `idle` emits what aggregations with "
        "`flush.idle_flush` hold, as when the stream goes quiet; `all` emits every open task (tagged "
        "`_aggregate_idle`).",
        examples=["idle"],
    )

    @field_validator("received_at", mode="before")
    @classmethod
    def _a_time(cls, value: Any) -> Any:
        value = plain_value(value)
        if isinstance(value, str):
            moment = parse_iso8601(value)
            if moment is None:
                raise ValueError(f"not an ISO 8601 time: {value!r}")
            return format_iso8601(moment)
        return value

    @field_validator("lines", mode="before")
    @classmethod
    def _text_lines(cls, value: Any) -> Any:
        return text_lines(value)

    @field_validator("events", mode="before")
    @classmethod
    def _plain_events(cls, value: Any) -> Any:
        return _documents(value)

    @field_validator("add_fields", mode="before")
    @classmethod
    def _plain_fields(cls, value: Any) -> Any:
        return document_value(value) if isinstance(value, dict) else value

    @model_validator(mode="after")
    def _one_kind_of_input(self) -> PipelineTestCase:
        if self.lines and self.events:
            raise ValueError("a case takes `lines` or `events`, not both")
        if not self.lines and not self.events:
            raise ValueError("a case needs `lines` or `events`")
        return self


class PipelineTests(StrictModel):
    """Test cases (`streamstash test`): a list of cases, or this mapping with settings for all of them."""

    match: MatchMode = Field(
        "all", description="How documents are compared unless a case says otherwise.", examples=["subset"]
    )
    ignore: list[str] = Field(
        default_factory=list,
        description="Fields left out of both sides in every case (references like `[http][status]`).",
        examples=[["@timestamp", "[host][name]"]],
    )
    cases: list[PipelineTestCase] = Field(
        default_factory=list,
        description="The cases, run in this order, each on its own (no state carries over).",
        examples=[[{"name": "empty line", "lines": [""], "expect": {"dead_letters": "any"}}]],
    )

    @model_validator(mode="before")
    @classmethod
    def _a_list_is_the_cases(cls, value: Any) -> Any:
        return {"cases": value} if isinstance(value, list) else value

    @field_validator("cases")
    @classmethod
    def _unique_names(cls, value: list[PipelineTestCase]) -> list[PipelineTestCase]:
        seen: set[str] = set()
        for case in value:
            if case.name in seen:
                raise ValueError(f"two cases are named {case.name!r}")
            seen.add(case.name)
        return value
