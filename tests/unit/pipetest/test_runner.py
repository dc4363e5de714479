"""Cases run through the pipeline's real filter chain and aggregations, the same way on every run."""

from __future__ import annotations

import itertools

import yaml

from streamstash.aggregation.records import partition_for
from streamstash.config import PipelineConfig
from streamstash.config.testcases import PipelineTests
from streamstash.events.envelope import Batch, Event, Source, encode
from streamstash.events.timeformats import parse_iso8601
from streamstash.filters import FilterChain
from streamstash.pipetest.cases import case_events
from streamstash.pipetest.runner import PipelineRun, Produced, dead_letter_document, event_document
from streamstash.services.parser.logic import RecordParser
from tests.unit.pipetest.helpers import GROK_TASKS, pipeline, run_cases

LINES = [
    "2026-11-21T10:00:00.000Z resize:banner elapsed=100",
    "  not a task line ",
    "2026-11-21T10:00:01.000Z encode:avatar elapsed=7",
]
# A filter that changes the line before the grok that fails on it: the dead letter keeps the line as it came.
STRIP_FIRST = "filters:\n  - mutate: {strip: [message], add_tag: [seen]}\n" + GROK_TASKS.replace("filters:\n", "")


def produced_by(config: PipelineConfig, case_yaml: str) -> Produced:
    [case] = PipelineTests.model_validate(yaml.safe_load(case_yaml)).cases
    clock = parse_iso8601(case.received_at)
    assert clock is not None
    return PipelineRun(config, clock, seed=case.name).feed(case_events(config, case))


def test_lines_come_out_as_the_parser_makes_them() -> None:
    config = pipeline(STRIP_FIRST)
    produced = produced_by(config, f"- name: all\n  lines: {LINES!r}\n")

    stamp = "2000-01-01T00:00:00.000Z"
    batch = Batch(events=[Event(message=line, timestamp=stamp, source=Source(kind="file")) for line in LINES])
    parsed = RecordParser(FilterChain(config.filters)).parse_record(encode(batch), "logs.raw", 0, 0)
    assert produced.documents == [event_document(event) for event in parsed.parsed]
    assert produced.dead_letters == [dead_letter_document(letter) for letter in parsed.dead_letters]
    assert len(produced.documents) == 2 and len(produced.dead_letters) == 1
    assert produced.documents[0]["elapsed"] == 100
    assert produced.dead_letters[0]["event"]["message"] == "  not a task line "
    assert produced.dead_letters[0]["event"]["tags"] == ["seen", "_grokparsefailure"]


def test_a_sampling_drop_gives_the_same_result_on_every_run() -> None:
    config = pipeline("filters:\n  - drop: {percentage: 50}\n")
    case = f"- name: sample\n  lines: {[f'line {index}' for index in range(40)]!r}\n"
    runs = [produced_by(config, case) for _ in range(2)]
    assert 0 < runs[0].dropped < 40  # it did sample
    assert runs[0] == runs[1]


def test_received_at_is_the_clock_of_yearless_stamps_and_of_undated_events() -> None:
    config = pipeline("filters:\n  - date: {match: [message, 'MMM dd HH:mm:ss']}\n")
    cases = """
- name: read in 2019
  received_at: 2019-03-01T00:00:00Z
  lines: ["Jun 05 10:00:00"]
  expect: {documents: [{message: "Jun 05 10:00:00", "@timestamp": "2019-06-05T10:00:00.000Z"}]}
- name: the same stamp read in 2022, by the same filters
  received_at: 2022-03-01T00:00:00Z
  lines: ["Jun 05 10:00:00"]
  expect: {documents: [{message: "Jun 05 10:00:00", "@timestamp": "2022-06-05T10:00:00.000Z"}]}
- name: December read in January is last year's
  received_at: 2021-01-02T00:00:00Z
  lines: ["Dec 31 23:00:00"]
  expect: {documents: [{message: "Dec 31 23:00:00", "@timestamp": "2020-12-31T23:00:00.000Z"}]}
- name: no stamp, the time it was read
  received_at: 2021-01-02T03:04:05Z
  lines: ["later"]
  expect: {documents: [{message: later, tags: [_dateparsefailure], "@timestamp": "2021-01-02T03:04:05.000Z"}]}
"""
    results = run_cases(config, cases)
    assert [result.problems for result in results] == [[], [], [], []]


