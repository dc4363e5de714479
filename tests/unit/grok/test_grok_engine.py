"""The grok engine: syntax, types, nesting, pattern sources, break_on_match, errors, the time budget, the CLI."""

from __future__ import annotations

import io
import re
import time
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streamstash.grok import Grok, GrokError, GrokResult, load_pattern_library
from streamstash.grok.analysis import analyze
from streamstash.grok.command import run_grok
from streamstash.grok.engine import MAX_FAST_LENGTH
from streamstash.grok.library import parse_pattern_text

ACCESS = '83.149.9.216 - - [04/Jan/2015:05:13:42 +0000] "GET / HTTP/1.1" 200 203023 "-" "Mozilla"'


def fields(patterns: str | list[str], text: str, **options: object) -> dict:
    result = Grok([patterns] if isinstance(patterns, str) else patterns, **options).match(text)
    assert result.matched, (patterns, text)
    return result.fields


# ---- syntax -----------------------------------------------------------------------------------------------------


def test_result_shape() -> None:
    result = Grok(["%{COMBINEDAPACHELOG}"]).match(ACCESS)
    assert isinstance(result, GrokResult)
    assert result.matched is True and result.timed_out is False and result.pattern_index == 0
    assert result.fields["clientip"] == "83.149.9.216" and result.fields["bytes"] == "203023"
    miss = Grok(["%{COMBINEDAPACHELOG}"]).match("nothing here")
    assert (miss.matched, miss.timed_out, miss.fields, miss.pattern_index) == (False, False, {}, None)


def test_each_match_returns_a_fresh_dict() -> None:
    grok = Grok(["%{WORD:w}"])
    first = grok.match("hello")
    first.fields["w"] = "changed"
    assert grok.match("hello").fields == {"w": "hello"}


def test_unnamed_references_do_not_capture_and_search_is_unanchored() -> None:
    assert fields("%{WORD} %{INT:n}", "say hello 42 times") == {"n": "42"}
    assert fields("%{INT:n}", "abc 42 def") == {"n": "42"}
    assert not Grok(["^%{INT:n}$"]).match("abc 42").matched


def test_plain_groups_do_not_capture() -> None:
    assert fields("(a|b)(?:c)%{INT:n}", "bc7") == {"n": "7"}


def test_optional_groups_that_did_not_take_part_are_absent() -> None:
    assert fields("%{WORD:a}(?: %{INT:b})?", "x") == {"a": "x"}
    assert fields("%{WORD:a}(?: %{INT:b})?", "x 1") == {"a": "x", "b": "1"}
    assert "bytes" not in fields("%{COMBINEDAPACHELOG}", ACCESS.replace(" 203023 ", " - "))


def test_empty_captures_are_dropped_unless_kept() -> None:
    assert fields("^%{DATA:a}:%{DATA:b}$", ":x") == {"b": "x"}
    assert fields("^%{DATA:a}:%{DATA:b}$", ":x", keep_empty_captures=True) == {"a": "", "b": "x"}


def test_same_field_twice_becomes_an_array() -> None:
    assert fields("%{WORD:w} %{WORD:w}", "a b") == {"w": ["a", "b"]}
    assert fields("%{WORD:w} %{WORD:w} %{WORD:w}", "a b c") == {"w": ["a", "b", "c"]}
    # two groups for one field, only one took part: a plain value
    assert fields("(?:%{INT:n:int}|%{WORD:n})", "x") == {"n": "x"}
    assert fields("(?:%{INT:n:int}|%{WORD:n})", "5") == {"n": 5}


# ---- types --------------------------------------------------------------------------------------------------------


def test_int_and_float_conversion() -> None:
    assert fields("%{NUMBER:n:int}", "12") == {"n": 12}
    assert fields("%{NUMBER:n:int}", "12.5") == {"n": 12}  # Logstash truncates
    assert fields("%{NUMBER:n:int}", "-3.9") == {"n": -3}
    assert fields("%{NUMBER:f:float}", "12.5") == {"f": 12.5}
    assert fields("%{NUMBER:f:float}", "7") == {"f": 7.0} and type(fields("%{NUMBER:f:float}", "7")["f"]) is float
    assert fields("%{NUMBER:a:int} %{NUMBER:b:float}", "1 2") == {"a": 1, "b": 2.0}


def test_values_that_do_not_convert_stay_text() -> None:
    assert fields("%{WORD:w:int}", "abc") == {"w": "abc"}
    assert fields("%{NOTSPACE:x:int}", "-") == {"x": "-"}
    assert fields("%{WORD:f:float}", "nan") == {"f": "nan"}
    assert fields("%{WORD:f:float}", "inf") == {"f": "inf"}
    assert fields("%{NOTSPACE:f:float}", "1.5ms") == {"f": 1.5}
    assert fields("%{NOTSPACE:x:int}", "42ms") == {"x": 42}


