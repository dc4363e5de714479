"""Static checks on an expanded regex, done once per expression when a Grok is built.

`analyze` answers two questions from the parse tree of Python's own regex parser:

* Is the regex free of the constructs that make a backtracking matcher explode (`(a+)+`, `(a|a)*`,
  `(\\w+\\s?)*`, many unbounded wildcards in a row)? Such a regex -- `backtracking_safe` -- is matched with
  Python's `re`, which is fast but cannot be interrupted; anything else goes to the `regex` package, which
  honours a timeout. The check is conservative: what it cannot prove harmless counts as risky.
* Which capturing groups take part in every match and never capture the empty string (`mandatory`)? Their
  values need no None/empty test when the fields are built, which keeps the hot path short.
* Which run of literal characters does every match contain (`required_text`)? A text without it cannot
  match, so the matcher answers at once instead of trying the regex at every position of the line: a line
  of another kind (the second of two patterns, a line no pattern takes) then costs a substring test, not a
  failed search (11 µs for COMBINEDAPACHELOG on a 75-character line).

It relies on `re._parser` (CPython's sre parser); if that ever fails, the regex simply counts as risky.
"""

from __future__ import annotations

from dataclasses import dataclass
from re import _constants as C  # noqa: N812
from re import _parser as sre_parse
from typing import Any

# A repeat of a bounded-width body at most this many times is harmless whatever the body.
MAX_SMALL_REPEAT = 8
MAX_SMALL_WIDTH = 256
# More unbounded, backtracking repeats of sets that match a space or tab (`.*`, `[^"]*`) than this: risky
# (polynomial blow-up, e.g. seven `%{GREEDYDATA}` separated by tabs).
MAX_WIDE_UNBOUNDED = 3

_SINGLE = {C.LITERAL, C.NOT_LITERAL, C.IN, C.ANY}
_REPEATS = {C.MAX_REPEAT, C.MIN_REPEAT, C.POSSESSIVE_REPEAT}

_CATEGORIES = {
    C.CATEGORY_DIGIT: str.isdigit,
    C.CATEGORY_UNI_DIGIT: str.isdigit,
    C.CATEGORY_SPACE: str.isspace,
    C.CATEGORY_UNI_SPACE: str.isspace,
    C.CATEGORY_WORD: lambda ch: ch.isalnum() or ch == "_",
    C.CATEGORY_UNI_WORD: lambda ch: ch.isalnum() or ch == "_",
    C.CATEGORY_NOT_DIGIT: lambda ch: not ch.isdigit(),
    C.CATEGORY_UNI_NOT_DIGIT: lambda ch: not ch.isdigit(),
    C.CATEGORY_NOT_SPACE: lambda ch: not ch.isspace(),
    C.CATEGORY_UNI_NOT_SPACE: lambda ch: not ch.isspace(),
    C.CATEGORY_NOT_WORD: lambda ch: not (ch.isalnum() or ch == "_"),
    C.CATEGORY_UNI_NOT_WORD: lambda ch: not (ch.isalnum() or ch == "_"),
}


@dataclass(frozen=True)
class Analysis:
    backtracking_safe: bool
    reason: str | None  # why not, for debugging
    mandatory_groups: frozenset[int]  # group numbers
    required_text: str | None = None  # the longest literal every match contains, if any


class _Risky(Exception):
    pass


def _member(ch: str, op: Any, av: Any) -> bool:
    """Can the single-character matcher (op, av) match `ch`? Unknown items answer True (conservative)."""
    code = ord(ch)
    if op is C.LITERAL:
        return code == av
    if op is C.NOT_LITERAL:
        return code != av
    if op is C.ANY:
        return ch != "\n"
    if op is C.IN:
        negate, hit = False, False
        for item, value in av:
            if item is C.NEGATE:
                negate = True
            elif item is C.LITERAL:
                hit = hit or code == value
            elif item is C.RANGE:
                hit = hit or value[0] <= code <= value[1]
            elif item is C.CATEGORY and value in _CATEGORIES:
                hit = hit or _CATEGORIES[value](ch)
            else:
                return True
        return hit != negate
    return True


def _flatten(pattern: Any) -> list[tuple[Any, Any]]:
    """The items of a sequence with group wrappers (capturing or not, no flags) opened up."""
    items: list[tuple[Any, Any]] = []
    for op, av in pattern:
        if op is C.SUBPATTERN and not av[1] and not av[2]:
            items.extend(_flatten(av[3]))
        else:
            items.append((op, av))
    return items


def _single_char(pattern: Any) -> tuple[Any, Any] | None:
    items = _flatten(pattern)
    if len(items) == 1 and items[0][0] in _SINGLE:
        return items[0]
    return None


def _is_wide(op: Any, av: Any) -> bool:
    """Can run across the fields of a line (matches a space or a tab): `.*`, `[^"]*`, not `\\S+` or `\\w+`."""
    return _member(" ", op, av) or _member("\t", op, av)


