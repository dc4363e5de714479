"""Logstash's aggregate filter -> a declarative aggregation (``AggregationSpec``), by recognising idioms.

The aggregate filter runs Ruby (`code`) against a per-task `map`; that cannot run here. What can be
recognised is what people write again and again:

* counters and sums kept in the map: `map['n'] ||= 0; map['n'] += 1`, `map['s'] += event.get('elapsed')`,
  `map['k'] = event.get('f')` (last value), `map['k'] ||= event.get('f')` (first value);
* a flush when a counter reaches a number or an environment variable, with the values reset:
  `if map['n'] >= 100` / `>= ENV['N'].to_i` / `>= ${N:100}` ... `map.clear` (or each key set back to 0)
  -> ``flush.every``;
* values set on the event that ends a task or reaches the count: `event.set('avg', map['s'] / map['n'])`
  (an average), `event.set('total', map['s'])`, `event.set('aggregated', true)` (a flag);
* `end_of_task => true` on the filter of the last event -> ``flush.end_when`` (its condition);
* `timeout`, `inactivity_timeout` with `push_map_as_event_on_timeout` -> ``flush.total_timeout`` /
  ``flush.inactivity_timeout`` (the map itself becomes the emitted event);
* `event.cancel()` and the usual follow-up `if [aggregated] { mutate {...} } else { drop {} }`: only the
  aggregates are kept (``index_events: false``, the mutate's `remove_field` -> ``remove_fields``).

Anything else is reported (file, line of the statement, the Ruby text) and the aggregation is left out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from streamstash import names
from streamstash.events.templates import Template
from streamstash.logstash import ast, ruby
from streamstash.logstash.condition_text import conjunction, field_reference
from streamstash.logstash.report import Finding, Report, Untranslatable
from streamstash.logstash.values import as_bool, as_number, as_text, as_text_list

DEFAULT_TIMEOUT_S = 1800  # Logstash evicts maps after this long when no timeout is configured
TIMEOUT_OPTIONS = (
    "timeout",
    "inactivity_timeout",
    "timeout_code",
    "push_map_as_event_on_timeout",
    "push_previous_map_as_event",
    "timeout_task_id_field",
    "timeout_tags",
    "timeout_timestamp_field",
)
KNOWN_OPTIONS = {
    "task_id",
    "code",
    "map_action",
    "end_of_task",
    "aggregate_maps_path",
    *TIMEOUT_OPTIONS,
    "id",
    "enable_metric",
    "periodic_flush",
    "add_field",
    "add_tag",
    "remove_field",
    "remove_tag",
}
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_]+")


class Verbatim(str):
    """Text already in the pipeline file's syntax (`${VAR:-default}`): written out as it is."""

    __slots__ = ()


@dataclass
class Site:
    """One aggregate filter in the file, with the condition under which events reach it."""

    plugin: ast.Plugin
    guard: str | None
    order: int

    @property
    def line(self) -> int:
        return self.plugin.location.line


@dataclass
class _Update:
    kind: str  # count, sum, last, first, list
    field: str | None
    site: Site
    statement: ruby.Statement
    fields: dict[str, str] | None = None  # list: one object per event, key -> field
    unique: bool = False  # list: `<< x unless map[...].include?(x)`


@dataclass
class _Output:
    name: str
    expression: ruby.Expr
    site: Site
    statement: ruby.Statement
    at_flush: bool  # inside the `if map['n'] >= N` block (else: on an end_of_task event)


@dataclass
class Aggregation:
    """What became of all aggregate filters sharing one task_id pattern."""

    name: str
    task_id: str
    sites: list[Site]
    spec: dict[str, Any] | None = None  # the AggregationSpec, or None when it could not be translated
    flags: dict[str, Any] = field(default_factory=dict)  # constant fields set on the emitted event
    metric_names: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)  # what the report says about it

    @property
    def line(self) -> int:
        return self.sites[0].line

    def routed_condition(self) -> str | None:
        """Our condition for "this event goes into the aggregation" (its `when` and the task-id fields)."""
        fields = [field_reference(name) for name in Template(self.task_id).fields]
        when = self.spec.get("when") if self.spec else None
        return conjunction([when or "", *fields])


class _SiteCode:
    """What one aggregate filter's code does, statement by statement."""

    def is_empty(self) -> bool:
        return not (self.inits or self.updates or self.outputs or self.flush or self.cancels_all or self.tags)

    def __init__(self, site: Site, code: str) -> None:
        self.site = site
        self.code = code
        self.inits: dict[str, Any] = {}
        self.updates: dict[str, _Update] = {}
        self.outputs: list[_Output] = []
        self.flush: tuple[str, ruby.Expr, ruby.Statement] | None = None
        self.resets: set[str] | None = None  # None: no reset; "clear" resets everything
        self.resets_all = False
        self.cancels_all = False
        self.cancels_others = False  # events that do not reach the flush are cancelled
        self.tags: list[str] = []


