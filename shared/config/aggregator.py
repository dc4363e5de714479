"""Settings of the aggregator: per-task aggregations in the spirit of Logstash's `aggregate`.

Durations are written `500ms`, `30s`, `5m`, `1h`, `1d` (or a number of seconds) and held in
milliseconds. Every time-based rule runs on event time (`@timestamp`) and a watermark, so a replay
of the same input gives the same aggregates; only `idle_flush` looks at the wall clock.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, model_validator

from streamstash.config.base import StrictModel
from streamstash.events.conditions import ConditionError, compile_condition

MetricKind = Literal["count", "sum", "avg", "min", "max", "first", "last", "distinct", "percentiles", "list"]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, None: 1000}


def parse_duration_ms(value: object) -> object:
    """`"5m"` -> 300000; a bare number is seconds. Anything else is left for pydantic to reject."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return round(value * 1000)
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match is None:
            raise ValueError(f"not a duration: {value!r} (write e.g. 500ms, 30s, 5m, 1h, 1d)")
        return round(float(match.group(1)) * _UNIT_MS[match.group(2)])
    return value


DurationMs = Annotated[int, BeforeValidator(parse_duration_ms), Field(ge=0)]


class MetricSpec(StrictModel):
    type: MetricKind = Field(
        description="What to compute. `distinct` estimates the number of distinct values "
        "(HyperLogLog, exact for small counts); `percentiles` uses a DDSketch of bounded size.",
        examples=["avg"],
    )
    field: str | None = Field(
        None,
        description="The field it reads (not for count); numeric except for first/last/distinct/list.",
        examples=["elapsed"],
    )
    fields: dict[str, str] = Field(
        default_factory=dict,
        description="`list`: collect one object per event instead of a value, key -> the field it reads "
        "(Logstash's `map['towns'] << {'town_name' => event.get('town')}`).",
        examples=[{"town_name": "town"}],
    )
    unique: bool = Field(False, description="`list`: leave out a value already collected.", examples=[True])
    max_items: int = Field(
        1000,
        ge=1,
        le=100_000,
        description="`list`: most items kept per aggregate (later ones are left out), which bounds the task state.",
        examples=[100],
    )
    percents: list[float] = Field(
        default_factory=lambda: [50.0, 90.0, 99.0],
        description="`percentiles`: which ones; emitted as `{p50: .., p90: .., p99: ..}`.",
        examples=[[50, 95, 99.9]],
    )
    relative_accuracy: float = Field(
        0.01, gt=0, lt=1, description="`percentiles`: relative error bound of the DDSketch.", examples=[0.02]
    )
    max_bins: int = Field(
        1024,
        ge=16,
        le=65536,
        description="`percentiles`: most buckets the sketch keeps (the "
        "lowest collapse beyond), which bounds the state per task.",
        examples=[2048],
    )
    precision: int = Field(
        12,
        ge=4,
        le=21,
        description="`distinct`: HyperLogLog log2(registers); 12 gives about 1.6% standard error in at most ~2 KiB.",
        examples=[14],
    )

    @model_validator(mode="after")
    def _field_needed(self) -> MetricSpec:
        if self.type == "list":
            if bool(self.field) == bool(self.fields):
                raise ValueError("metric type 'list' needs a `field` or `fields` (not both)")
            return self
        if self.fields:
            raise ValueError("`fields` is for metrics of type 'list'")
        if self.type != "count" and not self.field:
            raise ValueError(f"metric type {self.type!r} needs a `field`")
        if self.type == "percentiles" and (not self.percents or any(not 0 <= p <= 100 for p in self.percents)):
            raise ValueError("`percents` must be values between 0 and 100")
        return self


class WindowSpec(StrictModel):
    """Event-time windows: tumbling (`size` only) or hopping (`size` and a smaller `advance`)."""

    size: DurationMs = Field(description="Window length.", examples=["5m"])
    advance: DurationMs | None = Field(
        None,
        description="Hop between window starts (hopping windows); unset: `size` (tumbling windows).",
        examples=["1m"],
    )

    @model_validator(mode="after")
    def _sensible(self) -> WindowSpec:
        if self.size <= 0:
            raise ValueError("window `size` must be positive")
        if self.advance is not None and not 0 < self.advance <= self.size:
            raise ValueError("window `advance` must be positive and at most `size`")
        return self

    @property
    def step(self) -> int:
        return self.advance or self.size


