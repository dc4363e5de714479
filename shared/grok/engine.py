"""The grok matcher: several expressions compiled once, tried in order against each event's text."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import regex

from streamstash.grok.analysis import analyze
from streamstash.grok.compiler import Capture, expand, field_reference
from streamstash.grok.errors import GrokError
from streamstash.grok.library import load_pattern_library
from streamstash.grok.optimize import compile_fast

Extractor = Callable[[tuple[Any, ...]], dict[str, Any]]

_LEADING_INT = re.compile(r"\s*[+-]?[0-9]+")
_LEADING_FLOAT = re.compile(r"\s*[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def to_int(text: str) -> int | str:
    """Logstash's `:int`: the leading integer ("12.5" -> 12); text without one stays as it is."""
    try:
        return int(text)
    except ValueError:
        match = _LEADING_INT.match(text)
        return int(match.group()) if match else text


def to_float(text: str) -> float | str:
    """Logstash's `:float`: the leading decimal number; text without one (or nan/inf) stays as it is."""
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is not None and value - value == 0.0:  # finite
        return value
    match = _LEADING_FLOAT.match(text)
    return float(match.group()) if match else text


class GrokResult(NamedTuple):
    """What one event gave. `fields`: the captures (nested, typed) of the first matching expression -- or, with
    break_on_match=False, of all matching expressions merged. `pattern_index`: the first expression that matched.
    `timed_out`: the time budget ran out (tag the event `_groktimeout`); then `matched` is False."""

    matched: bool
    timed_out: bool
    fields: dict[str, Any]
    pattern_index: int | None


_new_result = tuple.__new__  # GrokResult without NamedTuple's Python-level __new__: the hot path builds many