class Recogniser:
    def __init__(self, report: Report, path: str) -> None:
        self.report = report
        self.path = path

    # -- entry point ------------------------------------------------------------------------------------

    def translate(self, task_id: str, sites: list[Site], name: str) -> Aggregation:
        aggregation = Aggregation(name=name, task_id=task_id, sites=sites)
        before = len(self.report.findings)
        try:
            aggregation.spec = self._translate(aggregation)
        except Untranslatable as exc:
            self.report.untranslated(
                exc.line or aggregation.line,
                "filter aggregate",
                exc.message,
                exc.snippet if exc.snippet is not None else sites[0].plugin.location.text,
            )
            aggregation.spec = None
        aggregation.findings = self.report.findings[before:]
        return aggregation

    def _translate(self, aggregation: Aggregation) -> dict[str, Any]:
        sites = aggregation.sites
        for site in sites:
            self._check_options(site)
        codes = self._without_closing_sites([self._read_code(site) for site in sites])
        updates: dict[str, _Update] = {}
        inits: dict[str, Any] = {}
        for code in codes:
            inits.update(code.inits)
            for key, update in code.updates.items():
                known = updates.get(key)
                if known is not None and (known.kind, known.field) != (update.kind, update.field):
                    raise self._at(
                        update, f"map[{key!r}] is used as a {known.kind} in one filter and a {update.kind} in another"
                    )
                updates.setdefault(key, update)

        contributing = [
            code
            for code in codes
            if code.updates
            or code.outputs
            or code.flush
            or self._bool_option(code.site, "end_of_task")
            or code.cancels_all
        ]
        if not contributing:
            raise Untranslatable(
                "the aggregate code neither counts, sums nor sets anything that streamstash could emit",
                sites[0].line,
                sites[0].plugin.location.text,
            )
        guards = [code.site.guard for code in contributing]
        when = (
            None
            if any(guard is None for guard in guards)
            else (guards[0] if len(set(guards)) == 1 else " or ".join(f"({guard})" for guard in dict.fromkeys(guards)))
        )

        # A counter in streamstash counts every event of the task; Logstash only those of its filter (all of
        # them when that filter has no condition).
        contributing_sites = {id(code.site) for code in contributing}
        for key, update in updates.items():
            counted_at = {id(code.site) for code in codes if key in code.updates}
            unconditional = any(code.site.guard is None for code in codes if key in code.updates)
            if counted_at != contributing_sites and not unconditional:
                if update.kind == "count":
                    raise self._at(
                        update,
                        f"map[{key!r}] counts only the events of this filter, but a streamstash "
                        "aggregation counts every event of its task (here also those of the aggregate "
                        "filters on lines "
                        + ", ".join(str(code.site.line) for code in contributing if id(code.site) not in counted_at)
                        + ")",
                    )
                self.report.note(
                    update.site.line,
                    "filter aggregate",
                    f"map[{key!r}] takes `{update.field}` from the events of this filter only; "
                    "streamstash reads it from every event of the task (events without the field "
                    "add nothing)",
                )

        flushes = [code for code in codes if code.flush]
        if len(flushes) > 1:
            raise Untranslatable("more than one aggregate filter flushes on a counter", flushes[1].site.line)
        flush: dict[str, Any] = {}
        metrics: dict[str, dict[str, Any]] = {}
        flags: dict[str, Any] = {}
        outputs = [output for code in codes for output in code.outputs]
        for output in outputs:
            value = self._constant(output.expression)
            if value is not None:
                if not output.at_flush and not self._bool_option(output.site, "end_of_task"):
                    raise self._at(output, f"event.set({output.name!r}, ...) on every event has no equivalent")
                flags[output.name] = value
                continue
            metrics[output.name] = self._metric(output, updates)

        end_sites = [code.site for code in codes if self._bool_option(code.site, "end_of_task")]
        for code in codes:
            for output in code.outputs:
                if not output.at_flush and code.site not in end_sites:
                    raise self._at(
                        output,
                        f"event.set({output.name!r}, ...) sets a running value on every event; "
                        "streamstash emits values only when a task is flushed",
                    )
        if flushes:
            code = flushes[0]
            counter, threshold, statement = code.flush  # type: ignore[misc]
            if counter not in updates or updates[counter].kind != "count":
                raise self._at_statement(
                    code, statement, f"the flush compares map[{counter!r}], which is not a counter (`map[...] += 1`)"
                )
            if not code.resets_all and set(updates) - (code.resets or set()):
                missing = sorted(set(updates) - (code.resets or set()))
                raise self._at_statement(
                    code,
                    statement,
                    "the flush does not reset "
                    + ", ".join(f"map[{key!r}]" for key in missing)
                    + "; streamstash starts every flush from zero",
                )
            flush["every"] = self._threshold(code, threshold, statement)
        if end_sites:
            end_guards = [site.guard for site in end_sites]
            if any(guard is None for guard in end_guards):
                raise Untranslatable(
                    "end_of_task on a filter without a condition ends the task at every event", end_sites[0].line
                )
            flush["end_when"] = (
                end_guards[0] if len(end_guards) == 1 else " or ".join(f"({guard})" for guard in end_guards)
            )
        pushes_previous = any(self._bool_option(site, "push_previous_map_as_event") for site in sites)
        pushes_map = pushes_previous or any(self._bool_option(site, "push_map_as_event_on_timeout") for site in sites)
        self._timeouts(sites, flush, pushes_map, pushes_previous)
        if pushes_map:
            for key, update in updates.items():
                metrics.setdefault(key, self._metric_of_update(key, update))
        if not flush:
            raise Untranslatable(
                "nothing is ever emitted: no flush on a counter, no end_of_task and no push_map_as_event_on_timeout",
                sites[0].line,
                sites[0].plugin.location.text,
            )
        if not metrics:
            raise Untranslatable(
                "no value of the map is ever set on an event or pushed", sites[0].line, sites[0].plugin.location.text
            )

        keep_all = bool(flushes or end_sites)
        if keep_all and pushes_map:
            self.report.note(
                sites[0].line,
                "filter aggregate",
                "aggregates pushed on timeout carry the fields of "
                "the task's last event too (Logstash pushes only the map)",
            )
        consumes = any(code.cancels_all for code in codes) or any(code.cancels_others for code in codes)
        aggregation.flags = flags
        aggregation.metric_names = list(metrics)
        # Every aggregate carries `aggregated: true` anyway; other constants go into add_fields.
        added = {flag: value for flag, value in flags.items() if (flag, value) != (names.FIELD_AGGREGATED, True)}
        if end_sites and not consumes:
            self.report.note(
                end_sites[0].line,
                "filter aggregate",
                "the event that ends a task is indexed as it "
                "is and, with the values set on it, as the aggregate (Logstash indexes it once)",
            )
        spec: dict[str, Any] = {"name": aggregation.name, "task_id": aggregation.task_id}
        if when:
            spec["when"] = when
        spec["metrics"] = metrics
        spec["flush"] = flush
        if keep_all:
            spec["keep_fields"] = ["*"]
        spec["index_events"] = not consumes
        if added:
            spec["add_fields"] = added
        self._timeout_extras(sites, spec, pushes_map)
        return spec

    def _without_closing_sites(self, codes: list[_SiteCode]) -> list[_SiteCode]:
        """Leave out an `end_of_task` filter with no code that only sees the events a flush marked
        (`if [flag] { aggregate { code => "" end_of_task => true } }`): it ends a task the flush has just
        started afresh, which is what a streamstash flush does anyway."""
        marked = {
            output.name
            for code in codes
            for output in code.outputs
            if output.at_flush and self._constant(output.expression) is not None
        }
        kept = []
        for code in codes:
            if (
                self._bool_option(code.site, "end_of_task")
                and code.is_empty()
                and any(_tests_flag(code.site.guard, flag) for flag in marked)
            ):
                self.report.note(
                    code.site.line,
                    "filter aggregate",
                    f"end_of_task on the events the flush marked ({code.site.guard}): the flush already starts "
                    "the task afresh",
                )
                continue
            kept.append(code)
        return kept

    def _timeout_extras(self, sites: list[Site], spec: dict[str, Any], pushes_map: bool) -> None:
        """timeout_tags and what a timeout_code sets, for the aggregates a timeout emits."""
        tags = [tag for site in sites for tag in as_text_list(site.plugin.get("timeout_tags") or [], "timeout_tags")]
        codes = [(site, site.plugin.attribute("timeout_code")) for site in sites]
        if not pushes_map:
            for attribute in [site.plugin.attribute("timeout_tags") for site in sites] + [a for _, a in codes]:
                if attribute is not None:
                    self.report.note(
                        attribute.location.line,
                        "filter aggregate",
                        f"{attribute.name} is left out: Logstash applies it only to maps pushed on a timeout, and "
                        "this filter pushes none",
                    )
            return
        fields: dict[str, Any] = {}
        for site, attribute in codes:
            if attribute is not None:
                self._read_timeout_code(site, attribute, fields, tags)
        if tags:
            spec["timeout_tags"] = list(dict.fromkeys(tags))
        if fields:
            spec["timeout_fields"] = fields

    def _read_timeout_code(self, site: Site, attribute: ast.Attribute, fields: dict[str, Any], tags: list[str]) -> None:
        """`event.set('f', constant)`, `event.set('f', event.get('m') > 1)` and `event.tag('t')` on the pushed map."""
        text = as_text(attribute.value, "timeout_code")
        line = attribute.value_location.line
        try:
            statements = ruby.parse(text)
        except ruby.RubyError as exc:
            raise Untranslatable(
                f"cannot read the Ruby of timeout_code: {exc}",
                line + text.count("\n", 0, exc.offset),
                _statement_text(text, exc.offset),
            ) from exc
        for statement in statements:
            value = statement.value if statement.kind == "expr" else None
            snippet = text[statement.start : statement.end]
            at = line + text.count("\n", 0, statement.start)
            if (
                value is not None
                and value[0] == "call"
                and _is_var(value[1], "event")
                and value[2] == "tag"
                and len(value[3]) == 1
                and value[3][0][0] == "str"
            ):
                tags.append(str(value[3][0][1]))
                continue
            output = _event_set(value) if value is not None else None
            if output is not None:
                name, expression = output
                constant = self._constant(expression)
                if constant is not None:
                    fields[name] = constant
                    continue
                condition = _map_condition(expression)
                if condition is not None:
                    fields[name] = {"condition": condition}
                    continue
            raise Untranslatable(
                "in timeout_code only event.set(name, a constant or a comparison of the map's values) and "
                "event.tag(...) are understood",
                at,
                snippet,
            )

    # -- options ----------------------------------------------------------------------------------------

    def _check_options(self, site: Site) -> None:
        for attribute in site.plugin.attributes:
            name = attribute.name
            if name not in KNOWN_OPTIONS:
                self.report.untranslated(
                    attribute.location.line, "filter aggregate", f"unknown option {name}", attribute.location.text
                )
            elif name in ("add_field", "add_tag", "remove_field", "remove_tag"):
                self.report.untranslated(
                    attribute.location.line,
                    "filter aggregate",
                    f"{name} on an aggregate filter has no equivalent",
                    attribute.location.text,
                )
            elif name == "aggregate_maps_path":
                self.report.note(
                    attribute.location.line,
                    "filter aggregate",
                    "aggregate_maps_path is not needed: "
                    "the aggregator keeps its task state in its own tables across restarts",
                )
            elif name == "map_action" and as_text(attribute.value, name) != "create_or_update":
                self.report.note(
                    attribute.location.line,
                    "filter aggregate",
                    f"map_action {attribute.value}: a "
                    "streamstash task starts with its first event whichever filter it reaches",
                )

    @staticmethod
    def _bool_option(site: Site, name: str) -> bool:
        value = site.plugin.get(name)
        return value is not None and as_bool(value, name)

    def _timeouts(self, sites: list[Site], flush: dict[str, Any], pushes_map: bool, pushes_previous: bool) -> None:
        timeout = next(
            (site.plugin.attribute("timeout") for site in sites if site.plugin.get("timeout") is not None), None
        )
        inactivity = next(
            (
                site.plugin.attribute("inactivity_timeout")
                for site in sites
                if site.plugin.get("inactivity_timeout") is not None
            ),
            None,
        )
        stamp_field = next(
            (
                site.plugin.get("timeout_timestamp_field")
                for site in sites
                if site.plugin.get("timeout_timestamp_field") is not None
            ),
            None,
        )
        task_field = next(
            (
                site.plugin.get("timeout_task_id_field")
                for site in sites
                if site.plugin.get("timeout_task_id_field") is not None
            ),
            None,
        )
        if not pushes_map:
            if timeout is not None or inactivity is not None:
                where = (timeout or inactivity).location  # type: ignore[union-attr]
                self.report.note(
                    where.line,
                    "filter aggregate",
                    "without push_map_as_event_on_timeout Logstash "
                    "discards unfinished tasks silently after the timeout; streamstash keeps them "
                    "open until their flush rule (add flush.total_timeout to emit them tagged)",
                )
            return
        seconds = as_number(timeout.value, "timeout") if timeout is not None else DEFAULT_TIMEOUT_S
        flush["total_timeout"] = _duration(seconds)
        if pushes_previous:
            # Logstash pushes a task's map when the next task's first event arrives: it counts on the events of
            # a task coming one after the other. Tasks here are spread over partitions by their id, so "the
            # next task" is unknown; a task is emitted once its events stop instead.
            flush["idle_flush"] = _duration(seconds)
            self.report.note(
                sites[0].line,
                "filter aggregate",
                "push_previous_map_as_event: a task is emitted `timeout` after its first event (event time) or when "
                "no event came for `timeout` (wall clock), not when the next task starts; for inputs whose "
                "tasks come one after the other (what the option assumes) the aggregates are the same, only later",
            )
        if inactivity is not None:
            flush["inactivity_timeout"] = _duration(as_number(inactivity.value, "inactivity_timeout"))
        if stamp_field is None or as_text(stamp_field, "timeout_timestamp_field") != names.FIELD_TIMESTAMP:
            self.report.note(
                sites[0].line,
                "filter aggregate",
                "timeouts run on event time (@timestamp) and the "
                "newest event seen, so a replay gives the same aggregates; Logstash measures them on "
                "the wall clock unless timeout_timestamp_field is @timestamp",
            )
        if task_field is not None:
            name = as_text(task_field, "timeout_task_id_field")
            if name not in Template(sites[0].plugin.get("task_id")).fields:
                self.report.note(
                    sites[0].line,
                    "filter aggregate",
                    f"timeout_task_id_field {name!r}: the task id "
                    "is in the field `task_id` of every aggregate (and the task-id fields are kept)",
                )

    # -- code -------------------------------------------------------------------------------------------

    def _read_code(self, site: Site) -> _SiteCode:
        attribute = site.plugin.attribute("code")
        if attribute is None:
            raise Untranslatable("an aggregate filter without code", site.line, site.plugin.location.text)
        code_text = as_text(attribute.value, "code")
        code = _SiteCode(site, code_text)
        try:
            statements = ruby.parse(code_text)
        except ruby.RubyError as exc:
            raise Untranslatable(
                f"cannot read the Ruby code: {exc}",
                self._code_line(site, exc.offset),
                _statement_text(code_text, exc.offset),
            ) from exc
        flush_seen = False
        for statement in statements:
            if statement.kind == "if" and self._is_flush(statement):
                if code.flush is not None:
                    raise self._at_statement(code, statement, "a second flush condition")
                self._read_flush(code, statement)
                flush_seen = True
                continue
            if flush_seen and statement.kind == "assign":
                raise self._at_statement(
                    code,
                    statement,
                    "the map changes after the flush check; streamstash folds each event before deciding to flush",
                )
            self._read_statement(code, statement)
        return code

    def _code_line(self, site: Site, offset: int) -> int:
        attribute = site.plugin.attribute("code")
        assert attribute is not None
        return attribute.value_location.line + as_text(attribute.value, "code").count("\n", 0, offset)

    def _at_statement(self, code: _SiteCode, statement: ruby.Statement, message: str) -> Untranslatable:
        return Untranslatable(
            message, self._code_line(code.site, statement.start), code.code[statement.start : statement.end]
        )

    def _at(self, item: _Update | _Output, message: str) -> Untranslatable:
        code_text = as_text(item.site.plugin.get("code"), "code")
        return Untranslatable(
            message,
            self._code_line(item.site, item.statement.start),
            code_text[item.statement.start : item.statement.end],
        )

    def _read_statement(self, code: _SiteCode, statement: ruby.Statement) -> None:
        if statement.kind == "assign":
            key = _map_key(statement.target)
            if key is None:
                raise self._at_statement(code, statement, "only map[...] can be assigned to")
            self._read_assignment(code, statement, key)
            return
        if statement.kind == "expr":
            value = statement.value
            assert value is not None
            output = _event_set(value)
            if output is not None:
                code.outputs.append(_Output(output[0], output[1], code.site, statement, at_flush=False))
                return
            if _is_cancel(value):
                code.cancels_all = True
                return
            appended = _appended(value)
            if appended is not None:
                self._read_append(code, statement, *appended, unique=False)
                return
            raise self._at_statement(code, statement, "this statement has no declarative equivalent")
        unique = _unique_append(statement)
        if unique is not None:
            self._read_append(code, statement, *unique, unique=True)
            return
        raise self._at_statement(code, statement, "this condition is not a flush on a counter (`if map['n'] >= N`)")

    def _read_append(self, code: _SiteCode, statement: ruby.Statement, key: str, item: ruby.Expr, unique: bool) -> None:
        """`map['k'] << event.get('f')`, `map['k'] << {'name' => event.get('f'), ...}`: a list."""
        source = _event_get(item)
        if source is not None:
            code.updates[key] = _Update("list", source, code.site, statement, unique=unique)
            return
        if item[0] == "hash" and item[1]:
            fields = {}
            for name, value in item[1]:
                reference = _event_get(value)
                if name[0] not in ("str", "sym") or reference is None:
                    break
                fields[str(name[1])] = reference
            else:
                code.updates[key] = _Update("list", None, code.site, statement, fields=fields, unique=unique)
                return
        raise self._at_statement(
            code, statement, f"map[{key!r}] << ... collects only event.get(...) or a hash of event.get(...)"
        )

    def _read_assignment(self, code: _SiteCode, statement: ruby.Statement, key: str) -> None:
        operator, value = statement.operator, statement.value
        assert value is not None
        if operator == "=" and value[0] == "bin" and value[1] == "+" and _map_key(_strip_default(value[2])) == key:
            operator, value = "+=", value[3]  # map['n'] = map['n'] + 1, map['n'] = (map['n'] || 0) + 1
        number = _number(value)
        source = _event_get(value)
        site_map_action = code.site.plugin.get("map_action") or "create_or_update"
        if operator in ("||=", "=") and value == ("array", []):
            code.inits[key] = []  # a list that `<<` fills
        elif number == 0 and (operator == "||=" or (operator == "=" and site_map_action == "create")):
            code.inits[key] = 0
        elif operator == "+=" and number == 1:
            code.updates[key] = _Update("count", None, code.site, statement)
        elif operator == "+=" and source is not None:
            code.updates[key] = _Update("sum", source, code.site, statement)
        elif operator == "=" and source is not None:
            code.updates[key] = _Update("last", source, code.site, statement)
        elif operator == "||=" and source is not None:
            code.updates[key] = _Update("first", source, code.site, statement)
        else:
            raise self._at_statement(
                code, statement, f"map[{key!r}] {operator} ... is not a counter, a sum, a first or a last value"
            )

    @staticmethod
    def _is_flush(statement: ruby.Statement) -> bool:
        condition = statement.condition
        return (
            condition is not None
            and condition[0] == "bin"
            and condition[1] in (">=", "==", ">", "<=", "<")
            and (_map_key(condition[2]) is not None or _map_key(condition[3]) is not None)
        )

    def _read_flush(self, code: _SiteCode, statement: ruby.Statement) -> None:
        condition = statement.condition
        assert condition is not None
        _, operator, left, right = condition
        if _map_key(left) is None:  # N <= map['n'] -> map['n'] >= N
            left, right = right, left
            operator = {"<=": ">=", "<": ">", "==": "=="}.get(operator, "?")
        if operator not in (">=", "==", ">"):
            raise self._at_statement(code, statement, "the flush condition must be map[...] >= N (or == N)")
        counter = _map_key(left)
        assert counter is not None
        threshold: ruby.Expr = right if operator != ">" else ("bin", "+", right, ("num", 1))
        code.flush = (counter, threshold, statement)
        resets: set[str] = set()
        for inner in statement.then:
            value = inner.value
            if inner.kind == "expr" and value is not None:
                output = _event_set(value)
                if output is not None:
                    code.outputs.append(_Output(output[0], output[1], code.site, inner, at_flush=True))
                    continue
                if value[0] == "call" and _is_var(value[1], "map") and value[2] == "clear":
                    code.resets_all = True
                    continue
                if (
                    value[0] == "call"
                    and _is_var(value[1], "map")
                    and value[2] == "delete"
                    and value[3]
                    and value[3][0][0] in ("str", "sym")
                ):
                    resets.add(value[3][0][1])
                    continue
                if value[0] == "call" and _is_var(value[1], "event") and value[2] == "tag":
                    raise self._at_statement(code, inner, "event.tag on the flushed event has no equivalent")
            if inner.kind == "assign":
                key = _map_key(inner.target)
                if (
                    key is not None
                    and inner.operator == "="
                    and (_number(inner.value) == 0 or (inner.value or ("",))[0] == "nil")
                ):
                    resets.add(key)
                    continue
            raise self._at_statement(
                code, inner, "inside the flush only event.set(...), map.clear and resets (map[...] = 0) are understood"
            )
        code.resets = resets
        for inner in statement.otherwise:
            if inner.kind == "expr" and inner.value is not None and _is_cancel(inner.value):
                code.cancels_others = True
                continue
            raise self._at_statement(code, inner, "only event.cancel() is understood in the else of the flush")

    def _threshold(self, code: _SiteCode, threshold: ruby.Expr, statement: ruby.Statement) -> int | Verbatim:
        number = _number(threshold)
        if isinstance(number, int) and number >= 1:
            return number
        if threshold[0] == "bin" and threshold[1] == "+" and _number(threshold[3]) == 1:
            inner = self._threshold(code, threshold[2], statement)
            if isinstance(inner, int):
                return inner + 1
            raise self._at_statement(code, statement, "a flush at `> ENV value` cannot be written as every N")
        variable = _env_reference(threshold)
        if variable is not None:
            name, default = variable
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                raise self._at_statement(code, statement, f"environment variable name {name!r} cannot be used")
            return Verbatim(f"${{{name}}}" if default is None else f"${{{name}:-{default}}}")
        raise self._at_statement(code, statement, "the flush threshold is not a number or an environment variable")

    # -- values -----------------------------------------------------------------------------------------

    @staticmethod
    def _constant(expression: ruby.Expr) -> Any:
        if expression[0] in ("bool", "str", "num"):
            return expression[1]
        return None

    def _metric(self, output: _Output, updates: dict[str, _Update]) -> dict[str, Any]:
        expression = output.expression
        rounded = False
        while (
            expression[0] == "call"
            and expression[2] in ("round", "to_f", "to_i", "floor", "ceil")
            and expression[1] is not None
        ):
            rounded = rounded or expression[2] != "to_f"
            expression = expression[1]
        key = _map_key(expression)
        if key is not None:
            if key not in updates:
                raise self._at(output, f"map[{key!r}] is never counted, summed or set from the event")
            metric = self._metric_of_update(key, updates[key])
        else:
            average = _average(expression)
            if average is None:
                raise self._at(output, "only map values and their average (sum / count) can be set on the event")
            total_key, count_key, floating = average
            total, count = updates.get(total_key), updates.get(count_key)
            if total is None or total.kind != "sum" or count is None or count.kind != "count":
                raise self._at(output, f"map[{total_key!r}] / map[{count_key!r}] is not a sum divided by a counter")
            if total.site is not count.site:
                raise self._at(output, "the sum and the counter of this average are kept by different filters")
            metric = {"type": "avg", "field": total.field}
            if not floating and not _is_float_source(total.statement):
                self.report.note(
                    self._code_line(output.site, output.statement.start),
                    "filter aggregate",
                    f"{output.name}: Ruby divides integers to an integer; streamstash's average keeps "
                    "the fraction (write .to_f in Logstash for the same value)",
                )
        if rounded:
            self.report.note(
                self._code_line(output.site, output.statement.start),
                "filter aggregate",
                f"{output.name}: rounding is not applied",
            )
        return metric

    @staticmethod
    def _metric_of_update(key: str, update: _Update) -> dict[str, Any]:
        if update.kind == "count":
            return {"type": "count"}
        if update.kind == "list":
            metric: dict[str, Any] = {"type": "list"}
            if update.fields is not None:
                metric["fields"] = update.fields
            else:
                metric["field"] = update.field
            if update.unique:
                metric["unique"] = True
            return metric
        return {"type": update.kind, "field": update.field}


