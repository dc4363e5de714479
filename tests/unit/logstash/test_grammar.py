"""Logstash's configuration grammar: sections, nested blocks, values, strings, comments, conditions."""

from __future__ import annotations

import pytest

from streamstash.logstash import ast
from streamstash.logstash.parser import LogstashSyntaxError, parse_text


def only_plugin(text: str, section: str = "filter") -> ast.Plugin:
    nodes = parse_text(text).section(section)
    assert len(nodes) == 1 and isinstance(nodes[0], ast.Plugin)
    return nodes[0]


def test_sections_plugins_and_nested_blocks() -> None:
    parsed = parse_text("""
        input { file { path => "/a" codec => multiline { pattern => "^\\s" what => "previous" } } }
        filter { if [a] { if [b] { mutate { } } } }
        filter { drop {} }
        output { elasticsearch { } stdout { } }
    """)
    assert [section.kind for section in parsed.sections] == ["input", "filter", "filter", "output"]
    codec = parsed.section("input")[0].get("codec")  # type: ignore[union-attr]
    assert isinstance(codec, ast.Plugin) and codec.name == "multiline" and codec.get("what") == "previous"
    outer = parsed.section("filter")[0]
    assert isinstance(outer, ast.Branch)
    inner = outer.clauses[0].body[0]
    assert isinstance(inner, ast.Branch) and isinstance(inner.clauses[0].body[0], ast.Plugin)
    assert [node.name for node in parsed.section("filter")[1:]] == ["drop"]  # type: ignore[union-attr]
    assert [node.name for node in parsed.section("output")] == ["elasticsearch", "stdout"]  # type: ignore[union-attr]


def test_values_arrays_hashes_numbers_barewords() -> None:
    plugin = only_plugin("""filter { x {
        list => ["a", 'b', 3, -4.5, [1, 2], { "k" => "v" }]
        empty => []
        hash => { "a" => 1 b => "two" 3 => [x] }
        commas => { "a" => 1, "b" => 2 }
        flag => true
        word => beginning
    } }""")
    assert plugin.get("list") == ["a", "b", 3, -4.5, [1, 2], {"k": "v"}]
    assert plugin.get("empty") == []
    assert plugin.get("hash") == {"a": 1, "b": "two", "3": ["x"]}
    assert plugin.get("commas") == {"a": 1, "b": 2}
    assert plugin.get("flag") == "true" and isinstance(plugin.get("flag"), ast.Bareword)
    assert plugin.get("word") == "beginning"


def test_quoted_strings_keep_backslashes_unless_escapes_are_on() -> None:
    text = r"""filter { x { a => "say \"hi\"\n" b => 'it\'s' c => "\[%{HTTPDATE}\]" d => "#not a comment" } }"""
    plain = only_plugin(text)
    assert plain.get("a") == r"say \"hi\"\n"  # Logstash's default: the text as written
    assert plain.get("b") == r"it\'s"
    assert plain.get("c") == r"\[%{HTTPDATE}\]"
    assert plain.get("d") == "#not a comment"
    escaped = parse_text(text, support_escapes=True).section("filter")[0]
    assert escaped.get("a") == 'say "hi"\n'  # type: ignore[union-attr]
    assert escaped.get("b") == "it's"  # type: ignore[union-attr]
    assert escaped.get("c") == r"\[%{HTTPDATE}\]"  # type: ignore[union-attr] - unknown escapes stay


def test_comments_anywhere_and_at_the_end_without_newline() -> None:
    plugin = only_plugin(
        '# head\nfilter { # after brace\n  mutate { # inside\n    add_tag => ["a"] # after value\n  }\n} # tail'
    )
    assert plugin.get("add_tag") == ["a"]


def test_variable_references_stay_in_the_text() -> None:
    plugin = only_plugin(
        'output { elasticsearch { hosts => ["${ES_HOST:localhost:9200}"] password => "${PW}" } }', "output"
    )
    assert plugin.get("hosts") == ["${ES_HOST:localhost:9200}"]
    assert plugin.get("password") == "${PW}"


def test_repeated_attributes_merge_like_logstash() -> None:
    plugin = only_plugin(
        'filter { grok { match => { "a" => "x" } match => { "b" => "y" } add_tag => ["t"] add_tag => ["u"] } }'
    )
    assert plugin.get("match") == {"a": "x", "b": "y"}
    assert plugin.get("add_tag") == ["t", "u"]


def test_locations_point_at_lines_and_text() -> None:
    parsed = parse_text('filter {\n  grok {\n    match => { "message" => "%{WORD:w}" }\n  }\n}\n')
    plugin = parsed.section("filter")[0]
    assert isinstance(plugin, ast.Plugin)
    assert plugin.location.line == 2 and plugin.location.end_line == 4
    assert plugin.location.text.startswith("grok {") and plugin.location.text.endswith("}")
    assert plugin.attributes[0].location.line == 3


def test_conditions_precedence_and_operators() -> None:
    branch = parse_text(
        'filter { if [a] == 1 or [b] != "x" and ![c] { } else if "t" in [tags] { } '
        'else if [d] not in ["x", "y"] { } else if [m] =~ /a\\/b/ and [n] !~ "z" { } else { } }'
    ).section("filter")[0]
    assert isinstance(branch, ast.Branch)
    first, second, third, fourth, last = (clause.condition for clause in branch.clauses)
    assert isinstance(first, ast.BooleanOperation) and first.operator == "or"  # and binds tighter
    assert isinstance(first.right, ast.BooleanOperation) and first.right.operator == "and"
    assert isinstance(first.right.right, ast.Negation)
    assert second == ast.Membership(ast.Constant("t"), ast.Selector("[tags]"), negated=False)
    assert third == ast.Membership(ast.Selector("[d]"), ast.ListLiteral(["x", "y"]), negated=True)
    assert isinstance(fourth, ast.BooleanOperation)
    assert fourth.left == ast.RegexMatch(ast.Selector("[m]"), ast.Regex("a\\/b"), negated=False)
    assert fourth.right == ast.RegexMatch(ast.Selector("[n]"), ast.Constant("z"), negated=True)
    assert last is None


def test_a_one_item_list_in_a_condition_is_a_selector_as_in_logstash() -> None:
    branch = parse_text('filter { if [a] in ["x"] { } }').section("filter")[0]
    assert isinstance(branch, ast.Branch)
    assert branch.clauses[0].condition == ast.Membership(ast.Selector("[a]"), ast.Selector('["x"]'), negated=False)


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        ("filter {\n  grok {\n    match => \n  }\n}\n", 4, "unexpected"),
        ("filter {\n  mutate { }\n", 2, "ends inside a block"),  # at the last token read
        ('filter { x { a => "unterminated } }', 1, "unexpected character"),
        ("filters { }", 1, "unexpected"),
    ],
)
def test_syntax_errors_say_where(text: str, line: int, problem: str) -> None:
    with pytest.raises(LogstashSyntaxError) as caught:
        parse_text(text, "pipe.conf")
    assert caught.value.line == line
    assert problem in caught.value.problem
    assert str(caught.value).startswith(f"pipe.conf:{line}:")


def test_duplicate_hash_keys_are_an_error() -> None:
    with pytest.raises(LogstashSyntaxError, match="duplicate key 'a'") as caught:
        parse_text('filter {\n mutate { add_field => { "a" => 1\n "a" => 2 } } }', "dup.conf")
    assert str(caught.value).startswith("dup.conf:")
