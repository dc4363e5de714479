"""A parsed Logstash pipeline -> our pipeline file (as an ordered tree with comments) and a report.

Our filter chain is a flat list of steps, each optionally guarded by a condition; it has no `else`. A branch
`if A {X} else if B {Y} else {Z}` becomes steps guarded by `A`, `!(A) and B`, `!(A) and !(B)`. Those
guards are evaluated again before every step, so they only stand for the branch Logstash took if the steps
in between do not change the fields they read. When they might (a step writes a field a guard reads, or
could write any field: json/kv without a target), the branch is chosen once instead: steps before the
branch set a hidden marker field to the index of the arm taken, the arms are guarded by the marker, and a
last step removes it. Nested branches work the same way, each guard being the conjunction of the ones
around it.

Logstash's aggregate filters become entries of `aggregations` (see :mod:`streamstash.logstash.aggregate`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from streamstash import names
from streamstash.events.dissect import compile_dissect
from streamstash.events.fieldpath import parse_path
from streamstash.grok import Grok
from streamstash.logstash import ast
from streamstash.logstash.aggregate import Aggregation, Recogniser, Site, Verbatim, aggregation_name, task_id_of
from streamstash.logstash.condition_text import (
    FieldPath,
    conjunction,
    field_reference,
    fields_read,
    negation,
    render,
)
from streamstash.logstash.plugins import PluginTranslator
from streamstash.logstash.report import Report, Untranslatable
from streamstash.logstash.values import as_text_list

TAGS: FieldPath = (names.FIELD_TAGS,)
# Logstash resolves ${NAME} and ${NAME:default}; names may hold dots (keystore entries).
_LOGSTASH_REFERENCE = re.compile(r"\$\{([A-Za-z_.][A-Za-z0-9_.]*)(?::([^}]*))?\}")


@dataclass
class Step:
    """One entry of the filter chain in the making (or a comment where a filter could not go)."""

    entry: dict[str, Any] | None
    line: int
    comments: list[str] = field(default_factory=list)
    conditions: list[str] = field(default_factory=list)  # guard parts, ANDed
    writes: frozenset[FieldPath] | None = frozenset()  # None: may write any field
    unguarded: bool = False  # runs whatever the enclosing guards say (removing a branch marker)


@dataclass
class Entry:
    """A list item of the pipeline file, with the comment lines written above it."""

    value: Any
    comments: list[str] = field(default_factory=list)


@dataclass
class Translation:
    path: str
    report: Report
    header: list[str] = field(default_factory=list)
    connection: dict[str, Any] = field(default_factory=dict)
    inputs: list[Entry] = field(default_factory=list)
    filters: list[Entry] = field(default_factory=list)
    aggregations: list[Entry] = field(default_factory=list)
    output: dict[str, Any] = field(default_factory=dict)
    output_comments: list[str] = field(default_factory=list)

    def tree(self) -> dict[str, Any]:
        """The pipeline as plain data (what the YAML says), comments left out."""
        tree: dict[str, Any] = {"kafka": {"bootstrap_servers": _KAFKA_FROM_ENV}}
        tree["elasticsearch"] = self.connection or {"hosts": [_ES_FROM_ENV]}
        tree["inputs"] = [entry.value for entry in self.inputs if entry.value is not None]
        tree["filters"] = [entry.value for entry in self.filters if entry.value is not None]
        tree["aggregations"] = [entry.value for entry in self.aggregations if entry.value is not None]
        tree["outputs"] = {"elasticsearch": self.output}
        return tree


_KAFKA_FROM_ENV = Verbatim(f"${{{names.ENV_KAFKA}:-}}")
_ES_FROM_ENV = Verbatim(f"${{{names.ENV_ELASTICSEARCH}:-}}")


class Translator:
    def __init__(self, pipeline: ast.PipelineFile) -> None:
        self.pipeline = pipeline
        self.path = pipeline.path
        self.report = Report(pipeline.path)
        self.plugins = PluginTranslator(self.report)
        self.recogniser = Recogniser(self.report, pipeline.path)
        self.markers = 0
        self.aggregations: list[Aggregation] = []
        self.site_of: dict[int, Aggregation] = {}
        self._rendered: dict[int, str] = {}

    def translate(self) -> Translation:
        result = Translation(self.path, self.report)
        self._check_references()
        self._inputs(result)
        self._collect_aggregations()
        steps = self._flatten(self.pipeline.section("filter"))
        for step in steps:
            self._add_filter(result, step)
        for aggregation in self.aggregations:
            comment = f"{self.path}:{aggregation.line} aggregate task_id {aggregation.task_id!r}"
            result.aggregations.append(
                Entry(aggregation.spec, [comment])
                if aggregation.spec is not None
                else Entry(None, [comment + f": not translated (see the {_MARK_WORD} above)"])
            )
        self._outputs(result)
        self._input_ecs(result)
        untranslated = len(self.report.untranslated_spots)
        result.header = [f"Translated from {self.path} by `streamstash import-logstash`."]
        if untranslated:
            result.header.append(f"{untranslated} spot(s) could not be translated: search for {_MARK_WORD}.")
        return result

    # -- ${VAR} -----------------------------------------------------------------------------------------

    def _check_references(self) -> None:
        for number, line in enumerate(self.pipeline.text.split("\n"), 1):
            for match in _LOGSTASH_REFERENCE.finditer(line):
                if "." in match.group(1):
                    self.report.untranslated(
                        number,
                        "variable",
                        f"${{{match.group(1)}}} looks like a keystore "
                        "entry; only environment variables (letters, digits, _) are "
                        "substituted",
                        line.strip(),
                    )

    # -- inputs -----------------------------------------------------------------------------------------

    def _inputs(self, result: Translation) -> None:
        prelude: list[tuple[int, str, dict[str, Any]]] = []
        count = 0
        for node in self.pipeline.section("input"):
            if not isinstance(node, ast.Plugin):
                finding = self.report.untranslated(
                    node.location.line, "input", "conditionals in inputs", node.location.text
                )
                result.inputs.append(Entry(None, finding.comment_lines()))
                continue
            before = len(self.report.findings)
            try:
                inputs, filters = self.plugins.input(node)
            except Untranslatable as exc:
                finding = self.report.untranslated(
                    exc.line or node.location.line, f"input {node.name}", exc.message, exc.snippet or node.location.text
                )
                result.inputs.append(Entry(None, finding.comment_lines()))
                continue
            comments = [f"{self.path}:{node.location.line} input {node.name}", *self._comments_since(before)]
            for item in inputs:
                result.inputs.append(Entry(item, comments))
                comments = []
                count += 1
            prelude += [(node.location.line, kind, settings) for kind, settings in filters]
        if prelude and count > 1:
            for line, kind, _ in prelude:
                finding = self.report.untranslated(
                    line,
                    "input codec/tags",
                    f"a {kind} step for the events of one input among several cannot be scoped to that input",
                )
                result.filters.append(Entry(None, finding.comment_lines()))
        else:
            for line, kind, settings in prelude:
                result.filters.append(Entry({kind: settings}, [f"{self.path}:{line} from the input's codec/tags"]))

    # -- aggregate filters ------------------------------------------------------------------------------

    def _collect_aggregations(self) -> None:
        """Find every aggregate filter with the condition that leads to it, group them by task_id."""
        by_task: dict[str, list[Site]] = {}
        order = 0

        def walk(nodes: list[ast.Node], guard: list[str] | None) -> None:
            nonlocal order
            for node in nodes:
                if isinstance(node, ast.Plugin):
                    if node.name == "aggregate":
                        order += 1
                        site = Site(node, conjunction(guard) if guard is not None else _UNKNOWN_GUARD, order)
                        try:
                            by_task.setdefault(task_id_of(site), []).append(site)
                        except Untranslatable as exc:
                            self.report.untranslated(
                                exc.line or site.line, "filter aggregate", exc.message, exc.snippet or ""
                            )
                    continue
                previous: list[str] = []
                for clause in node.clauses:
                    text = self._render_quietly(clause.condition) if clause.condition is not None else ""
                    if guard is None or text is None:
                        walk(clause.body, None)
                    else:
                        arm = [*(negation(item) for item in previous), *([text] if text else [])]
                        walk(clause.body, [*guard, *arm])
                    if text:
                        previous.append(text)

        walk(self.pipeline.section("filter"), [])
        taken: set[str] = set()
        for task_id, sites in by_task.items():
            plugin_id = next((site.plugin.get("id") for site in sites if site.plugin.get("id")), None)
            name = aggregation_name(task_id, taken, str(plugin_id) if plugin_id else None)
            if any(site.guard == _UNKNOWN_GUARD for site in sites):
                self.report.untranslated(
                    sites[0].line,
                    "filter aggregate",
                    "a condition leading to this aggregate filter could not be translated",
                    sites[0].plugin.location.text,
                )
                aggregation = Aggregation(name=name, task_id=task_id, sites=sites)
            else:
                aggregation = self.recogniser.translate(task_id, sites, name)
            self.aggregations.append(aggregation)
            for site in sites:
                self.site_of[id(site.plugin)] = aggregation

    def _render_quietly(self, condition: ast.Condition) -> str | None:
        try:
            return self._render(condition)
        except Untranslatable:
            return None

    def _render(self, condition: ast.Condition) -> str:
        key = id(condition)
        if key not in self._rendered:
            self._rendered[key] = render(condition)
        return self._rendered[key]

    # -- filters ----------------------------------------------------------------------------------------

    def _flatten(self, nodes: list[ast.Node]) -> list[Step]:
        steps: list[Step] = []
        for node in nodes:
            if isinstance(node, ast.Plugin):
                steps.extend(self._plugin(node))
            else:
                steps.extend(self._branch(node))
        return steps

    def _plugin(self, plugin: ast.Plugin) -> list[Step]:
        line = plugin.location.line
        source = f"{self.path}:{line} {plugin.name}"
        if plugin.name == "aggregate":
            aggregation = self.site_of.get(id(plugin))
            target = f"aggregations: {aggregation.name}" if aggregation and aggregation.spec else "not translated"
            comments = [f"{source} -> {target}"]
            if aggregation is not None and aggregation.sites[0].plugin is plugin:
                comments += [text for finding in aggregation.findings for text in finding.comment_lines()]
            return [Step(None, line, comments)]
        before = len(self.report.findings)
        try:
            kind, settings = self.plugins.filter(plugin)
        except Untranslatable as exc:
            finding = self.report.untranslated(
                exc.line or line, f"filter {plugin.name}", exc.message, exc.snippet or plugin.location.text
            )
            return [Step(None, line, finding.comment_lines())]
        return [Step({kind: settings}, line, [source, *self._comments_since(before)], writes=_writes(kind, settings))]

    def _comments_since(self, before: int) -> list[str]:
        return [line for finding in self.report.findings[before:] for line in finding.comment_lines()]

    def _branch(self, branch: ast.Branch) -> list[Step]:
        line = branch.location.line
        idiom = self._flag_branch(branch)
        if idiom is None:
            idiom = self._negated_flag_drop(branch)
        if idiom is not None:
            return idiom
        rendered: list[str | None] = []
        for clause in branch.clauses:
            if clause.condition is None:
                rendered.append(None)
                continue
            try:
                rendered.append(self._render(clause.condition))
            except Untranslatable as exc:
                finding = self.report.untranslated(clause.location.line, "condition", exc.message, branch.location.text)
                return [Step(None, line, finding.comment_lines())]
        reads: set[FieldPath] = set()
        for clause in branch.clauses:
            reads |= fields_read(clause.condition)
        produced = self._aggregate_outputs()
        if any(path[:1] in produced for path in reads):
            finding = self.report.untranslated(
                line,
                "condition",
                "this branch tests a field that an aggregate "
                "filter sets; in streamstash the filters run before the "
                "aggregation, so it never holds there",
                branch.location.text,
            )
            return [Step(None, line, finding.comment_lines())]
        bodies = [self._flatten(clause.body) for clause in branch.clauses]
        runnable = [step for body in bodies for step in body if step.entry is not None]
        writes: frozenset[FieldPath] | None = frozenset()
        for step in runnable[:-1]:  # the last step's writes come after every guard was evaluated
            writes = None if writes is None or step.writes is None else writes | step.writes
        if len(runnable) > 1 and _overlap(writes, reads):
            return self._marked_branch(branch, rendered, bodies)
        steps: list[Step] = []
        previous: list[str] = []
        for clause, text, body in zip(branch.clauses, rendered, bodies, strict=True):
            arm = [*(negation(item) for item in previous), *([text] if text else [])]
            for step in body:
                if not step.unguarded:
                    step.conditions = [*arm, *step.conditions]
            if body:
                word = "else" if text is None else ("if" if clause is branch.clauses[0] else "else if")
                body[0].comments.insert(0, f"{self.path}:{clause.location.line} {word}")
                steps.extend(body)
            if text:
                previous.append(text)
        return steps

    def _marked_branch(self, branch: ast.Branch, rendered: list[str | None], bodies: list[list[Step]]) -> list[Step]:
        self.markers += 1
        name = f"{names.FIELD_BRANCH_MARKER_PREFIX}{self.markers}"
        reference = field_reference(name)
        path: FieldPath = (name,)
        line = branch.location.line
        steps: list[Step] = []
        for index, text in enumerate(rendered):
            guard = [text] if index == 0 and text else [f"!{reference}", *([text] if text else [])]
            comments = (
                [
                    (
                        f"{self.path}:{line} branch taken once (its arms change fields its conditions read): "
                        f"{reference} marks the arm"
                    )
                ]
                if index == 0
                else []
            )
            steps.append(
                Step({"mutate": {"add_field": {name: str(index)}}}, line, comments, guard, writes=frozenset({path}))
            )
        for index, (clause, body) in enumerate(zip(branch.clauses, bodies, strict=True)):
            for step in body:
                if not step.unguarded:
                    step.conditions = [f'{reference} == "{index}"', *step.conditions]
            if body:
                body[0].comments.insert(0, f"{self.path}:{clause.location.line} arm {index}")
            steps.extend(body)
        steps.append(Step({"mutate": {"remove_field": [name]}}, line, [], [], writes=frozenset({path}), unguarded=True))
        return steps

    def _aggregate_outputs(self) -> set[FieldPath]:
        produced: set[FieldPath] = set()
        for aggregation in self.aggregations:
            produced |= {(name,) for name in [*aggregation.flags, *aggregation.metric_names]}
        return produced

    # -- the `if [aggregated] { mutate {...} } else { drop {} }` idiom -----------------------------------

    def _flag_branch(self, branch: ast.Branch) -> list[Step] | None:
        first = branch.clauses[0].condition
        flag = _flag_of(first)
        if flag is None:
            return None
        aggregation = next((item for item in self.aggregations if item.spec is not None and flag in item.flags), None)
        if (
            aggregation is None
            or len(branch.clauses) > 2
            or (len(branch.clauses) == 2 and branch.clauses[1].condition is not None)
        ):
            return None
        spec = aggregation.spec
        assert spec is not None
        line = branch.location.line
        steps = [Step(None, line, [f"{self.path}:{line} if [{flag}]: applies to the aggregates of {aggregation.name}"])]
        for node in branch.clauses[0].body:
            if isinstance(node, ast.Plugin) and self.site_of.get(id(node)) is aggregation:
                steps.append(Step(None, _line(node), [f"{self.path}:{_line(node)} aggregate -> {aggregation.name}"]))
                continue
            if not isinstance(node, ast.Plugin) or node.name != "mutate":
                finding = self.report.untranslated(
                    _line(node),
                    "aggregate follow-up",
                    "only mutate (remove_field, rename of a value) can be applied to aggregates",
                    _text(node),
                )
                steps.append(Step(None, _line(node), finding.comment_lines()))
                continue
            self._mutate_on_aggregates(node, aggregation, steps)
        if len(branch.clauses) == 2:
            otherwise = branch.clauses[1].body
            if _is_plain_drop(otherwise):
                steps.append(self._drop_raw_events(aggregation, otherwise[0], "else drop"))
            else:
                finding = self.report.untranslated(
                    branch.clauses[1].location.line,
                    "aggregate follow-up",
                    "only `else { drop {} }` is understood here",
                    branch.clauses[1].location.text,
                )
                steps.append(Step(None, branch.clauses[1].location.line, finding.comment_lines()))
        return steps

    def _negated_flag_drop(self, branch: ast.Branch) -> list[Step] | None:
        """`if ![aggregated] { drop {} }`: only the aggregates are kept, as with `else { drop {} }`."""
        condition = branch.clauses[0].condition
        if len(branch.clauses) != 1 or not isinstance(condition, ast.Negation):
            return None
        flag = _flag_of(condition.inner)
        body = branch.clauses[0].body
        aggregation = next((item for item in self.aggregations if item.spec is not None and flag in item.flags), None)
        if flag is None or aggregation is None or not _is_plain_drop(body):
            return None
        line = branch.location.line
        comment = f"{self.path}:{line} if ![{flag}] drop: only the aggregates of {aggregation.name} are kept"
        return [Step(None, line, [comment]), self._drop_raw_events(aggregation, body[0], "drop")]

    def _drop_raw_events(self, aggregation: Aggregation, drop: ast.Node, word: str) -> Step:
        """The aggregation keeps its raw events out of the index; the events it does not take at all (no task id)
        were dropped by the same drop in Logstash, so they are dropped here."""
        spec = aggregation.spec
        assert spec is not None
        spec["index_events"] = False
        routed = aggregation.routed_condition()
        line = drop.location.line
        return Step(
            {"drop": {}},
            line,
            [f"{self.path}:{line} {word}: the events no aggregate comes from ({aggregation.name})"],
            [negation(routed)] if routed else [],
        )

    def _mutate_on_aggregates(self, plugin: ast.Plugin, aggregation: Aggregation, steps: list[Step]) -> None:
        spec = aggregation.spec
        assert spec is not None
        for attribute in plugin.attributes:
            try:
                if attribute.name == "remove_field":
                    removed = as_text_list(attribute.value, "remove_field")
                    spec.setdefault("remove_fields", [])
                    spec["remove_fields"] += [name for name in removed if name not in spec["remove_fields"]]
                elif (
                    attribute.name == "rename"
                    and isinstance(attribute.value, dict)
                    and all(old in spec["metrics"] for old in attribute.value)
                ):
                    for old, new in attribute.value.items():
                        spec["metrics"] = {
                            (str(new) if key == old else key): value for key, value in spec["metrics"].items()
                        }
                elif attribute.name != "id":
                    raise Untranslatable(f"mutate {attribute.name} cannot be applied to aggregates")
            except Untranslatable as exc:
                finding = self.report.untranslated(
                    attribute.location.line, "aggregate follow-up", exc.message, attribute.location.text
                )
                steps.append(Step(None, attribute.location.line, finding.comment_lines()))

    def _add_filter(self, result: Translation, step: Step) -> None:
        if step.entry is None:
            result.filters.append(Entry(None, step.comments))
            return
        entry = dict(step.entry)
        condition = conjunction(step.conditions)
        if condition:
            entry["if"] = condition
        result.filters.append(Entry(entry, step.comments))

    # -- outputs ----------------------------------------------------------------------------------------

    def _outputs(self, result: Translation) -> None:
        seen_elasticsearch = False
        for node in self.pipeline.section("output"):
            if isinstance(node, ast.Branch):
                if self._aggregate_output_branch(node, result):
                    seen_elasticsearch = True
                    continue
                if not seen_elasticsearch and self._routed_outputs(node, result):
                    seen_elasticsearch = True
                    continue
                finding = self.report.untranslated(
                    node.location.line,
                    "output",
                    "conditional outputs have no "
                    "equivalent (one Elasticsearch output for events, one index "
                    "for aggregates)",
                    node.location.text,
                )
                result.output_comments += finding.comment_lines()
                continue
            if node.name == "elasticsearch":
                if seen_elasticsearch:
                    finding = self.report.untranslated(
                        node.location.line, "output elasticsearch", "only one elasticsearch output", node.location.text
                    )
                    result.output_comments += finding.comment_lines()
                    continue
                seen_elasticsearch = True
                before = len(self.report.findings)
                self.plugins.elasticsearch(node, result.connection, result.output)
                result.output_comments += [
                    f"{self.path}:{node.location.line} elasticsearch",
                    *self._comments_since(before),
                ]
            elif node.name in ("stdout", "null"):
                self.report.note(
                    node.location.line,
                    f"output {node.name}",
                    "left out (debug output); `streamstash "
                    "grok` and `streamstash check` help to try patterns and pipelines",
                )
            else:
                finding = self.report.untranslated(
                    node.location.line, f"output {node.name}", "no equivalent output", node.location.text
                )
                result.output_comments += finding.comment_lines()
        if not seen_elasticsearch and self.pipeline.section("output"):
            self.report.note(
                self.pipeline.section("output")[0].location.line,
                "output",
                "no elasticsearch output: streamstash always indexes into "
                "Elasticsearch (`outputs.elasticsearch`, defaults kept)",
            )

    def _routed_outputs(self, branch: ast.Branch, result: Translation) -> bool:
        """`if A { elasticsearch { index => "a" } } else if B { elasticsearch { index => "b" } } ...` with the
        same options but the index: one output whose index each event's arm chose, kept in its @metadata."""
        arms: list[tuple[ast.Clause, ast.Plugin]] = []
        for clause in branch.clauses:
            outputs = [node for node in clause.body if not (isinstance(node, ast.Plugin) and node.name == "stdout")]
            if len(outputs) != 1 or not isinstance(outputs[0], ast.Plugin) or outputs[0].name != "elasticsearch":
                return False
            arms.append((clause, outputs[0]))
        options = {tuple((a.name, repr(a.value)) for a in plugin.attributes if a.name != "index") for _, plugin in arms}
        otherwise = branch.clauses[-1].condition is None
        if len(options) != 1 or (not otherwise and self.aggregations):
            return False  # without an else, the events no arm takes are dropped: not before an aggregation
        try:
            rendered = [self._render(clause.condition) if clause.condition is not None else None for clause, _ in arms]
        except Untranslatable:
            return False
        before = len(self.report.findings)
        self.plugins.elasticsearch(arms[0][1], result.connection, result.output)
        line = branch.location.line
        indices: list[str] = []
        previous: list[str] = []
        for (clause, plugin), text in zip(arms, rendered, strict=True):
            index = as_text_list(plugin.get("index"), "index")[0] if plugin.get("index") is not None else None
            index = index or names.DEFAULT_INDEX
            indices.append(index)
            guard = conjunction([*(negation(item) for item in previous), *([text] if text else [])])
            entry: dict[str, Any] = {"mutate": {"add_field": {_OUTPUT_INDEX: index}}}
            if guard:
                entry["if"] = guard
            result.filters.append(Entry(entry, [f"{self.path}:{clause.location.line} output arm: index {index}"]))
            if text:
                previous.append(text)
        if not otherwise:
            comment = f"{self.path}:{line} the events no output arm takes are not sent (as in Logstash)"
            result.filters.append(Entry({"drop": {}, "if": f"!{_OUTPUT_INDEX}"}, [comment]))
        result.output["index"] = f"%{{{_OUTPUT_INDEX}}}"
        result.output["template_patterns"] = template_patterns_of(indices)
        result.output_comments += [
            f"{self.path}:{line} conditional elasticsearch outputs: the index each arm names, chosen in the filters",
            *self._comments_since(before),
        ]
        return True

    def _input_ecs(self, result: Translation) -> None:
        """The inputs' `ecs_compatibility` names their fields (`[log][file][path]` or `path`); here one setting,
        `outputs.elasticsearch.ecs_compatibility`, names them for the whole pipeline."""
        levels = {("disabled" if level == "disabled" else "v8") for _, level in self.plugins.input_ecs}
        if not levels:
            return
        line = self.plugins.input_ecs[0][0]
        if len(levels) > 1:
            self.report.untranslated(
                line,
                "input option ecs_compatibility",
                "the inputs ask for different field names; streamstash names the inputs' fields one way for the "
                "whole pipeline (outputs.elasticsearch.ecs_compatibility)",
            )
            return
        (level,) = levels
        chosen = result.output.get("ecs_compatibility")
        if chosen is None:
            result.output["ecs_compatibility"] = level
            if level == "v8":
                self.report.note(
                    line,
                    "input option ecs_compatibility",
                    "the inputs' fields are named as ECS ([host][name], [log][file][path], ...) for the whole "
                    "pipeline, and the indexer writes the classic grok fields under their ECS names too",
                )
        elif chosen != level:
            self.report.untranslated(
                line,
                "input option ecs_compatibility",
                f"the inputs ask for ecs_compatibility {level} and the output for {chosen}; streamstash has one "
                "setting for both (outputs.elasticsearch.ecs_compatibility)",
            )

    def _aggregate_output_branch(self, branch: ast.Branch, result: Translation) -> bool:
        """`if [aggregated] { elasticsearch { index => "agg" } } else { elasticsearch { ... } }`."""
        flag = _flag_of(branch.clauses[0].condition)
        if flag is None or not any(flag in item.flags for item in self.aggregations if item.spec):
            return False
        arms = [clause.body for clause in branch.clauses]
        if len(arms) > 2 or any(
            len(arm) != 1 or not isinstance(arm[0], ast.Plugin) or arm[0].name != "elasticsearch" for arm in arms
        ):
            return False
        aggregate_output: dict[str, Any] = {}
        before = len(self.report.findings)
        self.plugins.elasticsearch(arms[0][0], result.connection, aggregate_output)  # type: ignore[arg-type]
        if len(arms) == 2:
            self.plugins.elasticsearch(arms[1][0], result.connection, result.output)  # type: ignore[arg-type]
        if "index" in aggregate_output:
            result.output["aggregate_index"] = aggregate_output.pop("index")
        result.output_comments += [
            f"{self.path}:{branch.location.line} if [{flag}]: aggregates -> aggregate_index",
            *self._comments_since(before),
        ]
        return True