def _tests_flag(guard: str | None, flag: str) -> bool:
    """Whether a guard is just `[flag]` (or `[flag] == true`)."""
    reference = field_reference(flag)
    return guard in (reference, f"{reference} == true", f'{reference} == "true"')


def _appended(expression: ruby.Expr) -> tuple[str, ruby.Expr] | None:
    """`map['k'] << x` / `map['k'].push(x)` -> (k, x)."""
    if expression[0] == "bin" and expression[1] == "<<":
        key = _map_key(expression[2])
        return (key, expression[3]) if key is not None else None
    if expression[0] == "call" and expression[2] in ("push", "append") and len(expression[3]) == 1:
        key = _map_key(expression[1])
        return (key, expression[3][0]) if key is not None else None
    return None


def _unique_append(statement: ruby.Statement) -> tuple[str, ruby.Expr] | None:
    """`map['k'] << x unless map['k'].include?(x)` -> (k, x)."""
    condition = statement.condition
    if statement.otherwise or len(statement.then) != 1 or statement.then[0].kind != "expr":
        return None
    appended = _appended(statement.then[0].value or ("nil",))
    if appended is None or condition is None or condition[0] != "not":
        return None
    check = condition[1]
    if (
        check[0] == "call"
        and check[2] == "include?"
        and _map_key(check[1]) == appended[0]
        and len(check[3]) == 1
        and check[3][0] == appended[1]
    ):
        return appended
    return None


