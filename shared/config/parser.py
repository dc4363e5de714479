"""Settings of the parser: the filter chain (grok, dissect, kv, json, date, mutate, drop, and the enrichment
filters of ``plugin_filters``)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from streamstash import names
from streamstash.config.base import StrictModel
from streamstash.config.common import BatchSettings
from streamstash.config.filter_common import CommonFilterOptions
from streamstash.config.plugin_filters import (
    CsvFilter,
    FingerprintFilter,
    GeoipFilter,
    SyslogPriFilter,
    TranslateFilter,
    UrldecodeFilter,
    UseragentFilter,
)
from streamstash.events.conditions import ConditionError, compile_condition
from streamstash.events.dissect import DissectPatternError, compile_dissect
from streamstash.events.timeformats import FormatError, make_parser, zone_named


class GrokFilter(CommonFilterOptions):
    """Match fields against Logstash grok patterns; the named captures become fields."""

    match: dict[str, list[str]] = Field(
        description="Field -> patterns tried in order.", examples=[{"message": ["%{COMBINEDAPACHELOG}"]}]
    )
    pattern_definitions: dict[str, str] = Field(
        default_factory=dict, description="Extra named patterns.", examples=[{"TASK": r"\w+:\w+"}]
    )
    patterns_dir: list[str] = Field(
        default_factory=list,
        description="Pattern files: a directory (its files that match `patterns_files_glob`), a file or a glob; "
        "a path that finds nothing is ignored with a warning, as in Logstash.",
        examples=[["/etc/streamstash/patterns"]],
    )
    patterns_files_glob: str = Field(
        "*", description="Which files of a `patterns_dir` directory are read.", examples=["*.grok"]
    )
    break_on_match: bool = Field(True, description="Stop at the first pattern that matches.", examples=[False])
    overwrite: list[str] | None = Field(
        None,
        description="Unset: captures replace the fields they name. A list (Logstash's `overwrite`, which "
        "`import-logstash` always sets): only the fields listed are replaced; a capture into a field that already "
        "holds text makes it an array of both, into an array appends, and into a value of another type is left out.",
        examples=[["message"]],
    )
    tag_on_failure: list[str] = Field(
        [names.TAG_GROK_FAILURE], description="Tags added when nothing matches.", examples=[["_grokparsefailure"]]
    )
    timeout_ms: float = Field(
        1000.0, gt=0, description="Time budget per event; past it the event is tagged `_groktimeout`.", examples=[250]
    )
    dead_letter_on_failure: bool = Field(
        True,
        description="Send events that no pattern matched to the DLQ instead of the parsed topic.",
        examples=[False],
    )

    @field_validator("match", mode="before")
    @classmethod
    def _one_pattern_is_a_list(cls, value: object) -> object:
        if isinstance(value, dict):
            return {key: [item] if isinstance(item, str) else item for key, item in value.items()}
        return value


class DateFilter(CommonFilterOptions):
    """Parse a field with the first format that fits into `@timestamp` (or `target`)."""

    match: list[str] = Field(
        min_length=2,
        description="The field, then one or more formats tried in order: ISO8601, UNIX, UNIX_MS, "
        "TAI64N, HTTPDATE, a Joda-style pattern (`dd/MMM/yyyy:HH:mm:ss Z`, `MMM  d HH:mm:ss`, "
        "`yyyy-MM-dd HH:mm:ss,SSS`; quote literal letters: `yyyy-MM-dd'T'HH:mm`) or, if it contains `%`, a "
        "Python strptime format (`%d/%b/%Y:%H:%M:%S %z`). Formats without a year take the current one (but a "
        "December stamp read in January last year's, as in Logstash).",
        examples=[["timestamp", "dd/MMM/yyyy:HH:mm:ss Z"]],
    )
    target: str = Field(
        names.FIELD_TIMESTAMP,
        description="Field that receives the parsed time (UTC, ISO 8601, milliseconds).",
        examples=["@timestamp"],
    )
    timezone: str = Field(
        "UTC",
        description="Zone for stamps without an offset: an IANA id or a fixed offset.",
        examples=["Europe/Berlin"],
    )
    tag_on_failure: list[str] = Field(
        [names.TAG_DATE_FAILURE], description="Tags added when no format matches.", examples=[["_dateparsefailure"]]
    )

    @model_validator(mode="after")
    def _formats_and_zone_are_usable(self) -> DateFilter:
        try:
            zone = zone_named(self.timezone)
            for fmt in self.match[1:]:
                make_parser(fmt, zone)
        except FormatError as exc:
            raise ValueError(str(exc)) from exc
        return self


class MutateFilter(CommonFilterOptions):
    """Change fields; the operations run in Logstash's fixed order, whatever order the file lists them in.

    The order: coerce, rename, update, replace, convert, gsub, uppercase, capitalize, lowercase, strip, split,
    join, merge, copy, then add_field, remove_field, add_tag, remove_tag.
    """

    coerce: dict[str, str] = Field(
        default_factory=dict,
        description="Field -> value set when the field exists but is null.",
        examples=[{"level": "info"}],
    )
    rename: dict[str, str] = Field(
        default_factory=dict, description="Old field -> new field.", examples=[{"host": "hostname"}]
    )
    update: dict[str, str] = Field(
        default_factory=dict,
        description="Field -> new value template; only if the field exists.",
        examples=[{"message": "%{verb} %{request}"}],
    )
    replace: dict[str, str] = Field(
        default_factory=dict,
        description="Field -> new value template; the field is created if missing.",
        examples=[{"message": "%{verb} %{request}"}],
    )
    convert: dict[str, Literal["integer", "int", "integer_eu", "float", "float_eu", "boolean", "string"]] = Field(
        default_factory=dict,
        description="Field -> type (lists convert item by item); values that do not "
        "convert are left as they are. `integer_eu`/`float_eu` read `1.234,5`.",
        examples=[{"response": "integer", "bytes": "integer"}],
    )
    gsub: list[tuple[str, str, str]] = Field(
        default_factory=list,
        description="[field, regex, replacement] triples (flat list as in Logstash also accepted).",
        examples=[[["path", "/", "_"]]],
    )
    uppercase: list[str] = Field(default_factory=list, description="Fields to uppercase.", examples=[["level"]])
    capitalize: list[str] = Field(default_factory=list, description="Fields to capitalize.", examples=[["name"]])
    lowercase: list[str] = Field(default_factory=list, description="Fields to lowercase.", examples=[["verb"]])
    strip: list[str] = Field(
        default_factory=list, description="Fields to strip of surrounding whitespace.", examples=[["user"]]
    )
    split: dict[str, str] = Field(
        default_factory=dict, description="Field -> separator: text becomes a list.", examples=[{"roles": ","}]
    )
    join: dict[str, str] = Field(
        default_factory=dict, description="Field -> separator: a list becomes text.", examples=[{"roles": ","}]
    )
    merge: dict[str, str] = Field(
        default_factory=dict,
        description="Destination -> added field: lists are concatenated, a single value becomes a list.",
        examples=[{"tags": "labels"}],
    )
    copy_: dict[str, str] = Field(
        default_factory=dict,
        alias="copy",
        description="Existing field -> destination (overwritten).",
        examples=[{"message": "original"}],
    )

    @field_validator("gsub", mode="before")
    @classmethod
    def _flat_gsub(cls, value: object) -> object:
        """Logstash writes gsub as one flat list: [field, regex, replacement, field, regex, ...]."""
        if isinstance(value, list) and value and all(isinstance(item, str) for item in value):
            if len(value) % 3:
                raise ValueError("gsub takes triples: field, regex, replacement")
            return [tuple(value[index : index + 3]) for index in range(0, len(value), 3)]
        return value

    @field_validator("gsub")
    @classmethod
    def _gsub_regexes_compile(cls, value: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
        for field, pattern, _ in value:
            _check_regex(pattern, f"gsub on {field!r}")
        return value


class DropFilter(StrictModel):
    """Drop the event (counted as dropped, never silent); usually guarded by `if`."""

    percentage: float = Field(
        100.0,
        gt=0,
        le=100,
        description="Share of the events reaching the filter that are "
        "dropped, chosen at random (Logstash's `percentage`).",
        examples=[40],
    )


class JsonFilter(CommonFilterOptions):
    """Parse a field holding JSON into the event (or into `target`)."""

    source: str = Field(names.FIELD_MESSAGE, description="Field holding the JSON text.", examples=["payload"])
    target: str | None = Field(
        None,
        description="Field that receives the parsed value. Unset: the keys of a "
        "JSON object go to the top level (other JSON values are a failure).",
        examples=["doc"],
    )
    skip_on_invalid_json: bool = Field(
        False, description="Leave text that is not JSON alone, untagged.", examples=[True]
    )
    tag_on_failure: list[str] = Field(
        [names.TAG_JSON_FAILURE],
        description="Tags added when the text is not usable JSON.",
        examples=[["_jsonparsefailure"]],
    )
    max_depth: int = Field(
        20,
        ge=1,
        le=1000,
        description="Deepest nesting of objects and arrays accepted; deeper "
        "documents are tagged `_jsontoodeep` and not merged (Elasticsearch rejects mappings "
        "deeper than 20 by default).",
        examples=[10],
    )
    max_bytes: int = Field(
        1024 * 1024,
        ge=1,
        description="Longest JSON text (UTF-8 bytes) parsed; longer text is tagged `_jsontoolarge` and not parsed.",
        examples=[65536],
    )
    dead_letter_on_failure: bool = Field(
        False,
        description="Send events whose JSON failed to the DLQ instead of passing them on tagged.",
        examples=[True],
    )


class KvFilter(CommonFilterOptions):
    """Split `key=value` pairs out of a field, as Logstash's kv filter does."""

    source: str = Field(names.FIELD_MESSAGE, description="Field holding the pairs.", examples=["query"])
    target: str | None = Field(
        None, description="Field that receives the pairs as an object. Unset: top level.", examples=["params"]
    )
    field_split: str = Field(
        " ",
        min_length=1,
        description="Characters that separate pairs, each one a "
        "separator (a regex character class, as in Logstash: escape `]` and `\\`).",
        examples=["&?"],
    )
    value_split: str = Field(
        "=",
        min_length=1,
        description="Characters that separate a key from its value (a character class like `field_split`).",
        examples=[":"],
    )
    field_split_pattern: str | None = Field(
        None, description="Regex separating pairs; overrides `field_split`.", examples=[r"\s*,\s*"]
    )
    value_split_pattern: str | None = Field(
        None, description="Regex separating key and value; overrides `value_split`.", examples=[r"\s*:\s*"]
    )
    include_keys: list[str] = Field(
        default_factory=list,
        description="Only these keys (before `prefix`); empty: all.",
        examples=[["user", "status"]],
    )
    exclude_keys: list[str] = Field(
        default_factory=list, description="Keys to leave out (before `prefix`).", examples=[["password"]]
    )
    prefix: str = Field("", description="Prepended to every key.", examples=["kv_"])
    trim_key: str = Field("", description="Characters trimmed from both ends of keys.", examples=[" \t"])
    trim_value: str = Field("", description="Characters trimmed from both ends of values.", examples=["<>,"])
    remove_char_key: str = Field("", description="Characters removed anywhere in keys.", examples=["<>[]"])
    remove_char_value: str = Field("", description="Characters removed anywhere in values.", examples=["<>[]"])
    include_brackets: bool = Field(
        True, description="A value wrapped in (), [] or <> is taken whole, without the brackets.", examples=[False]
    )
    allow_duplicate_values: bool = Field(
        True,
        description="A repeated key collects all its values in a list; false keeps only distinct values.",
        examples=[False],
    )
    default_keys: dict[str, str] = Field(
        default_factory=dict, description="Keys set when the text lacks them.", examples=[{"status": "unknown"}]
    )
    transform_key: Literal["lowercase", "uppercase", "capitalize"] | None = Field(
        None, description="Change the case of keys.", examples=["lowercase"]
    )
    transform_value: Literal["lowercase", "uppercase", "capitalize"] | None = Field(
        None, description="Change the case of values.", examples=["lowercase"]
    )
    whitespace: Literal["lenient", "strict"] = Field(
        "lenient", description="`lenient` allows spaces around the value separator (`a = 1`).", examples=["strict"]
    )

    @field_validator("field_split_pattern", "value_split_pattern")
    @classmethod
    def _pattern_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            _check_regex(value, "kv split pattern")
        return value

    @field_validator("field_split", "value_split", "trim_key", "trim_value", "remove_char_key", "remove_char_value")
    @classmethod
    def _character_class_compiles(cls, value: str) -> str:
        """Like Logstash these are regex character classes: `]`, `\\` and `^` need a backslash."""
        if value:
            _check_regex(f"[{value}]", f"kv character set {value!r}")
        return value


