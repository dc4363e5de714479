"""Parse a Logstash pipeline file (`logstash.conf`) into :mod:`streamstash.logstash.ast` with lark.

The grammar (``logstash.lark``) follows logstash-core's treetop grammar; the LALR parser is built once.
Quoted strings keep their backslashes, as Logstash does by default; with ``support_escapes`` (Logstash's
``config.support_escapes: true``) `\\\\`, `\\"`, `\\'`, `\\n`, `\\r` and `\\t` are processed.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError

from streamstash.logstash import ast

GRAMMAR = Path(__file__).with_name("logstash.lark")
_ESCAPES = {"\\": "\\", '"': '"', "'": "'", "n": "\n", "r": "\r", "t": "\t"}
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)

# What a person would call the grammar's terminals, for error messages.
_TERMINAL_NAMES = {
    "NAME": "a name",
    "NUMBER": "a number",
    "DOUBLE_QUOTED": "a string",
    "SINGLE_QUOTED": "a string",
    "LBRACE": "'{'",
    "RBRACE": "'}'",
    "LSQB": "'['",
    "RSQB": "']'",
    "LPAR": "'('",
    "RPAR": "')'",
    "COMMA": "','",
    "__ANON_0": "'=>'",
    "INPUT": "input",
    "FILTER": "filter",
    "OUTPUT": "output",
    "SELECTOR": "a field reference",
    "REGEXP": "a /regex/",
    "IF": "if",
    "ELSE": "else",
    "BANG": "'!'",
    "COMPARE_OPERATOR": "a comparison",
    "REGEX_OPERATOR": "=~ or !~",
    "OR": "or",
    "XOR": "xor",
    "AND": "and",
    "NAND": "nand",
    "IN": "in",
    "NOT": "not",
}


class LogstashSyntaxError(ValueError):
    """The file is not a Logstash pipeline; the message says where (file:line:column) and what was expected."""

    def __init__(self, path: str, line: int, column: int, problem: str, context: str) -> None:
        super().__init__(f"{path}:{line}:{column}: {problem}\n{context}")
        self.path = path
        self.line = line
        self.column = column
        self.problem = problem


@functools.lru_cache(maxsize=1)
def _lark() -> Lark:
    return Lark(GRAMMAR.read_text(encoding="utf-8"), parser="lalr", propagate_positions=True, maybe_placeholders=True)


def parse_file(path: Path | str, support_escapes: bool = False) -> ast.PipelineFile:
    path = Path(path)
    return parse_text(path.read_text(encoding="utf-8"), str(path), support_escapes)


def parse_text(text: str, path: str = "<logstash.conf>", support_escapes: bool = False) -> ast.PipelineFile:
    try:
        tree = _lark().parse(text)
    except UnexpectedInput as exc:
        raise _syntax_error(exc, text, path) from None
    try:
        sections = _Builder(text, support_escapes).transform(tree)
    except VisitError as exc:
        if isinstance(exc.orig_exc, LogstashSyntaxError):
            found = exc.orig_exc
            lines = text.split("\n")
            context = f"  {lines[found.line - 1]}" if 0 < found.line <= len(lines) else ""
            raise LogstashSyntaxError(path, found.line, 1, found.problem, context) from None
        raise
    return ast.PipelineFile(path=path, text=text, sections=sections)


def unescape(text: str) -> str:
    return _ESCAPE.sub(lambda match: _ESCAPES.get(match.group(1), match.group(0)), text)


def _syntax_error(exc: UnexpectedInput, text: str, path: str) -> LogstashSyntaxError:
    line = getattr(exc, "line", None) or 0
    column = getattr(exc, "column", None) or 0
    if isinstance(exc, UnexpectedEOF) or line in (0, -1):
        line = text.count("\n") + 1
        column = len(text.rsplit("\n", 1)[-1]) + 1
        problem = "the file ends inside a block (a '}' is missing?)"
    elif isinstance(exc, UnexpectedCharacters):
        problem = f"unexpected character {exc.char!r}"
    elif isinstance(exc, UnexpectedToken):
        expected = sorted({_TERMINAL_NAMES.get(name, name) for name in exc.expected})
        problem = (
            f"unexpected {exc.token!s:.40} (expected {', '.join(expected)})"
            if exc.token.type != "$END"
            else "the file ends inside a block (a '}' is missing?)"
        )
    else:
        problem = "syntax error"
    lines = text.split("\n")
    source_line = lines[line - 1] if 0 < line <= len(lines) else ""
    context = f"  {source_line}\n  {' ' * max(column - 1, 0)}^"
    return LogstashSyntaxError(path, line, column, problem, context)


class _Builder(Transformer):
    """Lark tree -> ast; every rule that a report may point at keeps its location."""

    def __init__(self, text: str, support_escapes: bool) -> None:
        super().__init__()
        self.text = text
        self.support_escapes = support_escapes

    def _where(self, meta: Any) -> ast.Location:
        return ast.Location(meta.line, meta.column, meta.end_line, self.text[meta.start_pos : meta.end_pos])

    # -- sections and plugins ---------------------------------------------------------------------------

    def start(self, sections: list[ast.Section]) -> list[ast.Section]:
        return sections

    @v_args(meta=True)
    def plugin_section(self, meta: Any, children: list[Any]) -> ast.Section:
        kind, *body = children
        return ast.Section(kind=str(kind), body=body, location=self._where(meta))

    @v_args(meta=True)
    def plugin(self, meta: Any, children: list[Any]) -> ast.Plugin:
        name, *attributes = children
        return ast.Plugin(name=str(name), attributes=attributes, location=self._where(meta))

    @v_args(meta=True)
    def plugin_value(self, meta: Any, children: list[Any]) -> ast.Plugin:
        name, *attributes = children
        return ast.Plugin(name=str(name), attributes=attributes, location=self._where(meta))

    @v_args(meta=True)
    def attribute(self, meta: Any, children: list[Any]) -> ast.Attribute:
        name, value = children
        value_location = getattr(value, "location", None) or self._where(meta)
        return ast.Attribute(
            name=str(_plain(name)), value=_plain(value), location=self._where(meta), value_location=value_location
        )

    def bare_name(self, children: list[Token]) -> str:
        return str(children[0])

    # -- values ------------------------------------------------------------------------------------------

    def bareword(self, children: list[Token]) -> ast.Bareword:
        return ast.Bareword(children[0])

    def string(self, children: list[Token]) -> str:
        token = children[0]
        body = token[1:-1]
        value = _Located(unescape(body) if self.support_escapes else body)
        # The aggregate filter's Ruby `code` needs the line its text starts on.
        assert token.line is not None and token.column is not None  # the parser keeps positions (propagate_positions)
        value.location = ast.Location(token.line, token.column + 1, token.end_line or token.line, str(token))
        return value

    def number(self, children: list[Token]) -> int | float:
        text = str(children[0])
        return float(text) if "." in text else int(text)

    def array(self, children: list[Any]) -> list[Any]:
        return [_plain(child) for child in children if child is not None]

    @v_args(meta=True)
    def hash(self, meta: Any, children: list[tuple[str, Any, int]]) -> ast.HashValue:
        result = ast.HashValue()
        for key, value, line in children:
            if key in result:
                raise LogstashSyntaxError("", line, 0, f"duplicate key {key!r} in a hash", "")
            result[key] = value
        return result

    @v_args(meta=True)
    def hash_entry(self, meta: Any, children: list[Any]) -> tuple[str, Any, int]:
        key, value = children
        return str(_plain(key)), _plain(value), meta.line

    # -- branches --------------------------------------------------------------------------------------

    @v_args(meta=True)
    def branch(self, meta: Any, clauses: list[ast.Clause | None]) -> ast.Branch:
        return ast.Branch(clauses=[clause for clause in clauses if clause is not None], location=self._where(meta))

    @v_args(meta=True)
    def if_clause(self, meta: Any, children: list[Any]) -> ast.Clause:
        condition, body = children
        return ast.Clause(condition=condition, body=body, location=self._where(meta))

    @v_args(meta=True)
    def else_if_clause(self, meta: Any, children: list[Any]) -> ast.Clause:
        condition, body = children
        return ast.Clause(condition=condition, body=body, location=self._where(meta))

    @v_args(meta=True)
    def else_clause(self, meta: Any, children: list[Any]) -> ast.Clause:
        return ast.Clause(condition=None, body=children[0], location=self._where(meta))

    def block(self, children: list[ast.Node]) -> list[ast.Node]:
        return children

    # -- conditions ------------------------------------------------------------------------------------

    def section_type(self, children: list[Token]) -> str:
        return str(children[0])

    def or_operator(self, children: list[Token]) -> str:
        return str(children[0])

    def and_operator(self, children: list[Token]) -> str:
        return str(children[0])

    def boolean(self, children: list[Any]) -> ast.BooleanOperation:
        left, operator, right = children
        return ast.BooleanOperation(operator=str(operator), left=left, right=right)

    def negative(self, children: list[Any]) -> ast.Negation:
        return ast.Negation(inner=children[0] if not isinstance(children[0], ast.Selector) else ast.Truthy(children[0]))

    def in_expression(self, children: list[Any]) -> ast.Membership:
        return ast.Membership(needle=_rvalue(children[0]), haystack=_rvalue(children[1]), negated=False)

    def not_in_expression(self, children: list[Any]) -> ast.Membership:
        return ast.Membership(needle=_rvalue(children[0]), haystack=_rvalue(children[1]), negated=True)

    def compare(self, children: list[Any]) -> ast.Comparison:
        left, operator, right = children
        return ast.Comparison(operator=str(operator), left=_rvalue(left), right=_rvalue(right))

    def regex_match(self, children: list[Any]) -> ast.RegexMatch:
        left, operator, pattern = children
        pattern = pattern if isinstance(pattern, ast.Regex) else ast.Constant(_plain(pattern))
        return ast.RegexMatch(left=_rvalue(left), pattern=pattern, negated=str(operator) == "!~")

    def truthy(self, children: list[Any]) -> ast.Truthy:
        return ast.Truthy(_rvalue(children[0]))

    def selector(self, children: list[Token]) -> ast.Selector:
        return ast.Selector(str(children[0]))

    def regexp(self, children: list[Token]) -> ast.Regex:
        return ast.Regex(str(children[0])[1:-1])

    def method_call(self, children: list[Any]) -> ast.MethodCall:
        name, *arguments = children
        return ast.MethodCall(
            name=str(name), arguments=[_rvalue(argument) for argument in arguments if argument is not None]
        )


class _Located(str):
    """A string value that still knows its token, until :func:`_plain` makes it a plain `str`."""

    location: ast.Location


def _plain(value: Any) -> Any:
    if isinstance(value, _Located):
        return str(value)
    return value


def _rvalue(value: Any) -> ast.RValue:
    if isinstance(value, (ast.Selector, ast.Regex, ast.MethodCall)):
        return value
    if isinstance(value, list):
        return ast.ListLiteral([_plain(item) for item in value])
    return ast.Constant(_plain(value))
