"""The filter chain the parser runs on every event, in the order the pipeline lists the filters."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from streamstash.config.parser import FilterEntry
from streamstash.events.conditions import compile_condition
from streamstash.events.deadletters import dead_letter
from streamstash.events.envelope import DeadLetter, Event, from_working_dict, to_working_dict
from streamstash.events.inputfields import CLASSIC, InputFields
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

    def filter_event(self, event: Event, stage: str, input_fields: InputFields = CLASSIC) -> Event | DeadLetter | None:
        """The event after the chain, its dead letter, or None when a filter dropped it: the one per-event step
        of the parser (`RecordParser`) and of `streamstash test`. The inputs' fields (Logstash's `host`,
        `path`, ...) are shown to the filters and left out of the result again; a filter that raises
        dead-letters the event, it never stops a stream."""
        doc = to_working_dict(event)
        shown = input_fields.show(doc, event)
        try:
            verdict = self.apply(doc)
        except Exception as exc:  # noqa: BLE001 - one bad event must not stop the partition
            return dead_letter(stage, f"filter error: {exc!r}", event)
        input_fields.hide(doc, shown)
        if verdict is None:
            return from_working_dict(event, doc)
        if verdict.action == "drop":
            return None
        failed = from_working_dict(event, doc)
        failed.message = event.message  # the original line, whatever the filters did to it
        return dead_letter(stage, verdict.reason, failed)