class DissectFilter(CommonFilterOptions):
    """Split a field by delimiters (`%{a} %{b} [%{ts}]`), faster and simpler than grok."""

    mapping: dict[str, str] = Field(
        default_factory=dict,
        description="Field -> dissect pattern. `%{name}` captures, `%{}`/`%{?name}` skips, "
        "`%{+name}` appends (`%{+name/2}` in that order), `%{?key}=%{&key}` uses one capture as the key of another, "
        "`%{name->}` skips repeated delimiters after it.",
        examples=[{"message": "%{ts} %{+ts} %{level->} [%{thread}] %{msg}"}],
    )
    append_separator: str = Field(" ", description="Put between appended (`%{+name}`) values.", examples=["T"])
    convert_datatype: dict[str, Literal["int", "float"]] = Field(
        default_factory=dict,
        description="Field -> type after dissecting; values that do not convert are left as text.",
        examples=[{"status": "int"}],
    )
    tag_on_failure: list[str] = Field(
        [names.TAG_DISSECT_FAILURE],
        description="Tags added when a pattern does not fit.",
        examples=[["_dissectfailure"]],
    )
    dead_letter_on_failure: bool = Field(
        True,
        description="Send events a pattern did not fit to the DLQ (as grok does) instead of passing them on tagged.",
        examples=[False],
    )

    @field_validator("mapping")
    @classmethod
    def _patterns_compile(cls, value: dict[str, str]) -> dict[str, str]:
        for field, pattern in value.items():
            try:
                compile_dissect(pattern)
            except DissectPatternError as exc:
                raise ValueError(f"mapping of {field!r}: {exc}") from exc
        return value