def test_unknown_type_leaves_text() -> None:
    assert fields("%{NUMBER:n:string}", "12") == {"n": "12"}


# ---- nested names and inline captures -----------------------------------------------------------------------------


def test_nested_field_names() -> None:
    assert fields("%{INT:[http][status]:int}", "200") == {"http": {"status": 200}}
    assert fields("%{WORD:[http][method]} %{INT:[http][status]:int} %{WORD:[a][b][c]}", "GET 404 x") == {
        "http": {"method": "GET", "status": 404},
        "a": {"b": {"c": "x"}},
    }
    assert fields("%{WORD:[w]} %{WORD:[w]}", "a b") == {"w": ["a", "b"]}


def test_inline_named_captures() -> None:
    assert fields(r"(?<user>\w+)@(?<[net][host]>\S+)", "bob@example.com") == {
        "user": "bob",
        "net": {"host": "example.com"},
    }
    assert fields(r"(?P<a>\d+)-(?'b'\d+)", "1-2") == {"a": "1", "b": "2"}
    assert fields(r"(?<duration>[0-9]+)ms (?<@metadata>x)", "120ms x") == {"duration": "120", "@metadata": "x"}
    # lookbehinds are not names
    assert fields(r"(?<=a)(?<!b)%{INT:n}", "a5") == {"n": "5"}


def test_captures_inside_captures() -> None:
    assert fields("%{SYSLOGPROG:prog}", "sshd[42]") == {"prog": "sshd[42]", "program": "sshd", "pid": "42"}


def test_field_names() -> None:
    assert Grok(["%{COMBINEDAPACHELOG}"]).field_names == [
        "clientip",
        "ident",
        "auth",
        "timestamp",
        "verb",
        "request",
        "httpversion",
        "rawrequest",
        "response",
        "bytes",
        "referrer",
        "agent",
    ]
    names = Grok(["%{INT:[http][status]:int} (?<[a][b]>x)", "%{WORD:w} %{WORD:w}"]).field_names
    assert names == ["[http][status]", "[a][b]", "w"]


def test_oniguruma_syntax_is_translated() -> None:
    assert fields(r"(?<n>[[:digit:]]+)[[:space:]](?<h>\h+)\z", "12 beef") == {"n": "12", "h": "beef"}
    assert fields(r"(?<w>\w+) \k<w>", "hey hey") == {"w": "hey"}
    assert not Grok([r"^(?<w>\w+) \k<w>$"]).match("hey you").matched
    assert fields(r'(?<x>[^\\"]+)', 'ab"c') == {"x": "ab"}
    # case-insensitive: the negated class keeps its meaning
    assert fields(r"(?i)(?<x>[^ab]+)", "ABcd") == {"x": "cd"}


# ---- pattern sources -----------------------------------------------------------------------------------------------


def test_custom_pattern_definitions() -> None:
    grok = Grok(["%{MYNUM:n:int}-%{TASK:t}"], pattern_definitions={"MYNUM": r"\d+", "TASK": r"\w+:\w+"})
    assert grok.match("42-resize:thumb").fields == {"n": 42, "t": "resize:thumb"}
    # definitions override the library
    assert fields("%{WORD:w}", "abc xyz", pattern_definitions={"WORD": "x+"}) == {"w": "x"}


def test_pattern_dirs_and_files(tmp_path: Path) -> None:
    directory = tmp_path / "patterns"
    directory.mkdir()
    (directory / "mine").write_text("# my patterns\n\nTASKID [A-Z]{3}-\\d+\n  # indented comment\nLEVEL (?:HI|LO)\n")
    (directory / "more").write_text("TICKET %{TASKID}/%{LEVEL}\n")
    grok = Grok(["%{TICKET:ticket} %{LEVEL:level}"], pattern_dirs=[directory])
    assert grok.match("ABC-12/HI LO").fields == {"ticket": "ABC-12/HI", "level": "LO"}
    override = tmp_path / "override"
    override.write_text("LEVEL (?:UP|DOWN)\n")
    library = load_pattern_library(extra_dirs=[directory], extra_files=[override])
    assert library["LEVEL"] == "(?:UP|DOWN)" and library["TASKID"] == r"[A-Z]{3}-\d+" and "COMBINEDAPACHELOG" in library
    assert "TASKID" not in load_pattern_library()