_RUBY_COMPARISONS = {"==", "!=", ">", ">=", "<", "<="}


def _map_condition(expression: ruby.Expr) -> str | None:
    """`event.get('clicks') > 1` (on the pushed map) -> `[clicks] > 1`."""
    if expression[0] != "bin" or expression[1] not in _RUBY_COMPARISONS:
        return None
    sides = []
    for side in (expression[2], expression[3]):
        reference = _event_get(side)
        if reference is not None:
            sides.append(field_reference(reference))
        elif side[0] == "num":
            sides.append(repr(side[1]))
        elif side[0] == "str":
            sides.append('"' + str(side[1]).replace("\\", "\\\\").replace('"', '\\"') + '"')
        else:
            return None
    return f"{sides[0]} {expression[1]} {sides[1]}"


def _duration(seconds: float) -> str:
    return f"{int(seconds)}s" if float(seconds).is_integer() else f"{int(seconds * 1000)}ms"


def _statement_text(code: str, offset: int) -> str:
    start = code.rfind("\n", 0, offset) + 1
    end = code.find("\n", offset)
    return code[start : end if end >= 0 else len(code)].strip()


def _is_var(expression: ruby.Expr | None, name: str) -> bool:
    return expression is not None and expression[0] == "var" and expression[1] == name


