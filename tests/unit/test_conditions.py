"""Logstash-style conditions: what they mean on an event, what they reject, and that no text crashes them."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streamstash.events.conditions import MAX_NESTING, ConditionError, compile_condition

EVENT: dict[str, Any] = {
    "status": "503",
    "code": 200,
    "ratio": 0.5,
    "verb": "GET",
    "message": "disk error on /dev/sda",
    "tags": ["web", "_grokparsefailure"],
    "http": {"request": {"method": "POST"}},
    "flag": True,
    "off": False,
    "empty": "",
    "none": None,
    "list": [],
    "city": "Zürich",
    "quote": 'say "hi"',
    "version": "10",
}


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        # equality, with strings in either quote style
        ('[verb] == "GET"', True),
        ("[verb] == 'GET'", True),
        ('[verb] != "GET"', False),
        ('[verb] == "get"', False),
        ('[http][request][method] == "POST"', True),
        ('[city] == "Zürich"', True),
        (r'[quote] == "say \"hi\""', True),
        ("[missing] == [none]", True),
        # numbers against numbers and against text that spells a number (grok captures are text)
        ("[code] == 200", True),
        ("[code] >= 200", True),
        ("[code] > 200", False),
        ("[ratio] < 1", True),
        ("[status] >= 500", True),
        ("[status] == 503", True),
        ("[status] < 500", False),
        ('[code] == "200"', True),
        ("[status] > [code]", True),
        ("500 <= [status]", True),
        ("[code] == 200.0", True),
        # text against text compares as text, like Logstash ("10" < "9")
        ('[version] < "9"', True),
        # mismatched types are false, never an error; true is not 1
        ("[verb] > 5", False),
        ("[missing] > 5", False),
        ("[flag] == 1", False),
        ("[tags] < 3", False),
        # regexes
        ("[message] =~ /error/", True),
        ("[message] =~ /^disk/", True),
        ("[message] !~ /error/", False),
        (r"[message] =~ /\/dev\/sd[a-z]/", True),
        ('[message] =~ "on /dev"', True),
        ("[missing] =~ /x/", False),
        ("[missing] !~ /x/", True),
        ("[code] =~ /200/", False),
        # in / not in: list items, substrings, object keys, list literals
        ('"web" in [tags]', True),
        ('"db" in [tags]', False),
        ('"db" not in [tags]', True),
        ('"_grokparsefailure" in [tags]', True),
        ('"error" in [message]', True),
        ('"request" in [http]', True),
        ('[verb] in ["GET", "HEAD"]', True),
        ('[verb] not in ["GET", "HEAD"]', False),
        ("[code] in [200, 204]", True),
        ("[status] in [503, 504]", True),
        ('"x" in [missing]', False),
        ("[code] in []", False),
        ("[code] in [200]", False),  # `[200]` is a field reference, not a list, as in Logstash
        # truthiness of a bare field
        ("[verb]", True),
        ("[flag]", True),
        ("[off]", False),
        ("[empty]", False),
        ("[none]", False),
        ("[list]", False),
        ("[missing]", False),
        ("![missing]", True),
        ("not [verb]", False),
        # boolean operators and precedence: and/nand bind tighter than or/xor
        ('[verb] == "GET" and [code] == 200', True),
        ('[verb] == "PUT" or [code] == 200', True),
        ('[verb] == "PUT" or [code] == 200 and [off]', False),
        ('([verb] == "PUT" or [code] == 200) and [flag]', True),
        ("[flag] and [off] or [verb]", True),
        ("[flag] xor [off]", True),
        ("[flag] xor [verb]", False),
        ("[flag] nand [verb]", False),
        ("[flag] nand [off]", True),
        ('!([verb] == "GET")', False),
        ('not ("web" in [tags])', False),
        ("!![flag]", True),
        ('[verb] == "GET" AND [flag]', True),
    ],
)
def test_condition_on_an_event(condition: str, expected: bool) -> None:
    assert compile_condition(condition)(EVENT) is expected


@pytest.mark.parametrize(
    ("condition", "problem"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("[a] ==", "ends too early"),
        ("[a] == 1 1", "unexpected '1'"),
        ("[a] === 1", "cannot read"),
        ("[a] =~ 5", "need a /regex/ or a string"),
        ("[a] =~ /(/", "invalid regex"),
        ("[a] in [[b]]", "expected a string, number"),
        ('[a] in ["x" "y"]', "expected ',' or ']'"),
        ("[a] is 1", "unknown operator 'is'"),
        ("[a] not 1", "expected 'in' after 'not'"),
        ("foo == 1", "expected a string, number"),
        ("([a] == 1", "ends too early"),
        ("/x/", "can only follow"),
        ("1.2.3 == [a]", "cannot read"),
        ("9" * 100 + " == [a]", "too long"),
        ("(" * (MAX_NESTING + 1) + "[a]" + ")" * (MAX_NESTING + 1), "nested deeper"),
        ("!" * (MAX_NESTING + 2) + "[a]", "nested deeper"),
    ],
)
def test_broken_conditions_raise_condition_error(condition: str, problem: str) -> None:
    with pytest.raises(ConditionError, match=problem.replace("(", r"\(").replace("[", r"\[")):
        compile_condition(condition)


def test_deep_but_reasonable_nesting_works() -> None:
    depth = MAX_NESTING - 2
    assert compile_condition("(" * depth + "[flag]" + ")" * depth)(EVENT) is True


VOCABULARY = [
    "[a]",
    "[b][c]",
    "[tags]",
    '"x"',
    "'y'",
    "1",
    "-2.5",
    "/re/",
    "/(/",
    "==",
    "!=",
    "<",
    ">",
    "<=",
    ">=",
    "=~",
    "!~",
    "in",
    "not",
    "and",
    "or",
    "xor",
    "nand",
    "!",
    "(",
    ")",
    "[",
    "]",
    ",",
    "true",
    '"\\"',
    "foo",
    "[",
    "%",
    "{",
    "\\",
    "\n",
]
FUZZ_DOCS: list[dict[str, Any]] = [
    {},
    {"a": "1", "b": {"c": [1, "x"]}, "tags": ["x"]},
    {"a": None, "b": "text", "tags": "x"},
    {"a": [{"z": 1}], "b": {"c": {"d": 2.5}}, "tags": []},
    {"a": True, "b": {"c": "re"}},
]


def _compile_or_reject(text: str) -> None:
    try:
        predicate = compile_condition(text)
    except ConditionError:
        return
    for doc in FUZZ_DOCS:
        assert predicate(doc) in (True, False)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=80))
def test_random_text_either_compiles_or_raises_condition_error(text: str) -> None:
    _compile_or_reject(text)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(VOCABULARY), max_size=14).map(" ".join))
def test_random_token_soup_either_compiles_or_raises_condition_error(text: str) -> None:
    _compile_or_reject(text)


def test_token_soup_reaches_valid_conditions() -> None:
    """The fuzzer above is only useful if its vocabulary can form conditions that compile."""
    for text in ['[a] == "x"', "[tags] and not [b][c]", "( 1 < [a] ) xor [b][c] =~ /re/", '"x" in [ "x" , 1 ]']:
        _compile_or_reject(text)
        compile_condition(text)
