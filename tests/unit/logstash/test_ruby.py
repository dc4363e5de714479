"""The Ruby subset of the aggregate filter's `code`: block `if`s with `elsif` chains share one `end`."""

from __future__ import annotations

import pytest

from streamstash.logstash.ruby import RubyError, Statement, parse


def shape(statement: Statement) -> object:
    if statement.kind != "if":
        return statement.kind
    return ("if", statement.condition, [shape(s) for s in statement.then], [shape(s) for s in statement.otherwise])


def test_elsif_chains_nest_in_the_else_branch_and_share_the_end() -> None:
    code = "if a\n  x = 1\nelsif b then y = 2\nelsif c\n  z = 3\nelse\n  w = 4\nend\nv = 5"
    first, after = parse(code)
    assert shape(first) == (
        "if",
        ("var", "a"),
        ["assign"],
        [("if", ("var", "b"), ["assign"], [("if", ("var", "c"), ["assign"], ["assign"])])],
    )
    assert code[first.start : first.end].endswith("end") and first.end == code.index("end") + 3
    inner = first.otherwise[0]
    assert code[inner.start : inner.end].startswith("elsif b") and inner.end == first.end
    assert after.kind == "assign"


def test_unless_negates_and_a_missing_end_is_an_error() -> None:
    (statement,) = parse("unless a\n  x = 1\nend")
    assert statement.condition == ("not", ("var", "a"))
    with pytest.raises(RubyError):
        parse("if a\n x = 1\nelsif b\n y = 2\n")