def _map_key(expression: ruby.Expr | None) -> str | None:
    if (
        expression is not None
        and expression[0] == "index"
        and _is_var(expression[1], "map")
        and expression[2][0] in ("str", "sym")
    ):
        return str(expression[2][1])
    return None


def _strip_default(expression: ruby.Expr) -> ruby.Expr:
    """`(map['n'] || 0)` -> `map['n']`."""
    if expression[0] == "bin" and expression[1] == "||" and _number(expression[3]) == 0:
        return expression[2]
    return expression


def _number(expression: ruby.Expr | None) -> int | float | None:
    if expression is None:
        return None
    if expression[0] == "num":
        return expression[1]
    if expression[0] == "call" and expression[2] in ("to_i", "to_f") and expression[1] is not None:
        return _number(expression[1])
    return None


def _event_get(expression: ruby.Expr) -> str | None:
    """`event.get('elapsed')` (maybe `.to_i`/`.to_f`, maybe `|| 0`) -> the field reference."""
    if expression[0] == "bin" and expression[1] == "||" and _number(expression[3]) is not None:
        expression = expression[2]
    if expression[0] == "call" and expression[2] in ("to_i", "to_f") and expression[1] is not None:
        expression = expression[1]
    if (
        expression[0] == "call"
        and _is_var(expression[1], "event")
        and expression[2] == "get"
        and len(expression[3]) == 1
        and expression[3][0][0] == "str"
    ):
        return str(expression[3][0][1])
    return None