class FlushRules(StrictModel):
    """When a task's aggregate is emitted. `window` is used alone; the other rules combine freely."""

    every: int | None = Field(None, ge=1, description="Emit and reset a task every N events.", examples=[100])
    window: WindowSpec | None = Field(
        None,
        description="Emit one aggregate per task and event-time window, once the watermark passes the window's end.",
    )
    inactivity_timeout: DurationMs | None = Field(
        None,
        description="Emit a task (tagged `_aggregate_inactivity`) once event time passes its last event by this much.",
        examples=["30s"],
    )
    total_timeout: DurationMs | None = Field(
        None,
        description="Emit a task (tagged `_aggregate_timeout`) once event time passes its first event by this much.",
        examples=["10m"],
    )
    end_when: str | None = Field(
        None,
        description="Condition marking a task's last event: it is folded in, then the task is emitted.",
        examples=['[progress] == "end"'],
    )
    allowed_lateness: DurationMs = Field(
        0,
        description="How far behind the newest event time (per partition) an "
        "event may be and still count. Windows and timeouts close at "
        "`newest - allowed_lateness`.",
        examples=["10s"],
    )
    idle_flush: DurationMs | None = Field(
        None,
        description="Wall clock: emit every open task of a partition (tagged `_aggregate_idle`) when the "
        "partition got no events for this long. For live streams that stop; replays do not reproduce it.",
        examples=["2m"],
    )

    @model_validator(mode="after")
    def _consistent(self) -> FlushRules:
        session_rules = [
            name
            for name in ("every", "inactivity_timeout", "total_timeout", "end_when")
            if getattr(self, name) is not None
        ]
        if self.window is not None and session_rules:
            raise ValueError(
                f"`window` cannot be combined with {', '.join(session_rules)}: a windowed aggregate "
                "is emitted when its window closes"
            )
        if self.window is None and not session_rules and self.idle_flush is None:
            raise ValueError(
                "an aggregation needs a flush rule: every, window, inactivity_timeout, total_timeout, "
                "end_when or idle_flush"
            )
        return self

    @property
    def uses_event_time(self) -> bool:
        return self.window is not None or self.inactivity_timeout is not None or self.total_timeout is not None


class FieldCondition(StrictModel):
    """A field set to whether a condition holds on the aggregate (Logstash's
    `event.set('several', event.get('clicks') > 1)` in a timeout_code)."""

    condition: str = Field(description="Condition on the aggregate's fields.", examples=["[clicks] > 1"])

    @model_validator(mode="after")
    def _condition_parses(self) -> FieldCondition:
        try:
            compile_condition(self.condition)
        except ConditionError as exc:
            raise ValueError(str(exc)) from exc
        return self


AddedValue = Annotated[str | bool | int | float | FieldCondition, Field(union_mode="left_to_right")]


class AggregationSpec(StrictModel):
    name: str = Field(description="Names the aggregation in ids and metrics.", examples=["task_elapsed"])
    task_id: str = Field(
        description="Template of the task id; events missing a referenced field are not aggregated.",
        examples=["%{action}_%{progress}"],
    )
    when: str | None = Field(None, description="Only events where this condition holds.", examples=["[elapsed]"])
    metrics: dict[str, MetricSpec] = Field(
        min_length=1,
        description="Output field -> metric.",
        examples=[{"elapsedAvg": {"type": "avg", "field": "elapsed"}}],
    )
    flush: FlushRules = Field(
        default_factory=lambda: FlushRules(every=100), description="When a task's aggregate is emitted."
    )
    keep_fields: list[str] = Field(
        default_factory=list,
        description="Fields copied from the task's last event (the task-id fields always are); `*` copies all of them.",
        examples=[["host"]],
    )
    remove_fields: list[str] = Field(
        default_factory=list,
        description="Fields removed from the emitted event (after `keep_fields`).",
        examples=[["message", "tags", "elapsed"]],
    )
    index_events: bool = Field(
        False, description="Index the aggregated raw events too (default: only the aggregates).", examples=[True]
    )
    add_fields: dict[str, AddedValue] = Field(
        default_factory=dict,
        description="Fields set on every aggregate: a value, or `{condition: ...}` for whether it holds on the "
        "aggregate.",
        examples=[{"Aggregation": True}],
    )
    timeout_tags: list[str] = Field(
        default_factory=list,
        description="Tags added to aggregates a timeout or `idle_flush` emitted (Logstash's `timeout_tags`).",
        examples=[["_aggregatetimeout"]],
    )
    timeout_fields: dict[str, AddedValue] = Field(
        default_factory=dict,
        description="Fields set on aggregates a timeout or `idle_flush` emitted, as `add_fields` (what a "
        "Logstash `timeout_code` sets).",
        examples=[{"several_clicks": {"condition": "[clicks] > 1"}}],
    )

    @model_validator(mode="after")
    def _name_is_safe(self) -> AggregationSpec:
        if not self.name or "|" in self.name or ":" in self.name:
            raise ValueError(f"aggregation name {self.name!r} must be non-empty without `|` or `:`")
        return self
