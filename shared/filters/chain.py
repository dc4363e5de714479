"""The filter chain the parser runs on every event, in the order the pipeline lists the filters."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from streamstash.config.parser import FilterEntry
from streamstash.events.conditions import compile_condition
from streamstash.filters.base import Filter, Verdict
from streamstash.filters.registry import build_filter


@dataclass(slots=True)
class Step:
    filter: Filter
    kind: str
    condition: Callable[[dict[str, Any]], bool] | None


class FilterChain:
    def __init__(self, entries: list[FilterEntry]) -> None:
        self.steps = [
            Step(
                filter=build_filter(entry.kind, entry.settings),
                kind=entry.kind,
                condition=compile_condition(entry.condition) if entry.condition else None,
            )
            for entry in entries
        ]

    def apply(self, doc: dict[str, Any]) -> Verdict | None:
        """Run every step on ``doc``; stop at the first drop or dead-letter verdict."""
        for step in self.steps:
            if step.condition is not None and not step.condition(doc):
                continue
            verdict = step.filter.apply(doc)
            if verdict is not None:
                return verdict
        return None
