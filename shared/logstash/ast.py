"""The syntax tree of a Logstash pipeline file, with the line of everything a report may point at.

Values keep Logstash's own types: text (`str`), barewords (:class:`Bareword`, a `str`), numbers,
lists, hashes (:class:`HashValue`, a dict that remembers each key's line) and plugins used as values
(codecs). `${VAR}` references stay in the text: Logstash resolves them when a plugin starts, and the
translator rewrites them into the pipeline file's own `${VAR:-default}` syntax.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class Bareword(str):
    """An unquoted word (`beginning`, `true`, `json`)."""

    __slots__ = ()


class HashValue(dict[Any, Any]):
    """A `{ key => value }` hash; insertion ordered, keys as written (numbers become text)."""


@dataclass(slots=True)
class Location:
    """Where something is in the file: 1-based line and column, and its text."""

    line: int
    column: int
    end_line: int
    text: str


@dataclass(slots=True)
class Attribute:
    name: str
    value: Any
    location: Location
    value_location: Location


@dataclass(slots=True)
class Plugin:
    """`name { attribute => value ... }` in a section, or as a value (a codec)."""

    name: str
    attributes: list[Attribute]
    location: Location

    def get(self, name: str, default: Any = None) -> Any:
        """The attribute's value; repeated attributes are merged as Logstash merges them."""
        found = [attribute.value for attribute in self.attributes if attribute.name == name]
        if not found:
            return default
        merged = found[0]
        for value in found[1:]:
            if isinstance(merged, dict) and isinstance(value, dict):
                merged = _merge_with_duplicates(merged, value)
            elif isinstance(merged, list):
                merged = [*merged, *(value if isinstance(value, list) else [value])]
            elif merged != value:
                merged = [merged, value]
        return merged

    def attribute(self, name: str) -> Attribute | None:
        return next((attribute for attribute in self.attributes if attribute.name == name), None)


def _merge_with_duplicates(first: dict[str, Any], second: dict[str, Any]) -> HashValue:
    """Logstash's merge of a repeated hash option (LogStash::Util.hash_merge_with_dups): a key in both keeps
    both values, so `match => {"message" => "a"} match => {"message" => "b"}` is both patterns."""
    merged = HashValue(first)
    for key, value in second.items():
        if key not in merged:
            merged[key] = value
            continue
        existing = merged[key]
        if isinstance(existing, dict) and isinstance(value, dict):
            merged[key] = HashValue({**existing, **value})
        elif isinstance(value, list):
            merged[key] = [*(existing if isinstance(existing, list) else [existing]), *value]
        elif isinstance(existing, list):
            merged[key] = existing if value in existing else [*existing, value]
        elif existing != value:
            merged[key] = [existing, value]
    return merged


# ---- conditions -----------------------------------------------------------------------------------------


@dataclass(slots=True)
class Selector:
    """A field reference: `[a]`, `[a][b]` (the text as written)."""

    path: str


@dataclass(slots=True)
class Constant:
    """A string or number in a condition (strings after escape processing, if enabled)."""

    value: str | int | float


@dataclass(slots=True)
class ListLiteral:
    items: list[Any]


@dataclass(slots=True)
class Regex:
    """`/.../` without the slashes, as Logstash keeps it (`\\/` stays escaped)."""

    source: str


@dataclass(slots=True)
class MethodCall:
    name: str
    arguments: list[Any]


RValue = Selector | Constant | ListLiteral | Regex | MethodCall


@dataclass(slots=True)
class BooleanOperation:
    operator: str  # and, or, xor, nand
    left: Condition
    right: Condition


@dataclass(slots=True)
class Negation:
    inner: Condition


@dataclass(slots=True)
class Comparison:
    operator: str
    left: RValue
    right: RValue


@dataclass(slots=True)
class Membership:
    needle: RValue
    haystack: RValue
    negated: bool


@dataclass(slots=True)
class RegexMatch:
    left: RValue
    pattern: Regex | Constant
    negated: bool


@dataclass(slots=True)
class Truthy:
    value: RValue


Condition = BooleanOperation | Negation | Comparison | Membership | RegexMatch | Truthy


# ---- branches and sections ------------------------------------------------------------------------------


@dataclass(slots=True)
class Clause:
    """One arm of a branch: `if c {}` / `else if c {}` (condition set) or `else {}` (condition None)."""

    condition: Condition | None
    body: list[Node]
    location: Location


@dataclass(slots=True)
class Branch:
    clauses: list[Clause]
    location: Location


Node = Plugin | Branch


@dataclass(slots=True)
class Section:
    kind: str  # input, filter, output
    body: list[Node]
    location: Location


@dataclass(slots=True)
class PipelineFile:
    path: str
    text: str
    sections: list[Section] = field(default_factory=list)

    def section(self, kind: str) -> list[Node]:
        """The body of every section of this kind, in order (a file may have several `filter {}`)."""
        return [node for section in self.sections if section.kind == kind for node in section.body]