_MARK_WORD = "UNTRANSLATED"
# Where the arm of a conditional output leaves the index it names.
_OUTPUT_INDEX = f"[{names.FIELD_METADATA}][output_index]"


def template_patterns_of(indices: list[str]) -> list[str]:
    """`web-%{+YYYY.MM.dd}` -> `web-*`; a constant index is its own pattern."""
    patterns = []
    for index in indices:
        head = index.split("%{", 1)[0].lower()
        pattern = f"{head}*" if "%{" in index else index.lower()
        if pattern != "*" and pattern not in patterns:
            patterns.append(pattern)
    return patterns


_UNKNOWN_GUARD = "\x00unknown"


def _line(node: ast.Node) -> int:
    return node.location.line


def _text(node: ast.Node) -> str:
    return node.location.text


def _is_plain_drop(body: list[ast.Node]) -> bool:
    return (
        len(body) == 1
        and isinstance(body[0], ast.Plugin)
        and body[0].name == "drop"
        and all(attribute.name == "id" for attribute in body[0].attributes)
    )


def _flag_of(condition: ast.Condition | None) -> str | None:
    """`[aggregated]`, `[aggregated] == true`, `[aggregated] == "true"` -> "aggregated"."""
    if isinstance(condition, ast.Truthy) and isinstance(condition.value, ast.Selector):
        path = parse_path(condition.value.path)
        return path[0] if len(path) == 1 else None
    if (
        isinstance(condition, ast.Comparison)
        and condition.operator == "=="
        and isinstance(condition.left, ast.Selector)
        and isinstance(condition.right, ast.Constant)
        and str(condition.right.value).lower() == "true"
    ):
        path = parse_path(condition.left.path)
        return path[0] if len(path) == 1 else None
    return None


