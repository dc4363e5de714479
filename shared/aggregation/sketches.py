"""Bounded sketches for percentiles (DDSketch) and distinct counts (HyperLogLog), as compact JSON.

Both are order-independent and deterministic: the same values in any order give the same sketch,
so a replay, or the batches of a task arriving in another grouping, gives the same aggregate.

* Percentiles: Datadog's ``ddsketch`` (relative-error guarantee; lowest buckets collapse beyond
  ``max_bins``, so the state per task is bounded). The package serialises only through protobuf,
  so the buckets are written here as ``[zero, count, min, max, sum, [min_key, counts...],
  [min_key, counts...]]``: one small list per task in the table value.
* Distinct counts: Apache DataSketches' HLL (exact below a few hundred values, ~1.6% standard
  error at precision 12, at most ~2 KiB), base64 of its compact serialisation.
"""

from __future__ import annotations

import base64
from typing import Any

import datasketches
import orjson
from ddsketch import LogCollapsingLowestDenseDDSketch

PercentileState = list[Any]


def new_percentiles(relative_accuracy: float, max_bins: int) -> LogCollapsingLowestDenseDDSketch:
    return LogCollapsingLowestDenseDDSketch(relative_accuracy, bin_limit=max_bins)


def _store_state(store: Any) -> list[Any]:
    if store.count == 0:
        return []
    first, last = store.min_key - store.offset, store.max_key - store.offset
    return [store.min_key, *(_compact_number(count) for count in store.bins[first : last + 1])]


def _compact_number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def dump_percentiles(sketch: LogCollapsingLowestDenseDDSketch) -> PercentileState:
    return [
        _compact_number(sketch._zero_count),
        _compact_number(sketch._count),
        sketch._min,
        sketch._max,
        _compact_number(sketch._sum),
        _store_state(sketch._store),
        _store_state(sketch._negative_store),
    ]


def _load_store(store: Any, state: list[Any]) -> None:
    if not state:
        return
    min_key = state[0]
    for index, count in enumerate(state[1:]):
        if count:
            store.add(min_key + index, count)


def load_percentiles(
    state: PercentileState, relative_accuracy: float, max_bins: int
) -> LogCollapsingLowestDenseDDSketch:
    sketch = new_percentiles(relative_accuracy, max_bins)
    zero, count, low, high, total, positive, negative = state
    _load_store(sketch._store, positive)
    _load_store(sketch._negative_store, negative)
    sketch._zero_count, sketch._count, sketch._min, sketch._max, sketch._sum = zero, count, low, high, total
    return sketch


def add_percentile_values(
    state: PercentileState | None, values: list[float], relative_accuracy: float, max_bins: int
) -> PercentileState:
    sketch = (
        load_percentiles(state, relative_accuracy, max_bins) if state else new_percentiles(relative_accuracy, max_bins)
    )
    for value in values:
        sketch.add(value)
    return dump_percentiles(sketch)


def percentile_values(
    state: PercentileState, percents: list[float], relative_accuracy: float, max_bins: int
) -> dict[str, float | None]:
    sketch = load_percentiles(state, relative_accuracy, max_bins)
    return {percentile_name(percent): sketch.get_quantile_value(percent / 100.0) for percent in percents}


def percentile_name(percent: float) -> str:
    """`p50`, `p99`, `p99_9`: no dots, which Elasticsearch would read as object paths."""
    text = f"{percent:g}".replace(".", "_")
    return f"p{text}"


def _distinct_token(value: Any) -> str:
    """Strings as they are; other values as canonical JSON (1 and 1.0 are the same number)."""
    if isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def add_distinct_values(state: str | None, values: list[Any], precision: int) -> str:
    sketch = (
        datasketches.hll_sketch.deserialize(base64.b64decode(state))
        if state
        else datasketches.hll_sketch(precision, datasketches.tgt_hll_type.HLL_4)
    )
    for value in values:
        sketch.update(_distinct_token(value))
    return base64.b64encode(sketch.serialize_compact()).decode()


def distinct_estimate(state: str) -> int:
    return round(datasketches.hll_sketch.deserialize(base64.b64decode(state)).get_estimate())