def test_pattern_files_are_read_like_logstash(tmp_path: Path) -> None:
    """jls-grok's reader: a name alone defines an empty pattern (skipped only on a last line without a line
    break), the regex keeps its trailing blanks, `#` starts a comment only at the start of a line."""
    text = "  GOOD \\d+\nEMPTY\nSPACED x \nHASH a#b\n# COMMENT x\n\n   \nLAST"
    patterns = parse_pattern_text(text)
    assert patterns == {"GOOD": r"\d+", "EMPTY": "", "SPACED": "x ", "HASH": "a#b"}
    assert parse_pattern_text("CRLF [a-z]+\r\nNAME\r\n") == {"CRLF": "[a-z]+", "NAME": ""}
    bad = tmp_path / "names"
    bad.write_text("ONLY_A_NAME\nNUM %{INT:n}\n")
    assert Grok(["x%{ONLY_A_NAME}y %{NUM}"], pattern_files=[bad]).match("xy 5").fields == {"n": "5"}


def test_patterns_dir_takes_directories_files_and_globs(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "a").write_text("A_PAT a+\n")
    (tmp_path / "dir" / "b.grok").write_text("B_PAT b+\n")
    (tmp_path / "dir" / "sub").mkdir()
    single = tmp_path / "single"
    single.write_text("S_PAT s+\n")
    library = load_pattern_library(extra_dirs=[tmp_path / "dir", single])
    assert {"A_PAT", "B_PAT", "S_PAT"} <= set(library)
    assert "A_PAT" not in load_pattern_library(extra_dirs=[tmp_path / "dir"], files_glob="*.grok")
    assert "B_PAT" in load_pattern_library(extra_dirs=[str(tmp_path / "dir" / "*.grok")])
    # a path that finds nothing is ignored, as Logstash ignores it
    assert load_pattern_library(extra_dirs=[tmp_path / "missing", str(tmp_path / "none-*")]) == load_pattern_library()
    assert Grok(["%{INT:n}"], pattern_dirs=[tmp_path / "missing"]).match("7").fields == {"n": "7"}


# ---- several patterns -----------------------------------------------------------------------------------------------


def test_break_on_match_true_first_wins() -> None:
    grok = Grok(["%{INT:number}", "%{WORD:word}"])
    assert grok.match("abc 12") == GrokResult(True, False, {"number": "12"}, 0)
    assert grok.match("abc") == GrokResult(True, False, {"word": "abc"}, 1)
    assert not grok.match("!!").matched


def test_break_on_match_false_merges() -> None:
    grok = Grok(
        ["%{INT:number}", "%{WORD:word}", "%{IP:ip}", "(?<[http][a]>x)", "(?<[http][b]>y)"], break_on_match=False
    )
    result = grok.match("x y 12")
    assert result.matched and result.pattern_index == 0
    assert result.fields == {"number": "12", "word": "x", "http": {"a": "x", "b": "y"}}
    repeated = Grok(["%{WORD:w}", "%{INT:w}"], break_on_match=False).match("a 1")
    assert repeated.fields == {"w": ["a", "1"]}
    assert Grok(["%{IP:ip}", "%{INT:n}"], break_on_match=False).match("7").pattern_index == 1


# ---- errors ---------------------------------------------------------------------------------------------------------


def test_unknown_pattern_error_names_it_and_the_expression() -> None:
    with pytest.raises(GrokError) as caught:
        Grok(["%{WORD:a} %{NOSUCHPATTERN:b}"])
    assert "NOSUCHPATTERN" in str(caught.value) and "%{WORD:a} %{NOSUCHPATTERN:b}" in str(caught.value)
    assert isinstance(caught.value, ValueError)
    with pytest.raises(GrokError, match=r"%\{NOPE\} \(used by %\{OUTER\}\).*%\{OUTER\}"):
        Grok(["%{OUTER}"], pattern_definitions={"OUTER": "x%{NOPE}"})


def test_invalid_regex_error_names_the_pattern_and_the_error() -> None:
    with pytest.raises(GrokError) as caught:
        Grok(["%{WORD:a} (unclosed"])
    message = str(caught.value)
    assert "%{WORD:a} (unclosed" in message and "missing )" in message
    with pytest.raises(GrokError, match=r"BROKEN.*does not compile"):
        Grok(["%{BROKEN}"], pattern_definitions={"BROKEN": "a{2,1}"})


def test_recursive_definitions_are_detected() -> None:
    with pytest.raises(GrokError, match=r"recursive.*A -> B -> A"):
        Grok(["%{A}"], pattern_definitions={"A": "a%{B}", "B": "b%{A}"})
    with pytest.raises(GrokError, match="recursive"):
        Grok(["%{SELF}"], pattern_definitions={"SELF": "x|%{SELF}"})


