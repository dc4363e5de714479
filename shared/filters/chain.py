"""The filter chain the parser runs on every event, in the order the pipeline lists the filters."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from streamstash.config.parser import FilterEntry
from streamstash.events.conditions import compile_condition
from streamstash.events.deadletters import dead_letter
from streamstash.events.envelope import DeadLetter, Event, fold_working_dict, to_working_dict
from streamstash.events.inputfields import CLASSIC, InputFields
from streamstash.filters.base import Filter, Verdict
from streamstash.filters.date import DateFilter
from streamstash.filters.drop import DropFilter
from streamstash.filters.grok import GrokFilter
from streamstash.filters.mutate import MutateFilter
from streamstash.filters.registry import build_filter

# Filters that read and write only fields their settings name (kv, json, csv, ruby... write whatever the data
# holds; a template names a field by another field's value). For a chain of these alone, the settings' text
# and grok's captures tell whether any step can see an input field (`InputFields`).
_NAMING_FILTERS = (DateFilter, DropFilter, GrokFilter, MutateFilter)
_GROK_PATTERN_SETTINGS = {"match", "pattern_definitions"}


@dataclass(slots=True)
class Step:
    filter: Filter
    kind: str
    condition: Callable[[dict[str, Any]], bool] | None
    text: str  # the settings and the condition as written: what the step may read or write


class FilterChain:
    def __init__(self, entries: list[FilterEntry]) -> None:
        self.steps = [
            Step(
                filter=build_filter(entry.kind, entry.settings),
                kind=entry.kind,
                condition=compile_condition(entry.condition) if entry.condition else None,
                text=_text_of(entry),
            )
            for entry in entries
        ]
        self._sees_input_fields: dict[frozenset[str], bool] = {}

    def sees_input_fields(self, input_fields: InputFields) -> bool:
        """Whether a step may read or write a field under one of the input fields' names.

        When none may, the fields are not shown: every one would be taken away again unchanged. The
        answer is "may" for any step whose filter is not one of ``_NAMING_FILTERS``, whose settings or
        condition name a field by a template, or name one of the names (or grok captures into one).
        """
        roots = input_fields.roots
        if roots not in self._sees_input_fields:
            self._sees_input_fields[roots] = any(_may_see(step, roots) for step in self.steps)
        return self._sees_input_fields[roots]

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
        dead-letters the event, it never stops a stream. A passed or dead-lettered event is ``event`` itself,
        changed in place (`fold_working_dict`)."""
        doc = to_working_dict(event)
        shown = input_fields.show(doc, event) if self.sees_input_fields(input_fields) else None
        try:
            verdict = self.apply(doc)
        except Exception as exc:  # noqa: BLE001 - one bad event must not stop the partition
            return dead_letter(stage, f"filter error: {exc!r}", event)
        if shown:
            input_fields.hide(doc, shown)
        if verdict is None:
            return fold_working_dict(event, doc)
        if verdict.action == "drop":
            return None
        line = event.message  # the original line, whatever the filters did to it
        failed = fold_working_dict(event, doc)
        failed.message = line
        return dead_letter(stage, verdict.reason, failed)


def _text_of(entry: FilterEntry) -> str:
    exclude = _GROK_PATTERN_SETTINGS if entry.kind == "grok" else None
    named = entry.settings.model_dump_json(exclude=exclude)
    if entry.kind == "grok":  # the fields it matches; its patterns' captures are read from the compiled grok
        named += " ".join(getattr(entry.settings, "match", {}))
    return f"{named} {entry.condition or ''}"


def _may_see(step: Step, roots: Collection[str]) -> bool:
    if not isinstance(step.filter, _NAMING_FILTERS) or "%{" in step.text:
        return True
    if any(re.search(rf"(?<![\w@]){re.escape(root)}(?!\w)", step.text) for root in roots):
        return True
    if isinstance(step.filter, GrokFilter):
        return not step.filter.capture_roots().isdisjoint(roots)
    return False
