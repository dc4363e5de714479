"""Logstash-style conditions: `[status] >= 500 and [verb] == "GET"`, `"x" in [tags]`, `[msg] =~ /err/`.

Grammar (precedence low to high): or, and, not/!, comparison, operand. Operands are field
references `[a][b]`, strings, numbers, lists `["a", "b"]`, regexes `/.../`. A bare field reference is
true when the field exists and is not false, empty or null.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from typing import Any

from streamstash.fieldpath import get_field

Predicate = Callable[[dict[str, Any]], bool]
Getter = Callable[[dict[str, Any]], Any]


class ConditionError(ValueError):
    """A condition that does not parse; the message shows where."""


_TOKEN = re.compile(
    r"""\s*(?:
      (?P<field>(?:\[[^\]"',]+\])+)
    | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
    | (?P<number>-?\d+(?:\.\d+)?)
    | (?P<regex>/(?:[^/\\]|\\.)*/)
    | (?P<op>==|!=|<=|>=|=~|!~|<|>|!|\(|\)|,|\[|\])
    | (?P<word>[A-Za-z_]+)
    )""",
    re.X,
)

_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq, "!=": operator.ne, "<": operator.lt, ">": operator.gt, "<=": operator.le, ">=": operator.ge,
}


def compile_condition(text: str) -> Predicate:
    tokens = _tokenize(text)
    parser = _Parser(text, tokens)
    predicate = parser.parse_or()
    if parser.position != len(tokens):
        raise ConditionError(f"condition {text!r}: unexpected {tokens[parser.position][1]!r}")
    return predicate


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    stripped = text.rstrip()
    while position < len(stripped):
        match = _TOKEN.match(stripped, position)
        if match is None or match.end() == position:
            raise ConditionError(f"condition {text!r}: cannot read from position {position}: {stripped[position:]!r}")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


def _truthy(value: Any) -> bool:
    return value is not None and value is not False and value != "" and value != [] and value != {}


def _safe(compare: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def run(left: Any, right: Any) -> bool:
        try:
            return compare(left, right)
        except TypeError:  # e.g. "abc" < 5: Logstash treats a type mismatch as false
            if isinstance(left, str) and isinstance(right, (int, float)):
                try:
                    return compare(float(left), right)
                except ValueError:
                    return False
            return False
    return run


class _Parser:
    def __init__(self, text: str, tokens: list[tuple[str, str]]) -> None:
        self.text = text
        self.tokens = tokens
        self.position = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise ConditionError(f"condition {self.text!r}: ends too early")
        self.position += 1
        return token

    def expect(self, value: str) -> None:
        kind, got = self.take()
        if got != value:
            raise ConditionError(f"condition {self.text!r}: expected {value!r}, got {got!r}")

    def at_word(self, word: str) -> bool:
        token = self.peek()
        return token is not None and token[0] == "word" and token[1].lower() == word

    def parse_or(self) -> Predicate:
        left = self.parse_and()
        while self.at_word("or"):
            self.take()
            right = self.parse_and()
            left = (lambda a, b: lambda doc: a(doc) or b(doc))(left, right)
        return left

    def parse_and(self) -> Predicate:
        left = self.parse_not()
        while self.at_word("and"):
            self.take()
            right = self.parse_not()
            left = (lambda a, b: lambda doc: a(doc) and b(doc))(left, right)
        return left

    def parse_not(self) -> Predicate:
        token = self.peek()
        if token == ("op", "!") or self.at_word("not"):
            self.take()
            inner = self.parse_not()
            return lambda doc: not inner(doc)
        return self.parse_comparison()

    def parse_comparison(self) -> Predicate:
        if self.peek() == ("op", "("):
            self.take()
            inner = self.parse_or()
            self.expect(")")
            return inner
        left = self.parse_operand()
        token = self.peek()
        if token is None or token[1] in (")",) or self.at_word("and") or self.at_word("or"):
            return lambda doc: _truthy(left(doc))
        kind, value = self.take()
        if value in _COMPARE:
            right = self.parse_operand()
            compare = _safe(_COMPARE[value])
            return lambda doc: compare(left(doc), right(doc))
        if value in ("=~", "!~"):
            kind, pattern = self.take()
            if kind != "regex":
                raise ConditionError(f"condition {self.text!r}: {value} needs a /regex/, got {pattern!r}")
            compiled = re.compile(pattern[1:-1].replace("\\/", "/"))
            negate = value == "!~"
            return lambda doc: negate != (isinstance(left(doc), str) and compiled.search(left(doc)) is not None)
        if kind == "word" and value.lower() in ("in", "not"):
            negate = value.lower() == "not"
            if negate and not self.at_word("in"):
                raise ConditionError(f"condition {self.text!r}: expected 'in' after 'not'")
            if negate:
                self.take()
            container = self.parse_operand()

            def contains(doc: dict[str, Any]) -> bool:
                haystack = container(doc)
                needle = left(doc)
                try:
                    return needle in haystack if haystack is not None else False
                except TypeError:
                    return False
            return (lambda doc: not contains(doc)) if negate else contains
        raise ConditionError(f"condition {self.text!r}: unknown operator {value!r}")

    def parse_operand(self) -> Getter:
        kind, value = self.take()
        if kind == "field":
            return lambda doc: get_field(doc, value)
        if kind == "string":
            literal = bytes(value[1:-1], "utf-8").decode("unicode_escape")
            return lambda doc: literal
        if kind == "number":
            number = float(value) if "." in value else int(value)
            return lambda doc: number
        if value == "[":
            items: list[Any] = []
            while self.peek() != ("op", "]"):
                items.append(self.parse_operand()({}))
                if self.peek() == ("op", ","):
                    self.take()
            self.take()
            return lambda doc: items
        if kind == "word" and value.lower() in ("true", "false"):
            flag = value.lower() == "true"
            return lambda doc: flag
        raise ConditionError(f"condition {self.text!r}: expected a field, string, number or list, got {value!r}")
