"""Logstash-style conditions: `[status] >= 500 and [verb] == "GET"`, `"x" in [tags]`, `[msg] =~ /err/`.

Grammar (precedence low to high): `or`/`xor`, `and`/`nand`, `not`/`!`, comparison, operand. Operands are
field references `[a][b]`, strings (double or single quotes, `\\"` `\\\\` `\\n` `\\t` escapes), numbers,
`true`/`false`, lists of literals `["a", "b"]` and regexes `/.../` (the right side of `=~`/`!~`, which also
accept a string). `else if` chains are a property of the filter list, not of a condition.

Semantics, with the places they differ from Logstash on purpose:

* A bare field reference is true when the field exists and is not false, null, `""`, `[]` or `{}`
  (Logstash counts an empty string as true).
* A number compared with text that spells a number compares as numbers: `[status] >= 500` and
  `[status] == 200` work on grok's text captures. Logstash says false (`==`) or fails the event (`<`).
* Any other comparison between values of different types (a missing field, `"abc" < 5`) is false, never an
  error. `true` is not the number 1.
* `in` looks for an item in a list, a substring in text, or a key in an object.
* `=~` on a value that is not text is false, so `!~` on it is true.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from typing import Any

from streamstash.events.fieldpath import get_field

Predicate = Callable[[dict[str, Any]], bool]


def _either(a: Predicate, b: Predicate) -> Predicate:
    return lambda doc: a(doc) or b(doc)


def _exactly_one(a: Predicate, b: Predicate) -> Predicate:
    return lambda doc: a(doc) != b(doc)


def _both(a: Predicate, b: Predicate) -> Predicate:
    return lambda doc: a(doc) and b(doc)


def _not_both(a: Predicate, b: Predicate) -> Predicate:
    return lambda doc: not (a(doc) and b(doc))


Getter = Callable[[dict[str, Any]], Any]

# Deeper nesting than any sane condition; it keeps the recursive-descent parser far from Python's stack limit.
MAX_NESTING = 64


class ConditionError(ValueError):
    """A condition that does not parse; the message shows where."""


_TOKEN = re.compile(
    r"""\s*(?:
      (?P<field>(?:\[[^\[\]"',]+\])+)
    | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
    | (?P<number>-?\d+(?:\.\d+)?(?![\w.]))
    | (?P<regex>/(?:[^/\\]|\\.)*/)
    | (?P<op>==|!=|<=|>=|=~|!~|<|>|!|\(|\)|,|\[|\])
    | (?P<word>[A-Za-z_]+)
    )""",
    re.VERBOSE | re.DOTALL,
)
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0"}
_MAX_NUMBER_DIGITS = 64


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _as_number(text: str) -> int | float | None:
    if "_" in text:  # Python reads `1_000`; a log line's "1_000" is not a number
        return None
    try:
        return float(text) if any(char in text for char in ".eE") else int(text)
    except ValueError:
        return None


def _coerce(left: Any, right: Any) -> tuple[Any, Any]:
    """Text that spells a number, compared with a number, becomes that number."""
    if _number(right) and isinstance(left, str):
        converted = _as_number(left.strip())
        if converted is not None:
            return converted, right
    elif _number(left) and isinstance(right, str):
        converted = _as_number(right.strip())
        if converted is not None:
            return left, converted
    return left, right


def _equal(left: Any, right: Any) -> bool:
    left, right = _coerce(left, right)
    if isinstance(left, bool) != isinstance(right, bool):
        return False
    return bool(left == right)


def _ordered(compare: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def run(left: Any, right: Any) -> bool:
        left, right = _coerce(left, right)
        if isinstance(left, bool) or isinstance(right, bool):
            return False
        if not ((_number(left) and _number(right)) or (isinstance(left, str) and isinstance(right, str))):
            return False
        return bool(compare(left, right))

    return run


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "==": _equal,
    "!=": lambda left, right: not _equal(left, right),
    "<": _ordered(operator.lt),
    ">": _ordered(operator.gt),
    "<=": _ordered(operator.le),
    ">=": _ordered(operator.ge),
}


def compile_condition(text: str) -> Predicate:
    """A predicate on a working dict; raises :class:`ConditionError` (only) for text that is not a condition."""
    if not isinstance(text, str):
        raise ConditionError(f"a condition is text, got {type(text).__name__}")
    tokens = _tokenize(text)
    if not tokens:
        raise ConditionError("the condition is empty")
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
        if match is None or match.end() == position or match.lastgroup is None:
            raise ConditionError(f"condition {text!r}: cannot read from position {position}: {stripped[position:]!r}")
        kind = match.lastgroup
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


def _unquote(token: str) -> str:
    return _ESCAPE.sub(lambda match: _ESCAPES.get(match.group(1), match.group(1)), token[1:-1])


def _truthy(value: Any) -> bool:
    return value is not None and value is not False and value != "" and value != [] and value != {}


def _contains(haystack: Any, needle: Any) -> bool:
    if isinstance(haystack, str):
        return isinstance(needle, str) and needle in haystack
    if isinstance(haystack, list):
        return any(_equal(item, needle) for item in haystack)
    if isinstance(haystack, dict):
        return isinstance(needle, str) and needle in haystack
    return False


class _Parser:
    def __init__(self, text: str, tokens: list[tuple[str, str]]) -> None:
        self.text = text
        self.tokens = tokens
        self.position = 0
        self.depth = 0

    def fail(self, problem: str) -> ConditionError:
        return ConditionError(f"condition {self.text!r}: {problem}")

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise self.fail("ends too early")
        self.position += 1
        return token

    def expect(self, value: str) -> None:
        _, got = self.take()
        if got != value:
            raise self.fail(f"expected {value!r}, got {got!r}")

    def at_word(self, *words: str) -> bool:
        token = self.peek()
        return token is not None and token[0] == "word" and token[1].lower() in words

    def nest(self) -> None:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise self.fail(f"nested deeper than {MAX_NESTING} levels")

    def parse_or(self) -> Predicate:
        self.nest()
        left = self.parse_and()
        while self.at_word("or", "xor"):
            _, word = self.take()
            right = self.parse_and()
            left = _either(left, right) if word.lower() == "or" else _exactly_one(left, right)
        self.depth -= 1
        return left

    def parse_and(self) -> Predicate:
        left = self.parse_not()
        while self.at_word("and", "nand"):
            _, word = self.take()
            right = self.parse_not()
            left = _both(left, right) if word.lower() == "and" else _not_both(left, right)
        return left

    def parse_not(self) -> Predicate:
        token = self.peek()
        if token == ("op", "!") or self.at_word("not"):
            self.take()
            self.nest()
            inner = self.parse_not()
            self.depth -= 1
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
        if token is None or token == ("op", ")") or self.at_word("and", "or", "xor", "nand"):
            return lambda doc: _truthy(left(doc))
        kind, value = self.take()
        if value in _COMPARE:
            right = self.parse_operand()
            compare = _COMPARE[value]
            return lambda doc: compare(left(doc), right(doc))
        if value in ("=~", "!~"):
            return self.parse_match(left, negate=value == "!~")
        if kind == "word" and value.lower() in ("in", "not"):
            negate = value.lower() == "not"
            if negate:
                if not self.at_word("in"):
                    raise self.fail("expected 'in' after 'not'")
                self.take()
            container = self.parse_operand()
            if negate:
                return lambda doc: not _contains(container(doc), left(doc))
            return lambda doc: _contains(container(doc), left(doc))
        raise self.fail(f"unknown operator {value!r}")

    def parse_match(self, left: Getter, negate: bool) -> Predicate:
        kind, pattern = self.take()
        if kind == "regex":
            source = pattern[1:-1].replace("\\/", "/")
        elif kind == "string":
            source = _unquote(pattern)
        else:
            raise self.fail(f"=~ and !~ need a /regex/ or a string, got {pattern!r}")
        try:
            compiled = re.compile(source)
        except (re.error, OverflowError, RecursionError) as exc:
            raise self.fail(f"invalid regex {pattern!r}: {exc}") from exc

        def matches(doc: dict[str, Any]) -> bool:
            value = left(doc)
            return isinstance(value, str) and compiled.search(value) is not None

        return (lambda doc: not matches(doc)) if negate else matches

    def parse_literal(self) -> Any:
        kind, value = self.take()
        if kind == "string":
            return _unquote(value)
        if kind == "number":
            digits = value.lstrip("-").replace(".", "")
            if len(digits) > _MAX_NUMBER_DIGITS:
                raise self.fail(f"number {value[:20]}... is too long")
            return float(value) if "." in value else int(value)
        if kind == "word" and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise self.fail(f"expected a string, number or true/false, got {value!r}")

    def parse_operand(self) -> Getter:
        token = self.peek()
        if token is None:
            raise self.fail("ends too early")
        kind, value = token
        if kind == "field":
            self.take()
            return lambda doc: get_field(doc, value)
        if kind == "regex":
            raise self.fail(f"a regex {value!r} can only follow =~ or !~")
        if value == "[":
            self.take()
            items: list[Any] = []
            while self.peek() != ("op", "]"):
                items.append(self.parse_literal())
                if self.peek() == ("op", ","):
                    self.take()
                elif self.peek() != ("op", "]"):
                    raise self.fail("expected ',' or ']' in a list")
            self.take()
            return lambda doc: items
        literal = self.parse_literal()
        return lambda doc: literal
