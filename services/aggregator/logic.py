"""Per-task aggregation, free of Faust: routing events to tasks, and folding batches into task state.

Task state is a small JSON-able dict (counters, not event lists), stored in a RocksDB-backed Faust
table under the key ``<aggregation>|<task id>``. ``seen`` remembers, per `logs.raw` partition, the
last event position folded in, so an event delivered twice (at-least-once upstream) is counted once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from streamstash import names
from streamstash.conditions import compile_condition
from streamstash.config.aggregator import AggregationSpec, MetricSpec
from streamstash.envelope import Event, Source, to_working_dict
from streamstash.fieldpath import get_field
from streamstash.templates import Template

KEY_SEPARATOR = "|"
SOURCE_AGGREGATE = "aggregate"

TaskState = dict[str, Any]


@dataclass(slots=True)
class Route:
    spec: AggregationSpec
    task_id: Template
    when: Callable[[dict[str, Any]], bool] | None


class TaskRouter:
    """Which aggregation task, if any, each parsed event belongs to."""

    def __init__(self, specs: list[AggregationSpec]) -> None:
        self.routes = [
            Route(spec, Template(spec.task_id), compile_condition(spec.when) if spec.when else None) for spec in specs
        ]
        self.by_name = {route.spec.name: route for route in self.routes}

    def group(self, events: list[Event]) -> dict[str, list[Event]]:
        """Events grouped by table key, keeping their order within each task."""
        grouped: dict[str, list[Event]] = defaultdict(list)
        for event in events:
            for key in self.keys_for(event):
                grouped[key].append(event)
        return grouped

    def keys_for(self, event: Event) -> list[str]:
        if not self.routes:
            return []
        doc = to_working_dict(event)
        keys = []
        for route in self.routes:
            if route.when is not None and not route.when(doc):
                continue
            task_id = route.task_id.try_render(doc)
            if task_id is not None:
                keys.append(f"{route.spec.name}{KEY_SEPARATOR}{task_id}")
        return keys

    def is_consumed(self, event: Event) -> bool:
        """True when an aggregation takes the event and the raw events are not to be indexed."""
        if not self.routes:
            return False
        doc = to_working_dict(event)
        for route in self.routes:
            if route.spec.index_events:
                continue
            if route.when is not None and not route.when(doc):
                continue
            if route.task_id.try_render(doc) is not None:
                return True
        return False


def split_key(key: str) -> tuple[str, str]:
    name, _, task_id = key.partition(KEY_SEPARATOR)
    return name, task_id


def new_state() -> TaskState:
    return {"n": 0, "acc": {}, "seq": 0, "seen": {}, "last": {}, "ts": None}


def _raw_position(event: Event) -> tuple[str, tuple[int, int]] | None:
    if not event.id:
        return None
    topic, partition, offset, position = event.id.rsplit(":", 3)
    return f"{topic}:{partition}", (int(offset), int(position))


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _fold_metric(name: str, spec: MetricSpec, acc: dict[str, Any], doc: dict[str, Any]) -> None:
    if spec.type == "count":
        acc[name] = acc.get(name, 0) + 1
        return
    raw = get_field(doc, spec.field or "")
    if spec.type in ("first", "last"):
        if raw is not None and (spec.type == "last" or name not in acc):
            acc[name] = raw
        return
    value = _number(raw)
    if value is None:
        return
    if spec.type == "sum":
        acc[name] = acc.get(name, 0) + value
    elif spec.type == "avg":
        total, count = acc.get(name, (0, 0))
        acc[name] = (total + value, count + 1)
    elif spec.type == "min":
        acc[name] = value if name not in acc else min(acc[name], value)
    elif spec.type == "max":
        acc[name] = value if name not in acc else max(acc[name], value)


def _finish_metric(spec: MetricSpec, value: Any) -> Any:
    if spec.type == "avg":
        total, count = value
        return total / count if count else None
    return value


class TaskAggregator:
    def __init__(self, router: TaskRouter) -> None:
        self.router = router

    def fold(self, key: str, state: TaskState | None, events: list[Event]) -> tuple[TaskState, list[Event]]:
        """Fold a batch of one task's events into its state; returns the new state and emitted aggregates."""
        name, task_id = split_key(key)
        spec = self.router.by_name[name].spec
        template = self.router.by_name[name].task_id
        state = state if state is not None else new_state()
        emitted: list[Event] = []
        for event in events:
            position = _raw_position(event)
            if position is not None:
                partition_key, at = position
                last = state["seen"].get(partition_key)
                if last is not None and tuple(last) >= at:
                    continue  # already folded in before a restart or redelivery
                state["seen"][partition_key] = list(at)
            doc = to_working_dict(event)
            for metric_name, metric in spec.metrics.items():
                _fold_metric(metric_name, metric, state["acc"], doc)
            state["n"] += 1
            state["ts"] = event.timestamp
            state["last"] = {field: get_field(doc, field) for field in [*template.fields, *spec.keep_fields]}
            if spec.flush.every is not None and state["n"] >= spec.flush.every:
                emitted.append(self._emit(spec, task_id, state))
                _reset(state)
        return state, emitted

    def _emit(self, spec: AggregationSpec, task_id: str, state: TaskState) -> Event:
        fields: dict[str, Any] = {key: value for key, value in state["last"].items() if value is not None}
        for metric_name, metric in spec.metrics.items():
            if metric_name in state["acc"]:
                fields[metric_name] = _finish_metric(metric, state["acc"][metric_name])
        fields[names.FIELD_AGGREGATED] = True
        fields["task_id"] = task_id
        fields["aggregation"] = spec.name
        state["seq"] += 1
        return Event(
            timestamp=state["ts"],
            source=Source(kind=SOURCE_AGGREGATE),
            fields=fields,
            id=f"{spec.name}:{task_id}:{state['seq']}",
        )


def _reset(state: TaskState) -> None:
    state["n"] = 0
    state["acc"] = {}
    state["last"] = {}