def _delimited(body: list[tuple[Any, Any]]) -> bool:
    """`\\.[a-z][a-z0-9-]*` (or mirrored, `[a-z]*:`): a literal that nothing else in the body can match, so the
    iterations of a repeat of this body split the text in exactly one way; at most one variable-width item."""
    if not body:
        return True  # `(?:)*` matches nothing, whatever the count
    for delimiter, rest in ((body[0], body[1:]), (body[-1], body[:-1])):
        if delimiter[0] is not C.LITERAL or not rest:
            continue
        ch = chr(delimiter[1])
        variable = 0
        for op, av in rest:
            matcher: tuple[Any, Any] | None
            if op in _SINGLE:
                matcher = (op, av)
            elif op in _REPEATS and (matcher := _single_char(av[2])) is not None:
                variable += av[0] != av[1]
            else:
                break
            if _member(ch, *matcher):
                break
        else:
            if variable <= 1:
                return True
    return False


class _Walker:
    def __init__(self, check_risk: bool = True) -> None:
        self.check_risk = check_risk
        self.mandatory: set[int] = set()
        self.wide_unbounded = 0

    def walk(self, pattern: Any, mandatory: bool) -> None:
        for op, av in pattern:
            if op is C.SUBPATTERN:
                group, body = av[0], av[3]
                if group is not None and mandatory and body.getwidth()[0] > 0:
                    self.mandatory.add(group)
                self.walk(body, mandatory)
            elif op is C.BRANCH:
                for alternative in av[1]:
                    self.walk(alternative, False)
            elif op in _REPEATS:
                self.repeat(op, av, mandatory)
            elif op is C.ATOMIC_GROUP:
                self.walk(av, mandatory)
            elif op in (C.ASSERT, C.ASSERT_NOT):
                self.walk(av[1], False)
            elif op is C.GROUPREF_EXISTS:
                self.walk(av[1], False)
                if av[2] is not None:
                    self.walk(av[2], False)

    def repeat(self, op: Any, av: Any, mandatory: bool) -> None:
        low, high, body = av
        inner_mandatory = mandatory and low >= 1
        if not self.check_risk:
            self.walk(body, inner_mandatory)
            return
        single = _single_char(body)
        possessive = op is C.POSSESSIVE_REPEAT
        if single is not None:
            if high == C.MAXREPEAT and not possessive and _is_wide(*single):
                self.wide_unbounded += 1
                if self.wide_unbounded > MAX_WIDE_UNBOUNDED:
                    raise _Risky("too many unbounded wildcards")
        elif high > 1 and not possessive:
            items = _flatten(body)
            harmless = (
                (len(items) == 1 and items[0][0] is C.ATOMIC_GROUP)
                or (high <= MAX_SMALL_REPEAT and body.getwidth()[1] <= MAX_SMALL_WIDTH)
                or _delimited(items)
            )
            if not harmless:
                raise _Risky(
                    f"repeated group {{{low},{'' if high == C.MAXREPEAT else high}}} may backtrack exponentially"
                )
        self.walk(body, inner_mandatory)


def analyze(regex: str, flags: int = 0) -> Analysis:
    """Parse with Python's regex parser; any failure there counts as risky, with no mandatory groups."""
    try:
        parsed = sre_parse.parse(regex, flags)
    except Exception as exc:  # noqa: BLE001 - the real compile reports real errors
        return Analysis(False, f"not parsed: {exc}", frozenset())
    required = _required_text(parsed)
    walker = _Walker()
    try:
        walker.walk(parsed, True)
    except _Risky as exc:
        mandatory = _mandatory_only(parsed)
        return Analysis(False, str(exc), mandatory, required)
    except RecursionError:
        return Analysis(False, "too deeply nested", frozenset(), required)
    return Analysis(True, None, frozenset(walker.mandatory), required)


def _required_text(parsed: Any) -> str | None:
    """The longest run of literals on the path every match takes (first of equals); None if there is none, or
    if letters may match in either case (a substring test would then be wrong)."""
    if parsed.state.flags & C.SRE_FLAG_IGNORECASE:
        return None
    runs: list[str] = []
    try:
        _literal_runs(parsed, runs)
    except RecursionError:
        return None
    return max(runs, key=len, default=None)


def _literal_runs(pattern: Any, runs: list[str]) -> None:
    """Collect the literal runs of a sequence that every match of it contains."""
    run: list[str] = []
    for op, av in pattern:
        if op is C.LITERAL:
            run.append(chr(av))
            continue
        if run:
            runs.append("".join(run))
            run = []
        if op is C.SUBPATTERN and not av[1] & C.SRE_FLAG_IGNORECASE:  # av: group, add_flags, del_flags, body
            _literal_runs(av[3], runs)
        elif op in _REPEATS and av[0] >= 1:  # a body taken at least once
            _literal_runs(av[2], runs)
        elif op is C.ATOMIC_GROUP:
            _literal_runs(av, runs)
        # Alternatives, optional parts and lookarounds: not on every match's path.
    if run:
        runs.append("".join(run))


def _mandatory_only(parsed: Any) -> frozenset[int]:
    walker = _Walker(check_risk=False)
    try:
        walker.walk(parsed, True)
    except RecursionError:
        return frozenset()
    return frozenset(walker.mandatory)