def _is_float_source(statement: ruby.Statement) -> bool:
    """`map['s'] += event.get('x').to_f`: the sum is a float, so Ruby's division is too."""
    return "'to_f'" in repr(statement.value)


def _event_set(expression: ruby.Expr) -> tuple[str, ruby.Expr] | None:
    if (
        expression[0] == "call"
        and _is_var(expression[1], "event")
        and expression[2] == "set"
        and len(expression[3]) == 2
        and expression[3][0][0] == "str"
    ):
        name = str(expression[3][0][1])
        return name, expression[3][1]
    return None


def _is_cancel(expression: ruby.Expr) -> bool:
    return expression[0] == "call" and _is_var(expression[1], "event") and expression[2] == "cancel"


def _average(expression: ruby.Expr) -> tuple[str, str, bool] | None:
    """`map['s'] / map['n']`, `map['s'].to_f / map['n']`, `map['s'].fdiv(map['n'])` -> (sum key, count key,
    whether the division is a float one)."""
    if expression[0] == "call" and expression[2] == "fdiv" and len(expression[3]) == 1:
        total, count = _map_key(_unconvert(expression[1])), _map_key(_unconvert(expression[3][0]))
        return (total, count, True) if total and count else None
    if expression[0] == "bin" and expression[1] == "/":
        left, right = expression[2], expression[3]
        floating = _converts_to_float(left) or _converts_to_float(right)
        total, count = _map_key(_unconvert(left)), _map_key(_unconvert(right))
        return (total, count, floating) if total and count else None
    return None