def _check_regex(pattern: str, what: str) -> None:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"{what}: invalid regex {pattern!r}: {exc}") from exc


class FilterEntry(StrictModel):
    """One step of the chain: exactly one filter key, optionally guarded by `if`."""

    grok: GrokFilter | None = Field(None, description="Grok: named regex patterns -> fields.")
    dissect: DissectFilter | None = Field(None, description="Dissect: delimiter-based splitting -> fields.")
    kv: KvFilter | None = Field(None, description="Kv: `key=value` pairs -> fields.")
    # `json` (and mutate's `copy`) would shadow pydantic methods, hence the trailing underscore and alias.
    json_: JsonFilter | None = Field(
        None,
        alias="json",
        description="Json: a JSON text -> fields.",
        examples=[{"source": "message", "remove_field": ["message"]}],
    )
    date: DateFilter | None = Field(None, description="Date: a time field -> `@timestamp`.")
    mutate: MutateFilter | None = Field(None, description="Mutate: rename, convert, replace, remove... fields.")
    drop: DropFilter | None = Field(
        None, description="Drop: discard the event (use `{}` for every event that reaches it)."
    )
    geoip: GeoipFilter | None = Field(None, description="Geoip: an IP address -> its location (MaxMind DB).")
    useragent: UseragentFilter | None = Field(None, description="Useragent: a User-Agent -> browser, OS, device.")
    translate: TranslateFilter | None = Field(None, description="Translate: a value -> the one a dictionary gives.")
    csv: CsvFilter | None = Field(None, description="Csv: separated values -> named fields.")
    fingerprint: FingerprintFilter | None = Field(None, description="Fingerprint: fields -> a hash.")
    urldecode: UrldecodeFilter | None = Field(None, description="Urldecode: `%XX` escapes -> text.")
    syslog_pri: SyslogPriFilter | None = Field(
        None, description="Syslog_pri: a syslog priority -> facility and severity."
    )
    condition: str | None = Field(
        None,
        alias="if",
        description="Run the filter only when this Logstash-style "
        "condition holds: `==`, `!=`, `<`, `>`, `<=`, `>=`, `=~ /re/`, `!~`, `in`, "
        "`not in`, `and`, `or`, `xor`, `nand`, `!`, parentheses.",
        examples=['[status] >= 500 and "web" in [tags]'],
    )

    @field_validator("condition")
    @classmethod
    def _condition_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                compile_condition(value)
            except ConditionError as exc:
                raise ValueError(str(exc)) from exc
        return value

    @model_validator(mode="before")
    @classmethod
    def _bare_key_means_defaults(cls, value: object) -> object:
        """`- drop:` or `- json:` in YAML is null; read it as "this filter with its defaults"."""
        if isinstance(value, dict):
            filters = set(cls.filter_names())
            return {key: {} if key in filters and item is None else item for key, item in value.items()}
        return value

    @model_validator(mode="after")
    def _exactly_one_filter(self) -> FilterEntry:
        chosen = [name for name in self.filter_names() if getattr(self, self._field_of(name)) is not None]
        if len(chosen) != 1:
            raise ValueError(f"a filter entry takes exactly one of {self.filter_names()}, got {chosen or 'none'}")
        return self

    @classmethod
    def filter_names(cls) -> list[str]:
        """The filter kinds, as written in the pipeline file."""
        return [info.alias or name for name, info in cls.model_fields.items() if name != "condition"]

    @classmethod
    def _field_of(cls, kind: str) -> str:
        return next(name for name, info in cls.model_fields.items() if (info.alias or name) == kind)

    @property
    def kind(self) -> str:
        return next(name for name in self.filter_names() if getattr(self, self._field_of(name)) is not None)

    @property
    def settings(self) -> StrictModel:
        return getattr(self, self._field_of(self.kind))


class ParserSettings(StrictModel):
    """Tuning of the parser service."""

    batch: BatchSettings = Field(default_factory=BatchSettings, description="Bounds of the records it produces.")
    input_fields: bool = Field(
        True,
        description="Filters, conditions, aggregations and index names see the fields a Logstash input sets "
        "(`host`, `path`, `port`; `[host][name]`, `[log][file][path]`, ... with `ecs_compatibility: v8`), taken "
        "from `source`; they are stored only when a filter changes them. False: only `source`.",
        examples=[False],
    )
    stop_offsets: dict[int, int] | None = Field(
        None,
        description="Raw-topic partition -> offset where parsing stops (exclusive); set by `streamstash "
        "replay --to`, records at or past it are left alone.",
        examples=[{0: 1500, 1: 1720}],
    )
