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
from streamstash.events.inputfields import CLASSIC, InputFields
from streamstash.events.templates import Template
from streamstash.events.timeformats import parse_iso8601

KEY_SEPARATOR = "|"
WILDCARD = "*"  # keep_fields: every field of the task's first event


def _json_keys(fields: tuple[str, ...]) -> tuple[bytes, ...] | None:
    """The names as JSON object keys are written (``"name"``); None when a name could be written escaped."""
    if not all(name.isascii() and name.isprintable() and '"' not in name and "\\" not in name for name in fields):
        return None
    return tuple(f'"{name}"'.encode() for name in fields)


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
    # Top-level names the task id needs that only the event's own `fields` can hold (see `TaskRouter.candidates`).
    needs: tuple[str, ...] = ()
    # Whether routing (the task id, no `when`) and folding (kept fields and metrics, no `end_when`, no `*`)
    # read only names outside the envelope's and the input's: under those the working dict holds the very
    # values of `event.fields`, so they read `event.fields` itself and the working dict is not made.
    direct_task_id: bool = False
    direct_fold: bool = False
    # add_fields / timeout_fields: field -> a value, or a condition whose truth is the value
    added: list[tuple[str, Any, Predicate | None]] = field(default_factory=list)
    added_on_timeout: list[tuple[str, Any, Predicate | None]] = field(default_factory=list)

    @property
    def keeps_all(self) -> bool:
        """keep_fields has `*`: the aggregate keeps the event's fields whole (`kept` is then just `*`)."""
        return self.kept[:1] == [WILDCARD]


class TaskRouter:
    """Which aggregation task, if any, each parsed event belongs to."""

    def __init__(self, specs: list[AggregationSpec], input_fields: InputFields = CLASSIC) -> None:
        self.input_fields = input_fields
        # Names the working dict can have besides the event's fields: the envelope's and the input's.
        shown = frozenset({names.FIELD_MESSAGE, names.FIELD_TIMESTAMP, names.FIELD_TAGS}) | input_fields.roots
        self.routes = [_route(spec, shown) for spec in specs]
        self.by_name = {route.spec.name: route for route in self.routes}
        self._consuming = [route for route in self.routes if not route.spec.index_events]
        self._indexing = [route for route in self.routes if route.spec.index_events]
        self._route_keys = [_json_keys(route.needs) for route in self.routes]

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
        routes = self.candidates(event, self.routes)
        if not routes:
            return []
        doc = self._view(event, routes)
        return [f"{route.spec.name}{KEY_SEPARATOR}{task_id}" for route, task_id in self._matching(event, doc, routes)]

    def _view(self, event: Event, routes: Iterable[Route]) -> dict[str, Any]:
        """What ``routes`` read of the event: `event.fields` itself when each of them reads only those
        (``direct_task_id``), else the working dict."""
        return event.fields if all(route.direct_task_id for route in routes) else self.working(event)

    def candidates(self, event: Event, routes: list[Route]) -> list[Route]:
        """The ``routes`` that can match ``event``: those whose task id finds every field it needs at the top level.

        A task id renders only when each field it references is there, and most events (in a pipeline where
        aggregations take a few kinds of line) lack one: checked on `event.fields` alone, they are passed over
        without the working dict and the input's fields, which cost more than the rest of their routing.
        """
        fields = event.fields
        out = []
        for route in routes:
            for name in route.needs:
                if name not in fields:
                    break
            else:
                out.append(route)
        return out

    def is_consumed(self, event: Event) -> bool:
        """True when aggregations take the event and none of them asks to index the raw events too.

        Only the consuming aggregations are looked at first (none: nothing to route at all), the others are
        matched only for an event one of them takes (bench/routing.py has the costs). As in ``keys_for``, task
        ids that read only the event's own fields are rendered from `event.fields`, without the working dict.
        """
        consuming = self.candidates(event, self._consuming)
        if not consuming:
            return False
        indexing = self.candidates(event, self._indexing)
        doc = self._view(event, (*consuming, *indexing))
        if next(iter(self._matching(event, doc, consuming)), None) is None:
            return False
        return next(iter(self._matching(event, doc, indexing)), None) is None

    def may_route(self, text: bytes) -> bool:
        """Whether ``keys_for`` can give a key for an event whose `fields` are the JSON object ``text``, or
        for any event of a record (a batch) whose JSON is ``text``.

        False when each aggregation needs a top-level field (see ``candidates``) whose name, as a JSON
        string, is nowhere in the text: such an event is passed over without its fields being decoded. A
        text can only match more than the members' names (a string value equal to a name), never less.
        """
        return any(keys is None or all(key in text for key in keys) for keys in self._route_keys)

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


def _route(spec: AggregationSpec, shown: frozenset[str]) -> Route:
    template = Template(spec.task_id)
    keeps_all = WILDCARD in spec.keep_fields
    kept = [WILDCARD] if keeps_all else list(dict.fromkeys([*template.fields, *spec.keep_fields]))
    roots = (parse_path(reference) for reference in template.fields)
    needs = tuple(dict.fromkeys(path[0] for path in roots if path and path[0] not in shown))

    def own_fields_only(references: list[str]) -> bool:
        return all((path := parse_path(reference)) and path[0] not in shown for reference in references)

    metric_references = [
        reference
        for metric in spec.metrics.values()
        for reference in ([metric.field] if metric.field else []) + list(metric.fields.values())
    ]
    direct_task_id = spec.when is None and not template.uses_timestamp and own_fields_only(template.fields)
    direct_fold = (
        spec.flush.end_when is None and not keeps_all and own_fields_only(kept) and own_fields_only(metric_references)
    )
    return Route(
        spec,
        template,
        compile_condition(spec.when) if spec.when else None,
        compile_condition(spec.flush.end_when) if spec.flush.end_when else None,
        kept,
        needs,
        direct_task_id,
        direct_fold,
        _added(spec.add_fields),
        _added(spec.timeout_fields),
    )


def _added(fields: dict[str, Any]) -> list[tuple[str, Any, Predicate | None]]:
    return [
        (name, None, compile_condition(value.condition)) if isinstance(value, FieldCondition) else (name, value, None)
        for name, value in fields.items()
    ]


def split_key(key: str) -> tuple[str, str]:
    name, _, task_id = key.partition(KEY_SEPARATOR)
    return name, task_id
