"""Settings of the aggregator: per-task aggregations in the spirit of Logstash's `aggregate`."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from streamstash.config.base import StrictModel

MetricKind = Literal["count", "sum", "avg", "min", "max", "first", "last"]


class MetricSpec(StrictModel):
    type: MetricKind = Field(description="What to compute.", examples=["avg"])
    field: str | None = Field(None, description="The numeric field it reads (not for count).", examples=["elapsed"])

    @model_validator(mode="after")
    def _field_needed(self) -> MetricSpec:
        if self.type != "count" and not self.field:
            raise ValueError(f"metric type {self.type!r} needs a `field`")
        return self


class FlushRules(StrictModel):
    every: int | None = Field(None, ge=1, description="Emit and reset a task every N events.", examples=[100])


class AggregationSpec(StrictModel):
    name: str = Field(description="Names the aggregation in ids and metrics.", examples=["task_elapsed"])
    task_id: str = Field(description="Template of the task id; events missing a referenced field are not "
                         "aggregated.", examples=["%{action}_%{progress}"])
    when: str | None = Field(None, description="Only events where this condition holds.",
                             examples=["[elapsed]"])
    metrics: dict[str, MetricSpec] = Field(min_length=1, description="Output field -> metric.",
                                           examples=[{"elapsedAvg": {"type": "avg", "field": "elapsed"}}])
    flush: FlushRules = Field(default_factory=FlushRules, description="When a task's aggregate is emitted.")
    keep_fields: list[str] = Field(default_factory=list, description="Fields copied from the task's last event "
                                   "(the task-id fields always are).", examples=[["host"]])
    index_events: bool = Field(False, description="Index the aggregated raw events too (default: only the "
                               "aggregates).", examples=[True])