def test_the_input_sets_its_fields_and_type_never_replaces_an_events_own() -> None:
    config = pipeline("inputs:\n  - {type: stdin, add_fields: {env: prod}}\n")
    cases = """
- name: the only input's fields, the case's, and its type
  type: apache
  add_fields: {"[host][name]": web-1}
  lines: [a]
  ignore: ["@timestamp"]
  expect: {documents: [{message: a, env: prod, type: apache, host: {name: web-1}}]}
- name: an event keeps its own type
  type: apache
  events: [{message: b, type: nginx}]
  ignore: ["@timestamp"]
  expect: {documents: [{message: b, env: prod, type: nginx}]}
- name: no input
  input: none
  lines: [c]
  ignore: ["@timestamp"]
  expect: {documents: [{message: c}]}
- name: an input the pipeline lacks
  input: 3
  lines: [d]
"""
    results = run_cases(config, cases)
    assert [result.problems for result in results[:3]] == [[], [], []]
    assert results[3].error == "input: 3 is not an input of the pipeline (it has 1)"
    assert not results[3].passed


AGGREGATIONS = """
aggregations:
  - name: every_two
    task_id: "%{action}"
    metrics: {n: {type: count}}
    flush: {every: 2}
    index_events: false
  - name: per_minute
    task_id: "%{action}"
    metrics: {n: {type: count}}
    flush: {window: {size: 1m}, idle_flush: 1m}
    index_events: false
"""


def test_events_aggregations_consume_are_not_documents() -> None:
    config = pipeline(GROK_TASKS + AGGREGATIONS)
    cases = """
- name: two of a task
  match: subset
  lines:
    - 2026-11-21T10:00:00.000Z resize:banner elapsed=100
    - 2026-11-21T10:00:10.000Z resize:thumb elapsed=300
  expect:
    documents: []
    aggregates: [{aggregation: every_two, task_id: resize, n: 2, flush_reason: every}]
"""
    [result] = run_cases(config, cases)
    assert result.passed, result.problems
    [result] = run_cases(config, cases.replace("documents: []", "documents: [{action: resize}, {action: resize}]"))
    assert result.problems == [
        "documents: expected 2, got 0",
        '    missing documents[0]: {"action": "resize"}',
        '    missing documents[1]: {"action": "resize"}',
    ]
    assert result.notes == ["2 event(s) went only to aggregations (`index_events: false`): not documents"]


def test_at_end_decides_what_happens_to_open_tasks() -> None:
    config = pipeline(GROK_TASKS + AGGREGATIONS)
    template = """
- name: {at_end}
  at_end: {at_end}
  match: subset
  lines: ["2026-11-21T10:00:00.000Z resize:banner elapsed=100"]
  expect:
    aggregates: {aggregates}
"""
    idle_window = "{aggregation: per_minute, flush_reason: idle, tags: [_aggregate_idle]}"
    idle_every = "{aggregation: every_two, flush_reason: idle, n: 1}"
    cases = "".join(
        template.format(at_end=at_end, aggregates=aggregates)
        for at_end, aggregates in [
            ("none", "[]"),
            ("idle", f"[{idle_window}]"),
            ("all", f"[{idle_every}, {idle_window}]"),
        ]
    )
    results = run_cases(config, cases)
    assert [result.problems for result in results] == [[], [], []]


def _tasks(partitions: int, same: bool) -> tuple[str, str]:
    """Two task ids of `per_minute` whose keys are (or are not) on one `logs.tasks` partition."""
    for first, second in itertools.combinations("abcdefghijklmnop", 2):
        together = partition_for(f"per_minute|{first}", partitions) == partition_for(f"per_minute|{second}", partitions)
        if together == same:
            return first, second
    raise AssertionError("no such pair")


def test_windows_close_on_the_watermark_of_their_own_partition() -> None:
    """As in the aggregator: a later event of another task closes a window only on the same partition."""
    case = """
- name: {name}
  match: subset
  lines:
    - 2026-11-21T10:00:00.000Z {first}:x elapsed=1
    - 2026-11-21T10:05:00.000Z {second}:x elapsed=1
  expect:
    aggregates: {aggregates}
"""
    closed = "[{aggregation: per_minute, task_id: %s, flush_reason: window}]"
    for partitions, same, aggregates in [(6, True, closed), (6, False, "[]"), (1, True, closed)]:
        config = pipeline(f"kafka: {{partitions: {partitions}}}\n" + GROK_TASKS + AGGREGATIONS)
        first, second = _tasks(partitions, same)
        wanted = aggregates % first if "%s" in aggregates else aggregates
        [result] = run_cases(
            config, case.format(name=f"partitions {partitions}", first=first, second=second, aggregates=wanted)
        )
        assert result.passed, (partitions, same, result.problems)