def _unconvert(expression: ruby.Expr) -> ruby.Expr:
    while expression[0] == "call" and expression[2] in ("to_f", "to_i") and expression[1] is not None:
        expression = expression[1]
    if expression[0] == "call" and expression[1] is None and expression[2] == "Float" and len(expression[3]) == 1:
        return expression[3][0]
    return expression


def _converts_to_float(expression: ruby.Expr) -> bool:
    return (expression[0] == "call" and expression[2] == "to_f") or (
        expression[0] == "call" and expression[1] is None and expression[2] == "Float"
    )


def _env_reference(expression: ruby.Expr) -> tuple[str, str | None] | None:
    """`${N}`, `${N:5}`, `ENV['N'].to_i`, `ENV.fetch('N', 5).to_i`, `(ENV['N'] || 5).to_i` -> (name, default)."""
    if expression[0] == "call" and expression[2] in ("to_i", "to_f") and expression[1] is not None:
        expression = expression[1]
    if expression[0] == "env":
        return expression[1], expression[2]
    default: str | None = None
    if expression[0] == "bin" and expression[1] == "||":
        literal = expression[3]
        if literal[0] in ("num", "str"):
            default = str(literal[1])
            expression = expression[2]
    if expression[0] == "index" and _is_var(expression[1], "ENV") and expression[2][0] == "str":
        return str(expression[2][1]), default
    if (
        expression[0] == "call"
        and _is_var(expression[1], "ENV")
        and expression[2] == "fetch"
        and expression[3]
        and expression[3][0][0] == "str"
    ):
        fallback = expression[3][1] if len(expression[3]) > 1 else None
        if fallback is not None and fallback[0] in ("num", "str"):
            default = str(fallback[1])
        return str(expression[3][0][1]), default
    return None


def aggregation_name(task_id: str, taken: set[str], plugin_id: str | None = None) -> str:
    """A name for ids and metrics: the filter's `id`, else the task-id fields (`action_progress`)."""
    if plugin_id:
        base = _NAME_UNSAFE.sub("_", plugin_id).strip("_")
    else:
        base = "_".join(_NAME_UNSAFE.sub("_", name).strip("_") for name in Template(task_id).fields)
    base = base or "aggregate"
    name, number = base, 2
    while name in taken:
        name, number = f"{base}_{number}", number + 1
    taken.add(name)
    return name


def task_id_of(site: Site) -> str:
    value = site.plugin.get("task_id")
    if value is None:
        raise Untranslatable("an aggregate filter without task_id", site.line, site.plugin.location.text)
    task_id = as_text(value, "task_id")
    if not Template(task_id).fields:
        raise Untranslatable(f"task_id {task_id!r} has no %{{field}}", site.line, site.plugin.location.text)
    return task_id


__all__ = ["Aggregation", "Recogniser", "Site", "Verbatim", "aggregation_name", "task_id_of"]