def _overlap(writes: frozenset[FieldPath] | None, reads: set[FieldPath]) -> bool:
    if not reads:
        return False
    if writes is None:
        return True
    return any(write[: len(read)] == read or read[: len(write)] == write for write in writes for read in reads)


class _AnyField(Exception):
    pass


def _writes(kind: str, settings: dict[str, Any]) -> frozenset[FieldPath] | None:
    """Fields a filter may change (None: any), for deciding whether a branch's guards stay valid."""
    written: set[FieldPath] = set()

    def add(reference: str) -> None:
        if "%{" in reference:
            raise _AnyField
        written.add(parse_path(reference))

    try:
        for reference in settings.get("add_field", {}):
            add(reference)
        for reference in settings.get("remove_field", []):
            add(reference)
        if (
            settings.get("add_tag")
            or settings.get("remove_tag")
            or "tag_on_failure" in settings
            or kind in ("grok", "date", "json", "dissect")
        ):
            written.add(TAGS)
        if kind == "grok":
            for patterns in settings.get("match", {}).values():
                grok = Grok(
                    patterns,
                    pattern_definitions=settings.get("pattern_definitions"),
                    pattern_dirs=settings.get("patterns_dir", []),
                    timeout_ms=None,
                )
                for reference in grok.field_names:
                    add(reference)
        elif kind == "date":
            add(settings.get("target", names.FIELD_TIMESTAMP))
        elif kind == "mutate":
            for option in ("coerce", "update", "replace", "convert", "split", "join", "merge"):
                for reference in settings.get(option, {}):
                    add(reference)
            for old, new in settings.get("rename", {}).items():
                add(old)
                add(new)
            for reference in settings.get("copy", {}).values():
                add(reference)
            for option in ("uppercase", "capitalize", "lowercase", "strip"):
                for reference in settings.get(option, []):
                    add(reference)
            gsub = settings.get("gsub", [])
            for index in range(0, len(gsub), 3):
                add(gsub[index])
        elif kind in ("json", "kv"):
            if settings.get("target") is None:
                raise _AnyField
            add(settings["target"])
        elif kind == "dissect":
            for pattern in settings.get("mapping", {}).values():
                compiled = compile_dissect(pattern)
                for item in compiled.fields:
                    if item.role == "reference":
                        raise _AnyField
                    if item.role in ("capture", "append"):
                        add(item.name)
            for reference in settings.get("convert_datatype", {}):
                add(reference)
    except _AnyField:
        return None
    except Exception:  # noqa: BLE001 - a pattern we cannot expand here: assume the worst
        return None
    return frozenset(written)


def translate(pipeline: ast.PipelineFile) -> Translation:
    return Translator(pipeline).translate()
