"""logstash-filter-verifier (LFV) test-case files, run unchanged against a pipeline `import-logstash` wrote.

The format is LFV's "test case file" (README, "Test case file reference"; `internal/testcase/testcase.go`):
a JSON or YAML object with `codec`, `fields`, `ignore` and `testcases`, each test case with `input` (lines),
`expected` (events) and optionally `description` and (daemon mode) its own `fields`. What LFV does and
what is kept here:

* one file is one run: the test cases' lines go through the pipeline in turn, so aggregation state carries
  from one test case to the next as it does in Logstash, and the events of the whole file are compared
  with the expected ones of the whole file; when that fails, each test case is compared with what its
  own lines produced, so a report says which ones fail;
* events are compared as whole events (every field), after `ignore` and `@version` are removed, in any
  order: aggregates are not emitted at the same point of the stream as Logstash's;
* aggregates are compared without streamstash's bookkeeping (`count`, `task_id`, `aggregation`,
  `flush_reason`, `aggregated`, `_aggregate_*` tags) unless the expected event has those fields;
* after the last line, open tasks of aggregations with a timeout are emitted, as Logstash's aggregate
  filter pushes its maps when the pipeline stops;
* `codec`: `line`/`plain` hand each input string (less one trailing newline) over as `message`;
  `json_lines`/`json` decode it into the event (field references in keys expanded) unless the pipeline's
  first filter already decodes `message` (what import-logstash writes for an input's json codec; LFV's
  daemon mode also uses the input's codec); other codecs are refused;
* `input_plugin`, `export_metadata` and `export_outputs` are read but have no effect (one input, no
  `@metadata` in documents, one output); unknown keys are ignored, as LFV's parser does.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from streamstash import names
from streamstash.config import ConfigError, PipelineConfig
from streamstash.config.aggregator import AggregationSpec
from streamstash.config.loader import format_validation_error
from streamstash.config.parser import JsonFilter as JsonSettings
from streamstash.config.testcases import DEFAULT_RECEIVED_AT, expand_references, plain_value, text_lines
from streamstash.events.envelope import Event, Source
from streamstash.events.timeformats import format_iso8601, parse_iso8601
from streamstash.filters import FilterChain
from streamstash.filters.json import JsonFilter
from streamstash.pipetest.compare import Document, compare_documents, render_value
from streamstash.pipetest.results import CaseResult
from streamstash.pipetest.runner import PipelineRun, Produced, make_event

LFV_SUFFIXES = (".json", ".yml", ".yaml")
DEFAULT_IGNORED = ("@version",)  # LFV's own default
TEXT_CODECS = ("line", "plain")
JSON_CODECS = ("json_lines", "json")
BOOKKEEPING = (
    names.FIELD_COUNT,
    names.FIELD_TASK_ID,
    names.FIELD_AGGREGATION,
    names.FIELD_FLUSH_REASON,
    names.FIELD_AGGREGATED,
)
REASON_TAGS = frozenset(
    {
        names.TAG_AGGREGATE_INACTIVITY,
        names.TAG_AGGREGATE_TIMEOUT,
        names.TAG_AGGREGATE_IDLE,
        names.TAG_AGGREGATE_LATE,
    }
)
_CODEC_NAME = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)")
_NO_EFFECT = {
    "input_plugin": "input_plugin has no effect: the lines go through the pipeline's filters whatever input",
    "export_metadata": "export_metadata has no effect: streamstash documents carry no @metadata",
    "export_outputs": "export_outputs has no effect: streamstash has one output",
}


class LfvTestCase(BaseModel):
    model_config = ConfigDict(extra="allow")

    input: list[str] = Field(default_factory=list)
    expected: list[dict[str, Any]] = Field(default_factory=list)
    description: str = ""
    fields: dict[str, Any] = Field(default_factory=dict)

    @field_validator("fields", "expected", mode="before")
    @classmethod
    def _plain(cls, value: Any) -> Any:
        return plain_value(value)

    @field_validator("input", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        return text_lines(value) if isinstance(value, list) else value  # LFV reads each item as a string


class LfvFile(BaseModel):
    """One LFV test-case file (LFV's `TestCaseSet`)."""

    model_config = ConfigDict(extra="allow")

    codec: str = "line"
    fields: dict[str, Any] = Field(default_factory=dict)
    ignore: list[str] = Field(default_factory=list)
    testcases: list[LfvTestCase] = Field(default_factory=list)
    input_plugin: str | None = None
    export_metadata: bool = False
    export_outputs: bool = False

    @field_validator("fields", mode="before")
    @classmethod
    def _plain(cls, value: Any) -> Any:
        if value is None:
            raise ValueError('Fields must not be "null".')  # LFV's own message
        return plain_value(value)

    @field_validator("fields")
    @classmethod
    def _no_objects_in_arrays(cls, value: dict[str, Any]) -> dict[str, Any]:
        _check_field_values(value)
        return value

    @field_validator("codec")
    @classmethod
    def _known_codec(cls, value: str) -> str:
        name = codec_name(value)
        if name not in (*TEXT_CODECS, *JSON_CODECS):
            raise ValueError(
                f"codec {value!r}: only {', '.join((*TEXT_CODECS, *JSON_CODECS))} are supported "
                "(other codecs belong to inputs, which the collector handles)"
            )
        return value

    def notes(self) -> list[str]:
        found = [note for key, note in _NO_EFFECT.items() if key in self.model_fields_set and getattr(self, key)]
        extra = sorted(self.model_extra or {})
        extra += sorted({key for case in self.testcases for key in (case.model_extra or {})})
        if extra:
            found.append(f"unknown keys ignored (as LFV does): {', '.join(extra)}")
        return found


def codec_name(codec: str) -> str:
    """`plain { charset => "ISO-8859-1" }` -> `plain`."""
    match = _CODEC_NAME.match(codec)
    return match.group(1) if match else codec


def _check_field_values(value: Any, inside_array: bool = False) -> None:
    if isinstance(value, dict):
        if inside_array:
            raise ValueError("objects within arrays are not supported in fields (as in LFV)")
        for item in value.values():
            _check_field_values(item)
    elif isinstance(value, list):
        for item in value:
            _check_field_values(item, inside_array=True)


def load_lfv_file(path: Path) -> LfvFile:
    """Read an LFV file; the kind (JSON or YAML) comes from the extension, as in LFV."""
    if path.suffix not in LFV_SUFFIXES:
        raise ConfigError(f"{path}: an LFV test-case file is .json, .yaml or .yml")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text: {exc}") from exc
    try:
        tree: Any = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: not valid {'JSON' if path.suffix == '.json' else 'YAML'}: {exc}") from exc
    if not isinstance(tree, dict):
        raise ConfigError(f"{path}: an LFV test-case file holds one object, got {type(tree).__name__}")
    for legacy in ("input", "expected"):
        if tree.get(legacy):
            raise ConfigError(
                f'{path}: testcase file contained deprecated "{legacy}" key; specify an array of testcase '
                'objects under the "testcases" key instead'
            )
        tree.pop(legacy, None)
    try:
        return LfvFile.model_validate(tree)
    except ValidationError as exc:
        raise ConfigError(f"{path}: invalid LFV test-case file:\n{format_validation_error(exc)}") from exc


def lfv_files(paths: Sequence[Path]) -> list[Path]:
    """The files named, and the .json/.yaml/.yml files in the directories named (not recursive, as in LFV)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(item for item in path.iterdir() if item.is_file() and item.suffix in LFV_SUFFIXES))
        else:
            found.append(path)
    return found


def pipeline_decodes_json(config: PipelineConfig) -> bool:
    """The chain starts with an unconditional json filter on `message`: the input's json codec, translated."""
    if not config.filters:
        return False
    first = config.filters[0]
    settings = first.settings
    return (
        first.kind == "json"
        and first.condition is None
        and isinstance(settings, JsonSettings)
        and settings.source == names.FIELD_MESSAGE
        and settings.target is None
    )


def has_timeout(spec: AggregationSpec) -> bool:
    """Aggregations that push their maps (import-logstash gives them a timeout): Logstash pushes them at shutdown."""
    return spec.flush.total_timeout is not None or spec.flush.inactivity_timeout is not None


class _Codec:
    """An LFV input string -> the working dict of the event the input's codec would make of it."""

    def __init__(self, codec: str, pipeline_decodes: bool, clock: str) -> None:
        self.decode = codec_name(codec) in JSON_CODECS and not pipeline_decodes
        self.clock = clock
        self.json = JsonFilter(JsonSettings())

    def event(self, line: str | None, fields: dict[str, Any]) -> dict[str, Any]:
        doc: dict[str, Any] = {**fields, names.FIELD_TIMESTAMP: self.clock}
        if line is None:  # a test case without input: one event with only the fields (LFV's dummy event)
            return doc
        if not self.decode:
            doc[names.FIELD_MESSAGE] = line.removesuffix("\n")
            return doc
        try:
            parsed = orjson.loads(line)
        except orjson.JSONDecodeError:
            parsed = None
        doc[names.FIELD_MESSAGE] = (
            line if not isinstance(parsed, dict) else orjson.dumps(expand_references(parsed)).decode()
        )
        self.json.apply(doc)  # Logstash's json codec: the object's keys, or the line tagged _jsonparsefailure
        if isinstance(parsed, dict) and names.FIELD_MESSAGE not in parsed:
            doc.pop(names.FIELD_MESSAGE, None)
        return doc


def run_lfv_file(
    config: PipelineConfig,
    path: Path,
    lfv: LfvFile,
    suite: str | None = None,
    ignore: Sequence[str] = (),
    received_at: str = DEFAULT_RECEIVED_AT,
    chain: FilterChain | None = None,
) -> list[CaseResult]:
    """Every test case of one LFV file, in one run; one result per test case. ``ignore``: on top of the file's;
    ``received_at``: the run's clock (LFV has none: Logstash stamps lines with the time it reads them)."""
    suite = suite or str(path)
    if not lfv.testcases:
        return [CaseResult(suite=suite, name="(file)", error="the file has no testcases")]
    clock = parse_iso8601(received_at)
    if clock is None:
        raise ValueError(f"not an ISO 8601 time: {received_at!r}")
    codec = _Codec(lfv.codec, pipeline_decodes_json(config), format_iso8601(clock))
    notes = lfv.notes()
    results = [
        CaseResult(suite=suite, name=f"testcases[{index}]", description=case.description, notes=list(notes))
        for index, case in enumerate(lfv.testcases)
    ]
    try:
        run = PipelineRun(config, clock, seed=path.name, chain=chain)
        segments: list[Produced] = []
        for case in lfv.testcases:
            fields = expand_references({**lfv.fields, **case.fields})
            lines: list[str | None] = list(case.input) or [None]
            events: list[Event] = [
                make_event(codec.event(line, fields), Source(kind=names.SOURCE_STDIN)) for line in lines
            ]
            segments.append(run.feed(events))
        segments[-1].aggregates.extend(run.finish(has_timeout))
    except Exception as exc:  # noqa: BLE001 - reported as the file's error, the other files still run
        message = str(exc) if isinstance(exc, ValueError) else f"{type(exc).__name__}: {exc}"
        for result in results:
            result.error = message
        return results
    ignore = [*DEFAULT_IGNORED, *lfv.ignore, *ignore]
    expected = [[expand_references(item) for item in case.expected] for case in lfv.testcases]
    if _compare([item for items in expected for item in items], _Actual.of(segments), ignore) is None and not any(
        segment.dead_letters for segment in segments
    ):
        return results
    for result, wanted, segment in zip(results, expected, segments, strict=True):
        result.problems = [*(_compare(wanted, _Actual.of([segment]), ignore) or []), *_dead_letter_problems(segment)]
    return results


class _Actual:
    """The events an LFV run emitted (documents, then aggregates), knowing which are aggregates."""

    def __init__(self, documents: list[Document], aggregates: list[Document]) -> None:
        self.events = [*documents, *aggregates]
        self.first_aggregate = len(documents)

    @classmethod
    def of(cls, segments: Sequence[Produced]) -> _Actual:
        return cls(
            [item for segment in segments for item in segment.documents],
            [item for segment in segments for item in segment.aggregates],
        )

    def prepare(self, index: int, got: Document, expected: Document) -> Document:
        return got if index < self.first_aggregate else without_bookkeeping(got, expected)


def _compare(expected: list[Document], actual: _Actual, ignore: Sequence[str]) -> list[str] | None:
    """None when the events match, else what differs."""
    comparison = compare_documents(
        "events", expected, actual.events, "all", ignore, ordered=False, prepare=actual.prepare
    )
    return None if comparison.passed else comparison.problems


def _dead_letter_problems(segment: Produced) -> list[str]:
    return [
        f"an event went to the dead-letter queue, not to the output ({letter['reason']}): "
        f"{render_value(letter['event'])}"
        for letter in segment.dead_letters
    ]


def without_bookkeeping(aggregate: Document, like: Document) -> Document:
    """The aggregate without the fields and tags streamstash adds, unless ``like`` (the expected event) has them."""
    document = {key: value for key, value in aggregate.items() if key not in BOOKKEEPING or key in like}
    tags = document.get(names.FIELD_TAGS)
    if isinstance(tags, list):
        wanted = like.get(names.FIELD_TAGS)
        wanted_tags = wanted if isinstance(wanted, list) else []
        kept = [tag for tag in tags if tag not in REASON_TAGS or tag in wanted_tags]
        if kept:
            document[names.FIELD_TAGS] = kept
        else:
            document.pop(names.FIELD_TAGS)
    return document
