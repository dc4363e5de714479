"""Settings of the parser: the filter chain (grok, date, ...)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from streamstash import names
from streamstash.config.base import StrictModel
from streamstash.config.common import BatchSettings


class GrokFilter(StrictModel):
    match: dict[str, list[str]] = Field(
        description="Field -> patterns tried in order.", examples=[{"message": ["%{COMBINEDAPACHELOG}"]}]
    )
    pattern_definitions: dict[str, str] = Field(default_factory=dict, description="Extra named patterns.",
                                                examples=[{"TASK": r"\w+:\w+"}])
    patterns_dir: list[str] = Field(default_factory=list, description="Directories of pattern files.",
                                    examples=[["/etc/streamstash/patterns"]])
    break_on_match: bool = Field(True, description="Stop at the first pattern that matches.", examples=[False])
    tag_on_failure: list[str] = Field([names.TAG_GROK_FAILURE], description="Tags added when nothing matches.",
                                      examples=[["_grokparsefailure"]])
    timeout_ms: float = Field(1000.0, gt=0, description="Time budget per event; past it the event is tagged "
                              "`_groktimeout`.", examples=[250])
    dead_letter_on_failure: bool = Field(
        True, description="Send events that no pattern matched to the DLQ instead of the parsed topic.",
        examples=[False],
    )

    @field_validator("match", mode="before")
    @classmethod
    def _one_pattern_is_a_list(cls, value: object) -> object:
        if isinstance(value, dict):
            return {key: [item] if isinstance(item, str) else item for key, item in value.items()}
        return value


class DateFilter(StrictModel):
    match: list[str] = Field(min_length=2, description="The field, then one or more formats (ISO8601, UNIX, "
                             "UNIX_MS, HTTPDATE, Joda-style like `dd/MMM/yyyy:HH:mm:ss Z`).",
                             examples=[["timestamp", "dd/MMM/yyyy:HH:mm:ss Z"]])
    target: str = Field(names.FIELD_TIMESTAMP, description="Field that receives the parsed time.",
                        examples=["@timestamp"])
    timezone: str = Field("UTC", description="Zone for formats without an offset.", examples=["Europe/Berlin"])
    tag_on_failure: list[str] = Field([names.TAG_DATE_FAILURE], description="Tags added when no format matches.",
                                      examples=[["_dateparsefailure"]])


class MutateFilter(StrictModel):
    """Applied in Logstash's order: rename, convert, gsub, lowercase, uppercase, add_field, remove_field, tags."""

    rename: dict[str, str] = Field(default_factory=dict, description="Old field -> new field.",
                                   examples=[{"host": "hostname"}])
    convert: dict[str, Literal["integer", "int", "float", "boolean", "string"]] = Field(
        default_factory=dict, description="Field -> type; values that do not convert are left as they are.",
        examples=[{"response": "integer", "bytes": "integer"}])
    gsub: list[tuple[str, str, str]] = Field(default_factory=list, description="[field, regex, replacement] "
                                             "triples.", examples=[[["path", "/", "_"]]])
    lowercase: list[str] = Field(default_factory=list, description="Fields to lowercase.", examples=[["verb"]])
    uppercase: list[str] = Field(default_factory=list, description="Fields to uppercase.", examples=[["level"]])
    add_field: dict[str, str] = Field(default_factory=dict, description="Field -> value template (`%{field}`).",
                                      examples=[{"summary": "%{verb} %{request}"}])
    remove_field: list[str] = Field(default_factory=list, description="Fields to remove.",
                                    examples=[["message", "timestamp"]])
    add_tag: list[str] = Field(default_factory=list, description="Tags to add (templates allowed).",
                               examples=[["web"]])
    remove_tag: list[str] = Field(default_factory=list, description="Tags to remove.", examples=[["_debug"]])

    @field_validator("gsub", mode="before")
    @classmethod
    def _flat_gsub(cls, value: object) -> object:
        """Logstash writes gsub as one flat list: [field, regex, replacement, field, regex, ...]."""
        if isinstance(value, list) and value and all(isinstance(item, str) for item in value):
            if len(value) % 3:
                raise ValueError("gsub takes triples: field, regex, replacement")
            return [tuple(value[index:index + 3]) for index in range(0, len(value), 3)]
        return value


class FilterEntry(StrictModel):
    """One step of the chain: exactly one filter key, optionally guarded by `if`."""

    grok: GrokFilter | None = None
    date: DateFilter | None = None
    mutate: MutateFilter | None = None
    condition: str | None = Field(None, alias="if", description="Run the filter only when this holds.",
                                  examples=["[status] >= 500"])

    @model_validator(mode="after")
    def _exactly_one_filter(self) -> FilterEntry:
        chosen = [name for name in self.filter_names() if getattr(self, name) is not None]
        if len(chosen) != 1:
            raise ValueError(f"a filter entry takes exactly one of {self.filter_names()}, got {chosen or 'none'}")
        return self

    @classmethod
    def filter_names(cls) -> list[str]:
        return [name for name in cls.model_fields if name != "condition"]

    @property
    def kind(self) -> str:
        return next(name for name in self.filter_names() if getattr(self, name) is not None)

    @property
    def settings(self) -> StrictModel:
        return getattr(self, self.kind)


class ParserSettings(StrictModel):
    """Tuning of the parser service."""

    batch: BatchSettings = Field(default_factory=BatchSettings, description="Bounds of the records it produces.")