def add_value(doc: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    """Set a (nested) field; a field that already has a value becomes an array of both (Logstash)."""
    node = doc
    for part in path[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    leaf = path[-1]
    if leaf not in node:
        node[leaf] = value
    else:
        existing = node[leaf]
        if isinstance(existing, list):
            existing.append(value)
        else:
            node[leaf] = [existing, value]


def merge_fields(target: dict[str, Any], fields: dict[str, Any]) -> None:
    """Captures of one more expression (break_on_match=False): nested dicts merge, repeated fields become arrays."""
    for key, value in fields.items():
        if key not in target:
            target[key] = value
            continue
        existing = target[key]
        if isinstance(existing, dict) and isinstance(value, dict):
            merge_fields(existing, value)
        elif isinstance(existing, list):
            existing.extend(value) if isinstance(value, list) else existing.append(value)
        else:
            target[key] = [existing, *value] if isinstance(value, list) else [existing, value]


def build_extractor(
    captures: Sequence[Capture],
    group_numbers: Sequence[int],
    mandatory: frozenset[int],
    keep_empty: bool,
) -> Extractor:
    """Generate `extract(groups) -> fields`, unrolled for one expression: the hot path of every event.

    `groups` is the match's `groups()` tuple. Fields of groups that take part in every match and cannot be empty
    (`mandatory`, from the static analysis) need no test (the leading run of them is one dict display, so keys
    keep the pattern's order); the others are tested for
    None / empty (Logstash drops empty captures unless keep_empty_captures). A field that is nested or captured
    by several groups goes through `add_value` (arrays for repeats). Conversions are inlined with a slow path.
    """
    counts: dict[tuple[str, ...], int] = {}
    for capture in captures:
        counts[capture.path] = counts.get(capture.path, 0) + 1
    namespace: dict[str, Any] = {"add_value": add_value, "to_int": to_int, "to_float": to_float}
    prelude: list[str] = []
    display: list[str] = []
    rest: list[str] = []
    test = "v is not None" if keep_empty else "v"

    def convert(capture: Capture, indent: str, target: str) -> list[str]:
        if capture.convert == "int":
            return [
                f"{indent}try:",
                f"{indent}    {target} = int({target})",
                f"{indent}except ValueError:",
                f"{indent}    {target} = to_int({target})",
            ]
        if capture.convert == "float":
            return [f"{indent}{target} = to_float({target})"]
        return []

    for index, (capture, number) in enumerate(zip(captures, group_numbers, strict=True)):
        simple = len(capture.path) == 1 and counts[capture.path] == 1
        if simple and number in mandatory:  # always there: no test
            if not rest:  # still in the leading run: part of the dict display (keys stay in pattern order)
                if capture.convert:
                    prelude.append(f"    v{index} = g[{number - 1}]")
                    prelude += convert(capture, "    ", f"v{index}")
                    display.append(f"{capture.path[0]!r}: v{index}")
                else:
                    display.append(f"{capture.path[0]!r}: g[{number - 1}]")
            elif capture.convert:
                rest.append(f"    v = g[{number - 1}]")
                rest += convert(capture, "    ", "v")
                rest.append(f"    d[{capture.path[0]!r}] = v")
            else:
                rest.append(f"    d[{capture.path[0]!r}] = g[{number - 1}]")
            continue
        rest += [f"    v = g[{number - 1}]", f"    if {test}:"]
        rest += convert(capture, "        ", "v")
        if simple:
            rest.append(f"        d[{capture.path[0]!r}] = v")
        else:
            namespace[f"p{index}"] = capture.path
            rest.append(f"        add_value(d, p{index}, v)")
    lines = ["def extract(g):", *prelude, "    d = {" + ", ".join(display) + "}", *rest, "    return d"]
    exec(compile("\n".join(lines), "<grok extractor>", "exec"), namespace)  # noqa: S102 - generated from a table
    return namespace["extract"]


class CompiledExpression:
    """One grok expression, compiled once: `fast` (Python's re) and/or `guarded` (regex, with a timeout)."""

    def __init__(self, text: str, library: Mapping[str, str], keep_empty: bool) -> None:
        self.text = text
        self.expansion = expand(text, library)
        regex_text = self.expansion.regex
        self.analysis = analyze(regex_text)
        fast, fast_error = _compile(compile_fast, regex_text)
        guarded, _ = _compile(lambda pattern: regex.compile(pattern, regex.VERSION0), regex_text)
        if fast is None and guarded is None:
            raise GrokError(f"pattern {text!r} does not compile as a regular expression: {fast_error}")
        if fast is not None and guarded is not None and fast.groupindex != guarded.groupindex:
            guarded = None  # the two engines read it differently: trust Python's own
        if not self.analysis.backtracking_safe and guarded is not None:
            fast = None  # risky: always under the timeout (if only re compiles it, it runs unguarded)
        self.fast = fast
        self.guarded = guarded
        self.risk = self.analysis.reason
        groupindex = (fast or guarded).groupindex
        numbers = [groupindex[capture.group] for capture in self.expansion.captures]
        self.extract = build_extractor(self.expansion.captures, numbers, self.analysis.mandatory_groups, keep_empty)
        self.fast_search = fast.search if fast is not None else None
        self.guarded_search = guarded.search if guarded is not None else None
        self.required_text = self.analysis.required_text  # a text without it cannot match


def _compile(compiler: Callable[[str], Any], regex_text: str) -> tuple[Any, Exception | None]:
    try:
        return compiler(regex_text), None
    except (re.error, regex.error, OverflowError, RecursionError, ValueError, TypeError) as exc:
        return None, exc


#: Texts longer than this always go to the guarded (interruptible) engine, even for a backtracking-safe
#: expression: "safe" rules out exponential blow-up, not the polynomial kind that long lines can show.
MAX_FAST_LENGTH = 2048


class Grok:
    """Logstash's grok: `match` searches the expressions in order (unanchored, like Logstash) and returns the
    captures of the first that matches (or of all, with break_on_match=False), typed and nested.

    Every expression is expanded and compiled once, here. Each event gets `timeout_ms` across all expressions:
    expressions that a static check finds free of catastrophic backtracking run on Python's `re` (fast, and
    bounded by the check plus MAX_FAST_LENGTH); the others -- and texts longer than MAX_FAST_LENGTH -- run on
    the `regex` package, which stops at the deadline: then the result says `timed_out` and the caller tags
    `_groktimeout`. The budget is CPU time of the process (what `regex` measures); on a busy machine the
    wall-clock time of a timed-out match can be longer. `timeout_ms=None` disables the budget.
    """

    def __init__(
        self,
        patterns: Sequence[str] | str,
        pattern_definitions: Mapping[str, str] | None = None,
        pattern_dirs: Iterable[Path | str] = (),
        break_on_match: bool = True,
        timeout_ms: float | None = 1000.0,
        *,
        pattern_files: Iterable[Path | str] = (),
        patterns_files_glob: str = "*",
        keep_empty_captures: bool = False,
        library: Mapping[str, str] | None = None,
    ) -> None:
        if isinstance(patterns, str):
            patterns = [patterns]
        if not patterns:
            raise GrokError("grok needs at least one pattern")
        if timeout_ms is not None and not timeout_ms > 0:
            raise GrokError(f"timeout_ms must be positive, got {timeout_ms}")
        if library is None:
            library = load_pattern_library(
                pattern_dirs, pattern_files, dict(pattern_definitions or {}), files_glob=patterns_files_glob
            )
        else:
            library = {**library, **(pattern_definitions or {})}
        self.patterns = list(patterns)
        self.break_on_match = break_on_match
        self.timeout_ms = timeout_ms
        self.keep_empty_captures = keep_empty_captures
        self.expressions = [CompiledExpression(text, library, keep_empty_captures) for text in self.patterns]
        # Every capture names a top-level field: the captured fields are a flat dict, no object in it.
        self.flat = all(
            len(capture.path) == 1 for expression in self.expressions for capture in expression.expansion.captures
        )
        self._budget_s = None if timeout_ms is None else timeout_ms / 1000.0
        # Which texts some expression reads on the guarded engine: those are the only matches that need the
        # clock (a read of the CPU clock is a system call, a fifth of a short line's match).
        self._always_guarded = any(expression.fast_search is None for expression in self.expressions)
        self._guarded_when_long = any(expression.guarded_search is not None for expression in self.expressions)
        # Match one event's text: a closure built here rather than a method, one attribute lookup less per event.
        self.match: Callable[[str], GrokResult] = self._match_several
        if len(self.expressions) == 1:
            self.match = self._single_matcher(self.expressions[0])
        elif break_on_match and not self._always_guarded:
            self.match = self._first_matcher()

    @property
    def field_names(self) -> list[str]:
        """Fields the expressions can produce, as Logstash references (`name`, `[a][b]`), first-seen order."""
        seen: dict[str, None] = {}
        for expression in self.expressions:
            for capture in expression.expansion.captures:
                seen.setdefault(field_reference(capture.path), None)
        return list(seen)

    @property
    def regexes(self) -> list[str]:
        """The expanded regular expressions (for debugging)."""
        return [expression.expansion.regex for expression in self.expressions]

    def _single_matcher(self, expression: CompiledExpression) -> Callable[[str], GrokResult]:
        """The common case, one expression, as a closure: no loop, no clock unless the guarded engine runs."""
        fast_search, guarded_search, extract = expression.fast_search, expression.guarded_search, expression.extract
        required = expression.required_text or ""  # "" is in every text
        timeout = None if self.timeout_ms is None else self.timeout_ms / 1000.0
        new, result_type = _new_result, GrokResult
        max_fast: float = MAX_FAST_LENGTH
        if guarded_search is None:  # nothing can interrupt it: plain re whatever the length
            max_fast = float("inf")

        def match(text: str) -> GrokResult:
            if required not in text:
                return new(result_type, (False, False, {}, None))
            if fast_search is not None and len(text) <= max_fast:
                m = fast_search(text)
            else:
                assert guarded_search is not None  # an expression compiles on at least one engine
                try:
                    m = guarded_search(text, timeout=timeout)
                except TimeoutError:
                    return new(result_type, (False, True, {}, None))
            if m is None:
                return new(result_type, (False, False, {}, None))
            return new(result_type, (True, False, extract(m.groups()), 0))

        return match

    def _first_matcher(self) -> Callable[[str], GrokResult]:
        """Several expressions, the first match wins, each on plain re up to MAX_FAST_LENGTH: a text that long
        needs no clock and no engine choice, a loop over what each expression needs; a longer one takes
        ``_match_several``."""
        tried = []
        for index, expression in enumerate(self.expressions):
            assert expression.fast_search is not None  # not `_always_guarded`: see __init__
            tried.append((index, expression.required_text or "", expression.fast_search, expression.extract))
        longer = self._match_several
        new, result_type = _new_result, GrokResult

        def match(text: str) -> GrokResult:
            if len(text) > MAX_FAST_LENGTH:
                return longer(text)
            for index, required, fast_search, extract in tried:
                if required in text:
                    m = fast_search(text)
                    if m is not None:
                        return new(result_type, (True, False, extract(m.groups()), index))
            return new(result_type, (False, False, {}, None))

        return match

    def _match_several(self, text: str) -> GrokResult:
        # The budget is CPU time, as the regex package counts it; the clock is read only if some expression
        # runs on the guarded engine for this text (the others cannot be interrupted anyway).
        long_text = len(text) > MAX_FAST_LENGTH
        deadline = None
        if self._budget_s is not None and (self._always_guarded or (long_text and self._guarded_when_long)):
            deadline = time.process_time() + self._budget_s
        fields: dict[str, Any] | None = None
        first: int | None = None
        for index, expression in enumerate(self.expressions):
            if expression.required_text is not None and expression.required_text not in text:
                continue  # cannot match: no need to try it at every position
            if expression.fast_search is not None and (not long_text or expression.guarded_search is None):
                m = expression.fast_search(text)
            else:
                remaining = None
                if deadline is not None:
                    remaining = deadline - time.process_time()
                    if remaining <= 0:
                        return _new_result(GrokResult, (False, True, {}, None))
                assert expression.guarded_search is not None  # an expression compiles on at least one engine
                try:
                    m = expression.guarded_search(text, timeout=remaining)
                except TimeoutError:
                    return _new_result(GrokResult, (False, True, {}, None))
            if m is None:
                continue
            captured = expression.extract(m.groups())
            if self.break_on_match:
                return _new_result(GrokResult, (True, False, captured, index))
            if fields is None:
                fields, first = captured, index
            else:
                merge_fields(fields, captured)
        if fields is None:
            return _new_result(GrokResult, (False, False, {}, None))
        return _new_result(GrokResult, (True, False, fields, first))

    def __repr__(self) -> str:
        return f"Grok({self.patterns!r}, break_on_match={self.break_on_match}, timeout_ms={self.timeout_ms})"
