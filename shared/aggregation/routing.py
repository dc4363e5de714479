"""Which aggregation task each parsed event belongs to: the task routing the aggregator's re-key stage
applies, and that decides which events the indexer leaves to the aggregations."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from streamstash import names
from streamstash.config.aggregator import AggregationSpec, FieldCondition
from streamstash.events.conditions import compile_condition
from streamstash.events.envelope import Event, to_working_dict
from streamstash.events.fieldpath import parse_path
from streamstash.events.inputfields import CLASSIC, SHOWN_ROOTS, InputFields
from streamstash.events.templates import Template
from streamstash.events.timeformats import parse_iso8601

KEY_SEPARATOR = "|"
WILDCARD = "*"  # keep_fields: every field of the task's first event
# Top-level names a working view (`TaskRouter.working`) may hold that are not among the event's fields.
VIEW_ROOTS: frozenset[str] = frozenset({names.FIELD_MESSAGE, names.FIELD_TIMESTAMP, names.FIELD_TAGS}) | SHOWN_ROOTS


def event_time_ms(event: Event) -> int | None:
    if not event.timestamp:
        return None
    moment = parse_iso8601(event.timestamp)
    return None if moment is None else int(moment.timestamp() * 1000)


Predicate = Callable[[dict[str, Any]], bool]


@dataclass(slots=True)
class Route:
    spec: AggregationSpec
    task_id: Template
    when: Predicate | None
    end_when: Predicate | None
    kept: list[str]
    # add_fields / timeout_fields: field -> a value, or a condition whose truth is the value
    added: list[tuple[str, Any, Predicate | None]] = field(default_factory=list)
    added_on_timeout: list[tuple[str, Any, Predicate | None]] = field(default_factory=list)
    # Top-level fields the task id cannot render without that only the event's own fields can hold: an
    # event whose fields lack one of them is not this route's (True otherwise says nothing).
    needs: frozenset[str] = frozenset()


class TaskRouter:
    """Which aggregation task, if any, each parsed event belongs to."""

    def __init__(self, specs: list[AggregationSpec], input_fields: InputFields = CLASSIC) -> None:
        self.routes = [_route(spec) for spec in specs]
        self.by_name = {route.spec.name: route for route in self.routes}
        self.input_fields = input_fields
        self._consuming = [route for route in self.routes if not route.spec.index_events]
        self._consuming_needs = [route.needs for route in self._consuming]
        self._indexing = [route for route in self.routes if route.spec.index_events]

    @property
    def consumes(self) -> bool:
        """Whether any aggregation takes its events away from the index (`index_events: false`)."""
        return bool(self._consuming)

    def working(self, event: Event) -> dict[str, Any]:
        """The event as task ids, conditions and metrics read it: with the input's `host`, `path`, ..."""
        return self.input_fields.view(to_working_dict(event), event)

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
        doc = self.working(event)
        return [
            f"{route.spec.name}{KEY_SEPARATOR}{task_id}" for route, task_id in self._matching(event, doc, self.routes)
        ]

    def is_consumed(self, event: Event) -> bool:
        """True when aggregations take the event and none of them asks to index the raw events too.

        Only the consuming aggregations are looked at first (none: nothing to route at all), the others only
        for an event one of them takes (bench/routing.py has the costs).
        """
        if not self._consuming:
            return False
        # Most events of a pipeline lack the fields a consuming task id names (access lines beside task
        # lines): those are told apart before the working view, a dict copy with input fields, is built.
        keys = event.fields.keys()
        for needs in self._consuming_needs:
            if keys >= needs:
                break
        else:
            return False
        doc = self.working(event)
        if next(iter(self._matching(event, doc, self._consuming)), None) is None:
            return False
        return next(iter(self._matching(event, doc, self._indexing)), None) is None

    def _matching(self, event: Event, doc: dict[str, Any], routes: list[Route]) -> Iterable[tuple[Route, str]]:
        if event.source.kind == names.SOURCE_AGGREGATE:
            return  # an aggregate carries its task's fields, but is never an input of one
        timed: bool | None = None
        for route in routes:
            if route.when is not None and not route.when(doc):
                continue
            task_id = route.task_id.try_render(doc)
            if task_id is None:
                continue
            if route.spec.flush.uses_event_time:
                # An event without a usable @timestamp cannot be placed in event time: it is not
                # aggregated, so the indexer keeps it as a plain document.
                if timed is None:
                    timed = event_time_ms(event) is not None
                if not timed:
                    continue
            yield route, task_id


def _route(spec: AggregationSpec) -> Route:
    template = Template(spec.task_id)
    kept = [WILDCARD] if WILDCARD in spec.keep_fields else list(dict.fromkeys([*template.fields, *spec.keep_fields]))
    return Route(
        spec,
        template,
        compile_condition(spec.when) if spec.when else None,
        compile_condition(spec.flush.end_when) if spec.flush.end_when else None,
        kept,
        _added(spec.add_fields),
        _added(spec.timeout_fields),
        _needs(template),
    )


def _needs(template: Template) -> frozenset[str]:
    """The first names of the task id's field references that a working view can only take from the
    event's fields (a reference whose first name is absent renders nothing: MissingFieldError)."""
    paths = [parse_path(reference) for reference in template.fields]
    return frozenset(path[0] for path in paths if path and path[0] not in VIEW_ROOTS)


def _added(fields: dict[str, Any]) -> list[tuple[str, Any, Predicate | None]]:
    return [
        (name, None, compile_condition(value.condition)) if isinstance(value, FieldCondition) else (name, value, None)
        for name, value in fields.items()
    ]


def split_key(key: str) -> tuple[str, str]:
    name, _, task_id = key.partition(KEY_SEPARATOR)
    return name, task_id
