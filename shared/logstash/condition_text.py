"""Logstash conditions -> the pipeline file's condition text (streamstash.events.conditions), and the fields they read.

Our condition language is Logstash's own, so this is mostly printing the tree back; boolean operations are
parenthesised so the grouping the Logstash parser chose is kept whatever the precedence rules.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from streamstash.events.conditions import ConditionError, compile_condition
from streamstash.events.fieldpath import parse_path
from streamstash.logstash import ast
from streamstash.logstash.report import Untranslatable

FieldPath = tuple[str, ...]

# What our condition tokenizer reads as a field reference.
_OUR_SELECTOR = re.compile(r"(?:\[[^\[\]\"',]+\])+")


def quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def field_reference(name: str) -> str:
    """`action` -> `[action]`; `[a][b]` stays."""
    name = name.strip()
    return name if name.startswith("[") else f"[{name}]"


def render(condition: ast.Condition) -> str:
    text = _render(condition)
    try:
        compile_condition(text)
    except ConditionError as exc:
        raise Untranslatable(f"the condition does not carry over: {exc}") from exc
    return text


def _render(condition: ast.Condition) -> str:
    if isinstance(condition, ast.BooleanOperation):
        return f"{_operand(condition.left)} {condition.operator} {_operand(condition.right)}"
    if isinstance(condition, ast.Negation):
        inner = condition.inner
        if isinstance(inner, ast.Truthy) and isinstance(inner.value, ast.Selector):
            return f"!{_rvalue(inner.value)}"
        return f"!({_render(inner)})"
    if isinstance(condition, ast.Comparison):
        return f"{_rvalue(condition.left)} {condition.operator} {_rvalue(condition.right)}"
    if isinstance(condition, ast.Membership):
        operator = "not in" if condition.negated else "in"
        return f"{_rvalue(condition.needle)} {operator} {_rvalue(condition.haystack)}"
    if isinstance(condition, ast.RegexMatch):
        operator = "!~" if condition.negated else "=~"
        pattern = condition.pattern
        right = f"/{pattern.source}/" if isinstance(pattern, ast.Regex) else quote(str(pattern.value))
        return f"{_rvalue(condition.left)} {operator} {right}"
    if isinstance(condition, ast.Truthy):
        return _rvalue(condition.value)
    raise Untranslatable(f"unknown condition {condition!r}")


def _operand(condition: ast.Condition) -> str:
    text = _render(condition)
    return f"({text})" if isinstance(condition, ast.BooleanOperation) else text


def _rvalue(value: ast.RValue) -> str:
    if isinstance(value, ast.Selector):
        if not _OUR_SELECTOR.fullmatch(value.path):
            if re.fullmatch(r"\[\s*(\"[^\"]*\"|'[^']*'|-?\d+(\.\d+)?)\s*\]", value.path):
                raise Untranslatable(
                    f"Logstash reads {value.path} as a field reference, not as a one-item list "
                    "(write the list with two items, or compare with ==)"
                )
            raise Untranslatable(f"field reference {value.path} has quotes or commas in it")
        return value.path
    if isinstance(value, ast.Constant):
        return quote(value.value) if isinstance(value.value, str) else repr(value.value)
    if isinstance(value, ast.ListLiteral):
        items = []
        for item in value.items:
            if isinstance(item, bool) or not isinstance(item, (str, int, float)):
                raise Untranslatable(f"list item {item!r} is not text or a number")
            items.append(quote(item) if isinstance(item, str) else repr(item))
        return "[" + ", ".join(items) + "]"
    if isinstance(value, ast.MethodCall):
        raise Untranslatable(f"method call {value.name}(...) in a condition has no equivalent")
    if isinstance(value, ast.Regex):
        raise Untranslatable("a /regex/ can only follow =~ or !~")
    raise Untranslatable(f"unknown value {value!r}")


def fields_read(condition: ast.Condition | None) -> set[FieldPath]:
    if condition is None:
        return set()
    return {parse_path(selector.path) for selector in _selectors(condition)}


def _selectors(node: object) -> Iterable[ast.Selector]:
    if isinstance(node, ast.Selector):
        yield node
    elif isinstance(node, ast.BooleanOperation):
        yield from _selectors(node.left)
        yield from _selectors(node.right)
    elif isinstance(node, ast.Negation):
        yield from _selectors(node.inner)
    elif isinstance(node, ast.Comparison):
        yield from _selectors(node.left)
        yield from _selectors(node.right)
    elif isinstance(node, ast.Membership):
        yield from _selectors(node.needle)
        yield from _selectors(node.haystack)
    elif isinstance(node, ast.RegexMatch):
        yield from _selectors(node.left)
    elif isinstance(node, ast.Truthy):
        yield from _selectors(node.value)
    elif isinstance(node, ast.MethodCall):
        for argument in node.arguments:
            yield from _selectors(argument)


def conjunction(parts: list[str]) -> str | None:
    """`a`, `b or c` -> `a and (b or c)`; None when there is nothing to require."""
    parts = [part for part in parts if part]
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]
    return " and ".join(part if _simple(part) else f"({part})" for part in parts)


def negation(text: str) -> str:
    return f"!({text})"


def _simple(text: str) -> bool:
    """No boolean keyword in it, so `and` can join it unparenthesised (a keyword inside a quoted string only
    costs a pair of parentheses)."""
    if _BOOLEAN_WORD.search(text) is None:
        return True
    return _wrapped(text.removeprefix("!"))


def _wrapped(text: str) -> bool:
    """`(a or b)`: one pair of parentheses around all of it (quotes and regexes are not looked into, so a
    parenthesis inside one only costs an extra pair)."""
    if not text.startswith("(") or not text.endswith(")"):
        return False
    depth = 0
    for index, char in enumerate(text):
        depth += char == "("
        depth -= char == ")"
        if depth == 0 and index < len(text) - 1:
            return False
    return depth == 0


_BOOLEAN_WORD = re.compile(r"\b(and|or|xor|nand)\b")