def test_other_constructor_errors() -> None:
    with pytest.raises(GrokError):
        Grok([])
    with pytest.raises(GrokError):
        Grok(["%{INT}"], timeout_ms=0)


# ---- time budget -----------------------------------------------------------------------------------------------


def test_catastrophic_patterns_are_bounded() -> None:
    # (a+)+$ is the textbook case; the guarded engine (regex) cuts it short by itself, well within budget
    grok = Grok(["(a+)+$"], timeout_ms=200)
    assert grok.expressions[0].fast is None  # the static check sent it to the interruptible engine
    started = time.process_time()
    result = grok.match("a" * 40 + "b")
    assert not result.matched and time.process_time() - started < 0.5
    assert grok.match("aaaa").matched


def test_catastrophic_pattern_times_out() -> None:
    grok = Grok(["(a|aa)+$"], timeout_ms=50)  # exponential in the regex package too
    assert grok.expressions[0].fast is None
    started = time.process_time()
    result = grok.match("a" * 40 + "b")
    elapsed = time.process_time() - started
    assert result.timed_out and not result.matched and result.fields == {} and result.pattern_index is None
    assert elapsed < 0.5
    assert grok.match("aaaa").matched  # the same expression still works on harmless input


def test_budget_is_shared_by_all_patterns() -> None:
    grok = Grok(["(x+x+)+y", "(a|aa)+$", "%{WORD:w}"], timeout_ms=50)
    started = time.process_time()
    result = grok.match("a" * 40 + "b")
    assert result.timed_out and time.process_time() - started < 0.5


def test_engine_choice() -> None:
    assert Grok(["%{COMBINEDAPACHELOG}"]).expressions[0].fast is not None
    syslog = Grok(["%{SYSLOGLINE}"]).expressions[0]
    assert syslog.fast is None and syslog.guarded is not None and "exponential" in syslog.risk
    assert Grok(["%{CLOUDFRONT_ACCESS_LOG}"]).expressions[0].fast is None


@pytest.mark.parametrize(
    ("regex", "safe"),
    [
        (r"(a+)+$", False),
        (r"(a|aa)+$", False),
        (r"(\w+\s?)+$", False),
        (r"(?:a|a)*b", False),
        (r".*a.*b.*c.*d", False),
        (r"(?:\d+\.?)+x", False),
        (r"(?:\.[a-z][a-z0-9-]{0,62})*", True),
        (r"(?:[a-z]+:)*x", True),
        (r"(?:[0-9]{1,3}\.){3}[0-9]+", True),
        (r"(?>a+|b)+c", True),
        (r"(?:a+b)*+c", True),
        (r"\S+ \S+ .*", True),
        (r"()*a", True),
    ],
)
def test_backtracking_analysis(regex: str, safe: bool) -> None:
    assert analyze(regex).backtracking_safe is safe


def test_mandatory_groups() -> None:
    analysis = analyze(r"(?P<a>x)(?:(?P<b>y)|z)(?P<c>w)?(?P<d>v*)(?P<e>u)+")
    assert analysis.mandatory_groups == {1, 5}


@pytest.mark.parametrize(
    ("regex", "required"),
    [
        (r"ab\.c(?:de)?f", "ab.c"),  # the optional part breaks the run; the longest run wins
        (r"x(?:abc)+y", "abc"),  # a body taken at least once
        (r"x(?:abc)*y", "x"),  # a body that may be skipped is not required
        (r"foo|bar", None),  # alternatives: neither is on every path
        (r"(?i)abc", None),  # either case matches: no substring test
        (r"a(?i:bcd)e", "a"),  # nor inside a case-blind group
        (r"(?=abc)\w+", None),  # a lookahead is not part of the match's own text
        (r"\d+", None),
    ],
)
def test_required_text(regex: str, required: str | None) -> None:
    assert analyze(regex).required_text == required


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from([r"ab(?:cd)+e", r"a.c", r"(?:ab|cd)e", r"x(?:yz)?w", r"(?P<n>\d+)-ab", r"a(?i:B)c"]),
    st.text(alphabet="abcdexyzwB-12", max_size=12),
)
def test_the_required_text_never_changes_a_result(regex: str, text: str) -> None:
    assert Grok([regex], timeout_ms=None).match(text).matched == (re.search(regex, text) is not None)


