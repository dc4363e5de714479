"""One aggregate in the making: metrics folded event by event, kept in the table as a small dict.

An accumulator's stored form is JSON-able (counters, a few values, sketches as compact lists or
base64), never a list of events. Sketches are decoded once per fold of a batch, not per event.
`first`/`last` (and the fields kept from the last event) follow event time, ties by arrival, so a
window's aggregate does not depend on the order its events happened to arrive in.
"""

from __future__ import annotations

from typing import Any

from streamstash import names
from streamstash.aggregation import sketches
from streamstash.aggregation.routing import WILDCARD
from streamstash.config.aggregator import AggregationSpec, MetricSpec
from streamstash.events.fieldpath import get_field

TIMESTAMP = names.FIELD_TIMESTAMP


def number(value: Any) -> float | int | None:
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


def _later(time: int | None, than: int | None) -> bool:
    """Whether an event at ``time`` counts as later than one at ``than`` (arrival breaks ties)."""
    return time is None or than is None or time >= than


class Accumulator:
    """Live form of one stored accumulator; ``dump`` gives the stored form back."""

    __slots__ = ("_pending", "fields", "first_id", "first_time", "last_time", "n", "spec", "timestamp", "values")

    def __init__(self, spec: AggregationSpec, stored: dict[str, Any] | None = None) -> None:
        self.spec = spec
        stored = stored or {}
        self.n: int = stored.get("n", 0)
        self.first_time: int | None = stored.get("t0")
        self.last_time: int | None = stored.get("t1")
        self.timestamp: str | None = stored.get("ts")
        self.fields: dict[str, Any] = stored.get("f", {})
        self.values: dict[str, Any] = stored.get("m", {})
        self.first_id: str | None = stored.get("id")
        # Values for sketches, added to the sketch once per batch in dump().
        self._pending: dict[str, list[Any]] = {}

    def add(
        self,
        doc: dict[str, Any],
        time: int | None,
        timestamp: str | None,
        event_id: str | None,
        kept: list[str],
        plain: dict[str, Any] | None = None,
    ) -> None:
        """Fold one event; `plain` (the event's own fields, for `*`) defaults to `doc`."""
        is_last = _later(time, self.last_time)
        if self.n == 0:
            self.first_time, self.last_time, self.first_id = time, time, event_id
        else:
            if time is not None and (self.first_time is None or time < self.first_time):
                self.first_time = time
            if time is not None and (self.last_time is None or time > self.last_time):
                self.last_time = time
        self.n += 1
        if is_last:
            self.timestamp = timestamp
            if kept and kept[0] == WILDCARD:
                self.fields = doc if plain is None else plain  # fresh per event, never changed after
            else:
                self.fields = {reference: get_field(doc, reference) for reference in kept}
        for name, metric in self.spec.metrics.items():
            self._add_metric(name, metric, doc, time, is_last)

    def _add_metric(self, name: str, metric: MetricSpec, doc: dict[str, Any], time: int | None, is_last: bool) -> None:
        kind = metric.type
        if kind == "count":
            self.values[name] = self.values.get(name, 0) + 1
            return
        if kind == "list":
            self._add_item(name, metric, doc)
            return
        raw = get_field(doc, metric.field or "")
        if raw is None:
            return
        if kind == "first":
            current = self.values.get(name)
            if current is None or (time is not None and current[0] is not None and time < current[0]):
                self.values[name] = [time, raw]
            return
        if kind == "last":
            current = self.values.get(name)
            if current is None or _later(time, current[0]):
                self.values[name] = [time, raw]
            return
        if kind == "distinct":
            self._pending.setdefault(name, []).append(raw)
            return
        value = number(raw)
        if value is None:
            return
        if kind == "percentiles":
            self._pending.setdefault(name, []).append(value)
        elif kind == "sum":
            self.values[name] = self.values.get(name, 0) + value
        elif kind == "avg":
            total, count = self.values.get(name, (0, 0))
            self.values[name] = [total + value, count + 1]
        elif kind == "min":
            self.values[name] = value if name not in self.values else min(self.values[name], value)
        elif kind == "max":
            self.values[name] = value if name not in self.values else max(self.values[name], value)

    def _add_item(self, name: str, metric: MetricSpec, doc: dict[str, Any]) -> None:
        if metric.fields:
            item: Any = {
                key: value
                for key, reference in metric.fields.items()
                if (value := get_field(doc, reference)) is not None
            }
            if not item:
                return
        else:
            item = get_field(doc, metric.field or "")
            if item is None:
                return
        items = self.values.setdefault(name, [])
        if len(items) < metric.max_items and not (metric.unique and item in items):
            items.append(item)

    def _apply_pending(self) -> None:
        for name, pending in self._pending.items():
            metric = self.spec.metrics[name]
            if metric.type == "distinct":
                self.values[name] = sketches.add_distinct_values(self.values.get(name), pending, metric.precision)
            else:
                self.values[name] = sketches.add_percentile_values(
                    self.values.get(name), pending, metric.relative_accuracy, metric.max_bins
                )
        self._pending = {}

    def dump(self) -> dict[str, Any]:
        self._apply_pending()
        fields = self.fields
        if TIMESTAMP in fields:  # kept in "ts"; the whole event was kept (`*`)
            fields = {key: value for key, value in fields.items() if key != TIMESTAMP}
        stored: dict[str, Any] = {
            "n": self.n,
            "t0": self.first_time,
            "t1": self.last_time,
            "ts": self.timestamp,
            "f": fields,
            "m": self.values,
        }
        if self.first_id is not None:
            stored["id"] = self.first_id
        return stored

    def results(self) -> dict[str, Any]:
        """The metric values of the emitted event."""
        self._apply_pending()
        out: dict[str, Any] = {}
        for name, metric in self.spec.metrics.items():
            if name not in self.values:
                continue
            value = self.values[name]
            if metric.type == "avg":
                total, count = value
                out[name] = total / count if count else None
            elif metric.type in ("first", "last"):
                out[name] = value[1]
            elif metric.type == "distinct":
                out[name] = sketches.distinct_estimate(value)
            elif metric.type == "percentiles":
                out[name] = sketches.percentile_values(
                    value, metric.percents, metric.relative_accuracy, metric.max_bins
                )
            else:
                out[name] = value
        return out
