"""Just enough Ruby to read the `code` of Logstash's aggregate filter: statements, `if`/`unless` blocks and
modifiers, assignments (`=`, `||=`, `+=`, ...), and expressions over `map[...]`, `event.get(...)`, `ENV`,
numbers and strings. The tree is only looked at (see :mod:`streamstash.logstash.aggregate`), never run.

Anything outside that subset raises :class:`RubyError` with the offset of the text it could not read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any


class RubyError(ValueError):
    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


# Expression nodes are tuples: (kind, ...), kinds below.
#   ("num", value) ("str", text) ("sym", name) ("env", name, default|None) ("bool", value) ("nil",)
#   ("var", name) ("call", receiver|None, method, [args]) ("index", receiver, key)
#   ("bin", operator, left, right) ("not", operand) ("neg", operand) ("array", [items])
#   ("hash", [(key, value)]) ("ternary", condition, then, otherwise)
Expr = tuple[Any, ...]


@dataclass
class Statement:
    kind: str  # "assign", "expr", "if"
    start: int
    end: int
    target: Expr | None = None
    operator: str = ""
    value: Expr | None = None
    condition: Expr | None = None
    then: list[Statement] = field(default_factory=list)
    otherwise: list[Statement] = field(default_factory=list)


_TOKEN = re.compile(
    r"""
      (?P<space>[ \t\r]+|\\\n)
    | (?P<comment>\#[^\n]*)
    | (?P<nl>[\n;])
    | (?P<env>\$\{[A-Za-z_.][A-Za-z0-9_.]*(?::[^}]*)?\})
    | (?P<num>\d+(?:\.\d+)?(?:e[+-]?\d+)?)
    | (?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
    | (?P<sym>:[A-Za-z_]\w*)
    | (?P<ident>[A-Za-z_]\w*[?!]?)
    | (?P<op>\|\|=|&&=|\+=|-=|\*=|/=|==|!=|>=|<=|=~|=>|<<|\*\*|\|\||&&|::|[=<>+\-*/%!.,()\[\]?:{}|&])
    """,
    re.VERBOSE | re.DOTALL,
)
_ASSIGNMENTS = {"=", "||=", "&&=", "+=", "-=", "*=", "/="}
_BINARY = {
    "||": 3,
    "&&": 4,
    "==": 6,
    "!=": 6,
    "=~": 6,
    "<": 7,
    "<=": 7,
    ">": 7,
    ">=": 7,
    "<<": 8,
    "+": 9,
    "-": 9,
    "*": 10,
    "/": 10,
    "%": 10,
    "**": 12,
}
_KEYWORD_BINARY = {"or": 1, "and": 1}
_BLOCK_ENDS = {"end", "else", "elsif"}


@dataclass(slots=True)
class _Token:
    kind: str
    text: str
    offset: int


def tokenize(code: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(code):
        match = _TOKEN.match(code, position)
        if match is None:
            raise RubyError(f"cannot read {code[position : position + 20]!r}", position)
        kind = match.lastgroup or ""
        text = match.group()
        if kind == "str" and text.startswith('"') and "#{" in text:
            raise RubyError("string interpolation (#{...}) is not supported", position)
        if kind not in ("space", "comment"):
            tokens.append(_Token(kind, text, position))
        position = match.end()
    tokens.append(_Token("eof", "", len(code)))
    return tokens


def _string_value(text: str) -> str:
    body = text[1:-1]
    if text.startswith("'"):
        return re.sub(r"\\([\\'])", r"\1", body)
    escapes = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"'}
    return re.sub(r"\\(.)", lambda m: escapes.get(m.group(1), m.group(1)), body)


def parse(code: str) -> list[Statement]:
    parser = _Parser(code, tokenize(code))
    statements = parser.statements(stop=set())
    if parser.peek().kind != "eof":
        token = parser.peek()
        raise RubyError(f"unexpected {token.text!r}", token.offset)
    return statements


class _Parser:
    def __init__(self, code: str, tokens: list[_Token]) -> None:
        self.code = code
        self.tokens = tokens
        self.position = 0

    def peek(self, ahead: int = 0) -> _Token:
        return self.tokens[min(self.position + ahead, len(self.tokens) - 1)]

    def take(self) -> _Token:
        token = self.peek()
        self.position += 1
        return token

    def at(self, kind: str, text: str | None = None) -> bool:
        token = self.peek()
        return token.kind == kind and (text is None or token.text == text)

    def expect(self, kind: str, text: str | None = None) -> _Token:
        if not self.at(kind, text):
            token = self.peek()
            raise RubyError(f"expected {text or kind}, got {token.text or 'the end'!r}", token.offset)
        return self.take()

    def skip_newlines(self) -> None:
        while self.at("nl"):
            self.take()

    # -- statements ---------------------------------------------------------------------------------

    def statements(self, stop: set[str]) -> list[Statement]:
        result: list[Statement] = []
        while True:
            self.skip_newlines()
            token = self.peek()
            if token.kind == "eof" or (token.kind == "ident" and token.text in stop):
                return result
            result.append(self.statement())
            if not (self.at("nl") or self.at("eof") or (self.peek().kind == "ident" and self.peek().text in stop)):
                token = self.peek()
                raise RubyError(f"unexpected {token.text!r} after a statement", token.offset)

    def statement(self) -> Statement:
        start = self.peek().offset
        if self.at("ident", "if") or self.at("ident", "unless"):
            return self.block_if()
        if (
            self.at("ident", "begin")
            or self.at("ident", "while")
            or self.at("ident", "def")
            or self.at("ident", "case")
            or self.at("ident", "until")
            or self.at("ident", "for")
        ):
            token = self.peek()
            raise RubyError(f"`{token.text}` blocks are not supported", token.offset)
        target = self.expression()
        if self.at("op") and self.peek().text in _ASSIGNMENTS:
            operator = self.take().text
            value = self.expression()
            statement = Statement("assign", start, self.previous_end(), target=target, operator=operator, value=value)
        else:
            statement = Statement("expr", start, self.previous_end(), value=target)
        if self.at("ident", "rescue"):
            raise RubyError("`rescue` is not supported", self.peek().offset)
        if self.at("ident", "if") or self.at("ident", "unless"):
            negate = self.take().text == "unless"
            condition = self.expression()
            if negate:
                condition = ("not", condition)
            return Statement("if", start, self.previous_end(), condition=condition, then=[statement])
        return statement

    def previous_end(self) -> int:
        token = self.tokens[self.position - 1]
        return token.offset + len(token.text)

    def block_if(self) -> Statement:
        """`if`/`unless` ... [`elsif` ...]* [`else` ...] `end`; an `elsif` is an `if` in the `else` branch that
        shares its `end`."""
        start = self.peek().offset
        negate = self.take().text == "unless"
        condition = self.expression()
        if negate:
            condition = ("not", condition)
        if self.at("ident", "then"):
            self.take()
        then = self.statements(_BLOCK_ENDS)
        otherwise: list[Statement] = []
        if self.at("ident", "elsif"):
            otherwise = [self.block_if()]  # consumes the shared `end`
        else:
            if self.at("ident", "else"):
                self.take()
                otherwise = self.statements({"end"})
            self.expect("ident", "end")
        return Statement("if", start, self.previous_end(), condition=condition, then=then, otherwise=otherwise)

    # -- expressions -------------------------------------------------------------------------------

    def expression(self, minimum: int = 0) -> Expr:
        left = self.unary()
        while True:
            token = self.peek()
            if token.kind == "op" and token.text == "?" and minimum <= 2:
                self.take()
                then = self.expression(3)
                self.expect("op", ":")
                otherwise = self.expression(2)
                left = ("ternary", left, then, otherwise)
                continue
            if token.kind == "op" and token.text in _BINARY:
                precedence = _BINARY[token.text]
            elif token.kind == "ident" and token.text in _KEYWORD_BINARY:
                precedence = _KEYWORD_BINARY[token.text]
            else:
                return left
            if precedence < minimum:
                return left
            self.take()
            operator = {"and": "&&", "or": "||"}.get(token.text, token.text)
            # `**` is right-associative, the others left.
            right = self.expression(precedence if token.text == "**" else precedence + 1)
            left = ("bin", operator, left, right)

    def unary(self) -> Expr:
        if self.at("op", "!"):
            self.take()
            return ("not", self.unary())
        if self.at("ident", "not"):
            self.take()
            return ("not", self.expression(5))
        if self.at("op", "-"):
            self.take()
            operand = self.unary()
            if operand[0] == "num":
                return ("num", -operand[1])
            return ("neg", operand)
        return self.postfix(self.primary())

    def postfix(self, node: Expr) -> Expr:
        while True:
            if self.at("op", ".") or self.at("op", "::"):
                self.take()
                name = self.expect("ident").text
                arguments: list[Expr] = []
                if self.at("op", "(") and self.peek().offset == self.tokens[self.position - 1].offset + len(name):
                    arguments = self.arguments("(", ")")
                if self.at("op", "{") or self.at("ident", "do"):
                    raise RubyError("blocks are not supported", self.peek().offset)
                node = ("call", node, name, arguments)
            elif self.at("op", "[") and self.peek().offset == self.tokens[self.position - 1].offset + len(
                self.tokens[self.position - 1].text
            ):
                self.take()
                key = self.expression()
                self.expect("op", "]")
                node = ("index", node, key)
            else:
                return node

    def arguments(self, opening: str, closing: str) -> list[Expr]:
        self.expect("op", opening)
        items: list[Expr] = []
        self.skip_newlines()
        while not self.at("op", closing):
            items.append(self.expression())
            self.skip_newlines()
            if self.at("op", ","):
                self.take()
                self.skip_newlines()
            elif not self.at("op", closing):
                token = self.peek()
                raise RubyError(f"expected ',' or {closing!r}, got {token.text!r}", token.offset)
        self.take()
        return items

    def hash_literal(self) -> Expr:
        """`{'a' => x, :b => y}` and `{a: x}`."""
        self.expect("op", "{")
        pairs: list[tuple[Expr, Expr]] = []
        self.skip_newlines()
        while not self.at("op", "}"):
            name, colon = self.peek(), self.peek(1)
            if (
                name.kind == "ident"
                and colon.kind == "op"
                and colon.text == ":"
                and colon.offset == name.offset + len(name.text)
            ):
                self.position += 2
                key: Expr = ("sym", name.text)
            else:
                key = self.expression()
                self.expect("op", "=>")
            self.skip_newlines()
            pairs.append((key, self.expression()))
            self.skip_newlines()
            if self.at("op", ","):
                self.take()
                self.skip_newlines()
            elif not self.at("op", "}"):
                token = self.peek()
                raise RubyError(f"expected ',' or '}}', got {token.text!r}", token.offset)
        self.take()
        return ("hash", pairs)

    def primary(self) -> Expr:
        token = self.peek()
        if token.kind == "num":
            self.take()
            return ("num", float(token.text) if any(c in token.text for c in ".e") else int(token.text))
        if token.kind == "str":
            self.take()
            return ("str", _string_value(token.text))
        if token.kind == "sym":
            self.take()
            return ("sym", token.text[1:])
        if token.kind == "env":
            self.take()
            name, _, default = token.text[2:-1].partition(":")
            return ("env", name, default if ":" in token.text[2:-1] else None)
        if token.kind == "ident":
            self.take()
            if token.text in ("true", "false"):
                return ("bool", token.text == "true")
            if token.text == "nil":
                return ("nil",)
            if self.at("op", "(") and self.peek().offset == token.offset + len(token.text):
                return ("call", None, token.text, self.arguments("(", ")"))
            return ("var", token.text)
        if token.kind == "op" and token.text == "(":
            self.take()
            inner = self.expression()
            self.expect("op", ")")
            return inner
        if token.kind == "op" and token.text == "[":
            return ("array", self.arguments("[", "]"))
        if token.kind == "op" and token.text == "{":
            return self.hash_literal()
        raise RubyError(f"unexpected {token.text or 'end of code'!r}", token.offset)