def test_a_line_for_another_pattern_is_refused_before_any_search() -> None:
    grok = Grok(["%{COMBINEDAPACHELOG}", "%{TIMESTAMP_ISO8601:at} %{WORD:level} elapsed:%{NUMBER:ms:int}"])
    assert grok.expressions[0].required_text == '] "'
    task = "2026-11-21T10:00:00.000Z INFO elapsed:1629"
    result = grok.match(task)
    assert result.matched and result.pattern_index == 1 and result.fields["ms"] == 1629
    assert grok.match(ACCESS).pattern_index == 0


def test_long_lines_take_the_guarded_engine_with_the_same_result() -> None:
    grok = Grok(["%{COMBINEDAPACHELOG}"])
    long_line = ACCESS.replace('"Mozilla"', '"' + "M" * MAX_FAST_LENGTH + '"')
    result = grok.match(long_line)
    assert result.matched and result.fields["agent"] == '"' + "M" * MAX_FAST_LENGTH + '"'
    assert grok.match(ACCESS).fields == {**result.fields, "agent": '"Mozilla"'}


def test_several_patterns_take_the_first_match_loop_with_the_general_loop_s_results() -> None:
    grok = Grok(["%{COMBINEDAPACHELOG}", "%{TIMESTAMP_ISO8601:at} %{WORD:level} elapsed:%{NUMBER:ms:int}"])
    assert grok.match != grok._match_several  # the closure for several expressions, first match wins
    long_line = ACCESS.replace('"Mozilla"', '"' + "M" * MAX_FAST_LENGTH + '"')
    task = "2026-11-21T10:00:00.000Z INFO elapsed:1629"
    for text in (ACCESS, task, long_line, task + " " + "x" * MAX_FAST_LENGTH, "", "no pattern matches this"):
        assert grok.match(text) == grok._match_several(text)


LOG_CHARS = st.sampled_from([*list("0123456789abcdefABCDEF.:-/[]\"' <>@%+_\\\t"), "Jan", "GET", "HTTP/1.1", " - "])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=200), st.lists(LOG_CHARS, max_size=80).map("".join)))
def test_random_text_never_raises(text: str) -> None:
    result = FUZZ_GROK.match(text)
    assert isinstance(result.matched, bool) and isinstance(result.fields, dict)
    assert result == FUZZ_GROK._match_several(text)  # the first-match closure agrees with the general loop
    if result.matched:
        assert result.pattern_index in (0, 1)


FUZZ_GROK = Grok(["%{COMBINEDAPACHELOG}", "%{SYSLOGLINE}"], timeout_ms=200)


# ---- CLI helper ------------------------------------------------------------------------------------------------


def test_run_grok_prints_one_object_per_line() -> None:
    out = io.StringIO()
    code = run_grok(["%{INT:n:int} %{WORD:[x][w]}", "%{WORD:only}"], [], ["1 a\n", "b\n", "!!\n"], out)
    assert code == 0
    assert [orjson.loads(line) for line in out.getvalue().splitlines()] == [
        {"n": 1, "x": {"w": "a"}},
        {"only": "b"},
        {"tags": ["_grokparsefailure"]},
    ]


def test_run_grok_reports_timeouts() -> None:
    out = io.StringIO()
    assert run_grok(["(a|aa)+$"], [], ["a" * 40 + "b"], out, timeout_ms=20) == 0
    assert orjson.loads(out.getvalue()) == {"tags": ["_groktimeout"]}


def test_run_grok_bad_patterns_exit_2(tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    assert run_grok(["%{NOPE:x}"], [], ["a"], out, err) == 2
    assert "NOPE" in err.getvalue() and out.getvalue() == ""
    err = io.StringIO()
    assert run_grok(["(oops"], [], ["a"], out, err) == 2
    assert "(oops" in err.getvalue() and "missing )" in err.getvalue()
    patterns = tmp_path / "p"
    patterns.mkdir()
    (patterns / "x").write_text("MINE [a-z]+\n")
    out = io.StringIO()
    assert run_grok(["%{MINE:m}"], [patterns], ["abc"], out) == 0
    assert orjson.loads(out.getvalue()) == {"m": "abc"}


def test_run_grok_cli_exit_code(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from streamstash.cli import app

    result = CliRunner().invoke(app, ["grok", "--pattern", "%{NOPE}"], input="x\n")
    assert result.exit_code == 2
    ok = CliRunner().invoke(app, ["grok", "-p", "%{INT:n:int}"], input="5\n")
    assert ok.exit_code == 0 and orjson.loads(ok.stdout) == {"n": 5}


def test_expanded_regex_is_python_syntax() -> None:
    for regex in Grok(["%{COMBINEDAPACHELOG}", r"(?<a>x)"]).regexes:
        re.compile(regex)
