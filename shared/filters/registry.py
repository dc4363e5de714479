"""Filter kind (the key in the pipeline file) -> implementation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from streamstash.filters.base import Filter
from streamstash.filters.date import DateFilter
from streamstash.filters.dissect import DissectFilter
from streamstash.filters.drop import DropFilter
from streamstash.filters.grok import GrokFilter
from streamstash.filters.json import JsonFilter
from streamstash.filters.kv import KvFilter
from streamstash.filters.mutate import MutateFilter

FILTERS: dict[str, Callable[[Any], Filter]] = {
    "grok": GrokFilter,
    "dissect": DissectFilter,
    "kv": KvFilter,
    "json": JsonFilter,
    "date": DateFilter,
    "mutate": MutateFilter,
    "drop": DropFilter,
}


def build_filter(kind: str, settings: Any) -> Filter:
    return FILTERS[kind](settings)
