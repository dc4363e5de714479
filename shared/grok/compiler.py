"""Grok expression -> one regex in Python syntax, plus the table that maps its groups back to fields.

What the expansion does, in one left-to-right scan of each expression and (recursively) each pattern it uses:

* `%{NAME}` becomes `(?:<NAME's regex>)`, `%{NAME:field}` / `%{NAME:field:int|float}` a capturing group;
* inline named groups `(?<field>...)`, `(?P<field>...)`, `(?'field'...)` become capturing groups too;
* every capturing group gets a safe internal name (`_g0`, `_g1`, ...), because fields may be `[a][b]`,
  `@metadata` or repeat; the table maps the group back to the field path and converter;
* plain `(...)` groups become `(?:...)` -- Logstash (Oniguruma) does not capture them once a pattern has named
  groups, and dropping them makes every capturing group one of ours, in order;
* the Oniguruma-only bits the standard pattern files use are translated: `[[:alpha:]]` POSIX classes, `\\h`,
  `\\z` / `\\Z`, `\\x{HHHH}`, `\\k<name>`;
* Ruby's regex options: Logstash's grok (jls-grok) compiles every expression with `Regexp::MULTILINE`, under which
  `.` matches a newline, and in Ruby `^` / `$` always match at line breaks; the regex therefore starts with
  `(?ms)`. An inline `(?m)` / `(?i)` (Ruby's `m` is Python's `s`) applies to the rest of its group, as in Ruby:
  it becomes a scoped group `(?s:...)` closed with that group (Python refuses global flags past the start);
* a quantifier on a quantified atom (`.?*`, `x{2}{3}`, Ruby's `x{1,3}+`, which is not possessive there) repeats
  the quantified atom, as Onigmo does, instead of failing to compile: it becomes `(?:.?)*`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from streamstash.grok.errors import GrokError

# %{NAME}, %{NAME:field}, %{NAME:field:type}, read as Logstash's grok (jls-grok) reads them: the field part is
# letters, digits and `@ [ ] _ . -`; whatever else stands before the closing brace is ignored
# (`%{NAGIOSLOGLINE - a comment}` is %{NAGIOSLOGLINE}), and so is a colon part after the type.
_FIELD_CHARS = r"[@\[\]A-Za-z0-9_.\-]*"
_REFERENCE = re.compile(
    rf"%\{{(?P<name>[A-Za-z0-9_]+)(?::(?P<field>{_FIELD_CHARS})(?::(?P<type>{_FIELD_CHARS})(?::[^}}]*)?)?)?[^}}]*\}}"
)
_GROUP_NAME = re.compile(r"[^>']*")
_HEX_BRACED = re.compile(r"\\x\{([0-9A-Fa-f]{1,8})\}")

_POSIX_CLASSES = {
    "alnum": "a-zA-Z0-9",
    "alpha": "a-zA-Z",
    "ascii": "\\x00-\\x7f",
    "blank": " \\t",
    "cntrl": "\\x00-\\x1f\\x7f",
    "digit": "0-9",
    "graph": "\\x21-\\x7e",
    "lower": "a-z",
    "print": "\\x20-\\x7e",
    "punct": "!-/:-@\\[-`{-~",
    "space": "\\s",
    "upper": "A-Z",
    "word": "\\w",
    "xdigit": "0-9A-Fa-f",
}
_CONVERTERS = ("int", "float")
# `[^\\"]`: a negated class of plain or escaped punctuation characters (no ranges, no \\d-like escapes).
_NEGATED_LITERALS = re.compile(r"\[\^((?:\\[^A-Za-z0-9]|[^\\\]\[\-^])+)\]")
_CLASS_ITEM = re.compile(r"\\?.", re.DOTALL)
_INLINE_IGNORECASE = re.compile(r"\(\?[a-zA-Z]*i[a-zA-Z]*[:)-]")
_BRACE_QUANTIFIER = re.compile(r"\{(?:\d+(?:,\d*)?|,\d+)\}")
# Ruby's option groups: `(?i)`, `(?m-i)` (to the end of the enclosing group) and `(?mi:...)`.
_RUBY_OPTIONS = re.compile(r"\(\?(?P<on>[imx]*)(?:-(?P<off>[imx]*))?(?P<close>[:)])")
# Ruby's `m` is Python's `s` (dot matches a newline); Python's `m` is always on, as `^`/`$` are in Ruby.
_RUBY_TO_PYTHON_OPTION = {"i": "i", "m": "s", "x": "x"}
#: The options every expression is compiled with (Logstash's grok: Regexp::MULTILINE, Ruby's line anchors).
GLOBAL_OPTIONS = "(?ms)"


def _python_options(ruby: str) -> str:
    return "".join(dict.fromkeys(_RUBY_TO_PYTHON_OPTION[option] for option in ruby))


def _code_escape(code: int) -> str:
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def _positive_complement(chars: set[str]) -> str:
    """`[^\\"]` as `[\\x00-\\x21\\x23-\\x5b\\x5d-\\U0010ffff]`: the same set, but Python's sre tests positive
    ranges several times faster than a negated list of literals (the whole of a quoted string goes through it)."""
    ranges, start = [], 0
    for code in sorted(ord(ch) for ch in chars):
        if code > start:
            ranges.append((start, code - 1))
        start = code + 1
    if start <= 0x10FFFF:
        ranges.append((start, 0x10FFFF))
    return "[" + "".join(_code_escape(a) if a == b else f"{_code_escape(a)}-{_code_escape(b)}" for a, b in ranges) + "]"


@dataclass(frozen=True, slots=True)
class Capture:
    """One capturing group: its internal name, the field it fills and the conversion to apply."""

    group: str
    field: str  # as written: `name`, `[a][b]`
    path: tuple[str, ...]
    convert: str | None  # "int", "float" or None


@dataclass(frozen=True, slots=True)
class Expansion:
    expression: str
    regex: str
    captures: tuple[Capture, ...]


def field_path(field: str) -> tuple[str, ...]:
    """`name` -> ("name",), `[a][b]` -> ("a", "b") (Logstash field reference syntax)."""
    field = field.strip()
    if field.startswith("[") and field.endswith("]"):
        parts = tuple(part for part in field[1:-1].split("][") if part)
        if parts:
            return parts
    return (field,)


def field_reference(path: tuple[str, ...]) -> str:
    return path[0] if len(path) == 1 else "".join(f"[{part}]" for part in path)


class _Expander:
    def __init__(self, expression: str, patterns: Mapping[str, str], complement_sets: bool = True) -> None:
        self.expression = expression
        self.complement_sets = complement_sets
        self.patterns = patterns
        self.captures: list[Capture] = []
        self.named_groups: dict[str, str] = {}  # inline group name -> internal name of its latest group

    def new_capture(self, field: str, convert: str | None) -> str:
        group = f"_g{len(self.captures)}"
        path = field_path(field)
        self.captures.append(Capture(group, field_reference(path), path, convert))
        self.named_groups[field] = group
        return group

    def expand(self, text: str, stack: tuple[str, ...]) -> str:
        out: list[str] = []
        # Per open group: where it starts in `out` and how many scoped-flag groups to close with it.
        groups: list[list[int]] = []
        scoped_here = 0  # scoped-flag groups opened at the top level of this text
        atom: int | None = None  # where in `out` the last atom starts (what a quantifier applies to)
        quantified: str | None = None  # that atom's quantifier so far: None, "plain" (*+?) or "brace" ({m,n})
        modified = False  # ... already followed by a lazy `?` or a possessive `+`
        i, n = 0, len(text)
        while i < n:
            c = text[i]
            brace = _BRACE_QUANTIFIER.match(text, i) if c == "{" else None
            if c in "*+?" or brace:
                end = brace.end() if brace else i + 1
                if atom is not None and quantified is not None:
                    if not modified and (c == "?" or (c == "+" and quantified == "plain")):
                        out.append(c)  # lazy / possessive, the same in Ruby and Python
                        modified = True
                        i = end
                        continue
                    out.insert(atom, "(?:")  # a repeat of the repeat, as Onigmo reads it
                    out.append(")")
                out.append(text[i:end])
                quantified = "brace" if brace else "plain"
                modified = False
                i = end
                continue
            start = len(out)
            quantified, modified = None, False
            if c == "\\":
                i = self._escape(text, i, out)
            elif c == "[":
                i = self._char_class(text, i, out)
            elif c == "%" and (ref := _REFERENCE.match(text, i)):
                out.append(self._reference(ref, stack))
                i = ref.end()
            elif c == "(":
                i, kind = self._group(text, i, out)
                if kind == "open":
                    groups.append([start, 0])
                    atom = None
                    continue
                if kind == "none":
                    continue
                if kind == "flags":
                    if groups:
                        groups[-1][1] += 1
                    else:
                        scoped_here += 1
                    atom = None
                    continue
            elif c == ")" and groups:
                opened, scoped = groups.pop()
                out.append(")" * (scoped + 1))
                atom = opened
                i += 1
                continue
            else:
                out.append(c)
                i += 1
                if c == "|":
                    atom = None
                    continue
            atom = start
        out.append(")" * (scoped_here + sum(scoped for _, scoped in groups)))
        return "".join(out)

    def _reference(self, ref: re.Match[str], stack: tuple[str, ...]) -> str:
        name, field, convert = ref.group("name"), ref.group("field"), ref.group("type")
        if name in stack:
            cycle = " -> ".join((*stack[stack.index(name) :], name))
            raise GrokError(
                f"recursive pattern definition: %{{{name}}} refers to itself ({cycle}) "
                f"in expression {self.expression!r}"
            )
        definition = self.patterns.get(name)
        if definition is None:
            where = f" (used by %{{{stack[-1]}}})" if stack else ""
            raise GrokError(f"unknown pattern %{{{name}}}{where} in expression {self.expression!r}")
        if convert is not None:
            convert = convert.strip().lower()
            # Logstash knows int and float; any other type leaves the text as it is.
            convert = convert if convert in _CONVERTERS else None
        if field:
            group = self.new_capture(field, convert)  # numbered before the groups inside it
            return f"(?P<{group}>{self.expand(definition, (*stack, name))})"
        return f"(?:{self.expand(definition, (*stack, name))})"

    def _group(self, text: str, i: int, out: list[str]) -> tuple[int, str]:
        """Translate the group opening at `i`; returns where to go on and what it was: "open" (a group that a
        `)` closes later), "flags" (Ruby's `(?i)`, now an open scoped group) or "atom" (complete already)."""
        if text.startswith("(?P<", i) or (text.startswith("(?<", i) and text[i + 3 : i + 4] not in ("=", "!")):
            start = i + (4 if text[i + 2] == "P" else 3)
            return self._named_group(text, start, ">", out), "open"
        if text.startswith("(?'", i):
            return self._named_group(text, i + 3, "'", out), "open"
        if text.startswith("(?P=", i):
            end = text.find(")", i)
            if end < 0:
                out.append(text[i:])
                return len(text), "atom"
            out.append(f"(?P={self._backreference(text[i + 4 : end])})")
            return end + 1, "atom"
        if text.startswith("(?#", i):  # comment
            end = text.find(")", i)
            return (len(text) if end < 0 else end + 1), "none"
        if (options := _RUBY_OPTIONS.match(text, i)) is not None:
            on, off = (_python_options(part) for part in (options.group("on"), options.group("off") or ""))
            out.append("(?" + on + (f"-{off}" if off else "") + ":")
            return options.end(), "flags" if options.group("close") == ")" else "open"
        if text.startswith("(?", i):
            out.append("(?")
            return i + 2, "open"
        if text.startswith("(*", i):  # not a group: let the regex compiler report it
            out.append("(")
            return i + 1, "open"
        out.append("(?:")
        return i + 1, "open"

    def _named_group(self, text: str, start: int, close: str, out: list[str]) -> int:
        found = _GROUP_NAME.match(text, start)
        assert found is not None  # the pattern matches the empty string too
        name = found.group()
        if start + len(name) >= len(text) or text[start + len(name)] != close or not name:
            raise GrokError(
                f"malformed named group at {text[start - 3 : start + len(name) + 1]!r} "
                f"in expression {self.expression!r}"
            )
        out.append(f"(?P<{self.new_capture(name, None)}>")
        return start + len(name) + 1

    def _backreference(self, name: str) -> str:
        group = self.named_groups.get(name)
        if group is None:
            raise GrokError(f"backreference to unknown group {name!r} in expression {self.expression!r}")
        return group

    def _escape(self, text: str, i: int, out: list[str]) -> int:
        nxt = text[i + 1 : i + 2]
        if nxt == "z":
            out.append(r"\Z")
        elif nxt == "Z":
            out.append(r"(?=\n?\Z)")
        elif nxt == "h":
            out.append("[0-9A-Fa-f]")
        elif nxt == "H":
            out.append("[^0-9A-Fa-f]")
        elif nxt == "k" and text[i + 2 : i + 3] == "<" and (end := text.find(">", i)) > 0:
            out.append(f"(?P={self._backreference(text[i + 3 : end])})")
            return end + 1
        elif nxt == "x" and (braced := _HEX_BRACED.match(text, i)):
            out.append(f"\\U{int(braced.group(1), 16):08x}")
            return braced.end()
        else:
            out.append(text[i : i + 2])
        return i + 2

    def _char_class(self, text: str, i: int, out: list[str]) -> int:
        if self.complement_sets and (simple := _NEGATED_LITERALS.match(text, i)):
            chars = {ch[-1] for ch in _CLASS_ITEM.findall(simple.group(1))}
            if len(chars) > 1:
                out.append(_positive_complement(chars))
                return simple.end()
        n = len(text)
        j = i + 1
        out.append("[")
        if j < n and text[j] == "^":
            out.append("^")
            j += 1
        if j < n and text[j] == "]":  # a leading `]` is literal
            out.append(r"\]")
            j += 1
        while j < n:
            c = text[j]
            if c == "]":
                out.append("]")
                return j + 1
            if c == "\\":
                nxt = text[j + 1 : j + 2]
                if nxt == "h":
                    out.append("0-9A-Fa-f")
                else:
                    out.append(text[j : j + 2])
                j += 2
            elif c == "[":
                end = text.find(":]", j + 2) if text.startswith("[:", j) else -1
                posix = _POSIX_CLASSES.get(text[j + 2 : end]) if end > 0 else None
                if posix is not None:
                    out.append(posix)
                    j = end + 2
                elif (
                    text.startswith("[[:", j)
                    and (end := text.find(":]]", j)) > 0
                    and text[j + 3 : end] in _POSIX_CLASSES
                ):
                    out.append(_POSIX_CLASSES[text[j + 3 : end]])  # Oniguruma nested set `[[:alnum:]]`
                    j = end + 3
                else:
                    out.append(r"\[")
                    j += 1
            else:
                out.append(c)
                j += 1
        return n  # unterminated class: the regex compiler reports it


def expand(expression: str, patterns: Mapping[str, str]) -> Expansion:
    """Expand one grok expression against a pattern library; raises GrokError for unknown/recursive patterns."""
    expander = _Expander(expression, patterns)
    regex = expander.expand(expression, ())
    if _INLINE_IGNORECASE.search(regex):  # complements are case-sensitive: keep the classes as written
        expander = _Expander(expression, patterns, complement_sets=False)
        regex = expander.expand(expression, ())
    return Expansion(expression, GLOBAL_OPTIONS + regex, tuple(expander.captures))
