"""Compile an expanded regex for Python's `re` after rewriting its parse tree into a cheaper, equivalent form.

Grok expressions are full of small optional groups (`(?: HTTP/%{NUMBER})?`, the fraction of every NUMBER,
`%{YEAR}`'s `{1,2}`). sre runs a repeated group that is not a single character through its general REPEAT
machinery, which allocates a context each time; an alternation with an empty branch does the same job for
much less. So, on the tree from `re._parser`:

* `X?`  -> `(?:X|)`,  `X??` -> `(?:|X)` (X not a single character; same order of attempts, same captures);
* `X{m,n}` with n <= 4 -> m copies of X followed by n-m nested optional copies (greedy or lazy as written).

The rewritten tree goes to `re._compiler.compile`, which accepts a parsed pattern. These are CPython internals;
if anything about them fails the caller falls back to a plain `re.compile`.
"""

from __future__ import annotations

import re
from re import _compiler as sre_compile  # type: ignore[attr-defined]  # typeshed has no stub for it
from re import _constants as C  # noqa: N812
from re import _parser as sre_parse
from typing import Any

MAX_UNROLL = 4
_SINGLE_CODES = {C.ANY, C.IN, C.LITERAL, C.NOT_LITERAL, C.CATEGORY}


def _simple(pattern: Any) -> bool:
    """sre's own test for a repeat it runs with its single-character fast path."""
    if len(pattern.data) != 1:
        return False
    op, av = pattern.data[0]
    if op is C.SUBPATTERN:
        return av[0] is None and _simple(av[-1])
    return op in _SINGLE_CODES


def _optional(state: Any, body: Any, count: int, greedy: bool) -> tuple[Any, Any]:
    """`(?:X(?:X|)|)` for count=2, as one BRANCH item."""
    inner = list(body.data)
    if count > 1:
        inner.append(_optional(state, body, count - 1, greedy))
    taken = sre_parse.SubPattern(state, inner)
    empty = sre_parse.SubPattern(state, [])
    return (C.BRANCH, (None, [taken, empty] if greedy else [empty, taken]))


def _rewrite(pattern: Any) -> Any:
    state = pattern.state
    data: list[tuple[Any, Any]] = []
    for op, argument in pattern.data:
        av = argument
        if op is C.SUBPATTERN:
            av = (av[0], av[1], av[2], _rewrite(av[3]))
        elif op is C.BRANCH:
            av = (av[0], [_rewrite(alternative) for alternative in av[1]])
        elif op is C.ATOMIC_GROUP:
            av = _rewrite(av)
        elif op in (C.ASSERT, C.ASSERT_NOT):
            av = (av[0], _rewrite(av[1]))
        elif op is C.GROUPREF_EXISTS:
            av = (av[0], _rewrite(av[1]), None if av[2] is None else _rewrite(av[2]))
        elif op in (C.MAX_REPEAT, C.MIN_REPEAT, C.POSSESSIVE_REPEAT):
            low, high, body = av
            body = _rewrite(body)
            if op is not C.POSSESSIVE_REPEAT and high <= MAX_UNROLL and high != C.MAXREPEAT and not _simple(body):
                for _ in range(low):
                    data.extend(body.data)
                if high > low:
                    data.append(_optional(state, body, high - low, op is C.MAX_REPEAT))
                continue
            av = (low, high, body)
        data.append((op, av))
    return sre_parse.SubPattern(state, data)


def compile_fast(regex: str) -> re.Pattern[str]:
    """`re.compile(regex)`, with the rewrite above when CPython's internals allow it."""
    try:
        tree = sre_parse.parse(regex, 0)
        return sre_compile.compile(_rewrite(tree), 0)
    except re.error:
        raise
    except Exception:  # noqa: BLE001 - internals changed: the plain way is always right
        return re.compile(regex)
