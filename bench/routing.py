"""What deciding "consumed by an aggregation" costs per event, in the indexer or upstream, in this process.

    python bench/routing.py [--events 50000] [--repeat 5]

The indexer leaves out the events an aggregation with `index_events: false` consumed. It asks the
aggregations' task router (`TaskRouter.is_consumed`: condition, task-id template, event time), the same
routing the aggregator's re-key stage does (`keys_for`). The alternative is a mark set upstream, in the
stage that writes `logs.parsed` (the parser), so that the indexer tests one attribute: the routing then
runs in the parser instead.

Printed, CPU time per event (best of --repeat) on tutorial events (examples/tutorial.yml's filters):
the parser's and the indexer's own work (no routing), the routing for three pipelines (the tutorial's
aggregation, which indexes its events; the same consuming them; three consuming aggregations with
conditions), the re-key stage's routing, and the attribute test a mark would cost the indexer.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

from aiokafka.structs import ConsumerRecord
from workload import generate_lines  # bench/, beside this script

from streamstash.aggregation.routing import TaskRouter
from streamstash.config import PipelineConfig, parse_pipeline
from streamstash.events.envelope import Batch, Event, Source, encode
from streamstash.filters import FilterChain
from streamstash.services.indexer.app import document_builders
from streamstash.services.indexer.pipeline import decode_record
from streamstash.services.parser.logic import RecordParser

ROOT = Path(__file__).resolve().parents[1]
RECORD_EVENTS = 500
TUTORIAL_CONSUMING = """
aggregations:
  - name: client_status
    task_id: "%{clientip}_%{response}"
    metrics: {count: {type: count}, bytesSum: {type: sum, field: bytes}}
    flush: {every: 10}
"""
THREE_AGGREGATIONS = """
aggregations:
  - name: errors_by_client
    task_id: "%{clientip}"
    when: '[response] >= 400'
    metrics: {count: {type: count}}
    flush: {every: 10}
  - name: bytes_by_verb
    task_id: "%{verb}_%{response}"
    when: '[verb] in ["POST", "PUT", "DELETE"]'
    metrics: {bytes: {type: sum, field: bytes}}
    flush: {window: {size: 1m}}
  - name: sessions
    task_id: "%{clientip}_%{agent}"
    metrics: {count: {type: count}}
    flush: {inactivity_timeout: 30s}
"""


def tutorial_config(aggregations: str | None = None) -> PipelineConfig:
    text = (ROOT / "examples" / "tutorial.yml").read_text(encoding="utf-8")
    if aggregations is not None:
        text = text[: text.index("aggregations:")] + aggregations + text[text.index("outputs:") :]
    return parse_pipeline(text, str(ROOT), env={"STREAMSTASH_KAFKA": "127.0.0.1:1"})


def parsed_records(config: PipelineConfig, count: int) -> list[ConsumerRecord]:
    parser = RecordParser(FilterChain(config.filters))
    lines = generate_lines(count)
    records = []
    for offset, start in enumerate(range(0, count, RECORD_EVENTS)):
        raw = Batch(
            events=[Event(message=line, source=Source(kind="file")) for line in lines[start : start + RECORD_EVENTS]]
        )
        value = encode(Batch(events=parser.parse_record(encode(raw), "logs.raw", 0, offset).parsed))
        records.append(ConsumerRecord("logs.parsed", 0, offset, 0, 0, None, value, None, 0, len(value), []))
    return records


def best(repeat: int, work: Callable[[], int]) -> float:
    """CPU seconds per event of ``work`` (which returns how many events it handled), best of ``repeat``."""
    results = []
    for _ in range(repeat):
        started = time.process_time()
        events = work()
        results.append((time.process_time() - started) / events)
    return min(results)


def main(argv: list[str] | None = None) -> int:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--events", type=int, default=50_000)
    options.add_argument("--repeat", type=int, default=5)
    args = options.parse_args(argv)

    tutorial = tutorial_config()
    three = tutorial_config(THREE_AGGREGATIONS)
    records = parsed_records(tutorial, args.events)
    events = [action for record in records for action in decode_record(record, _builder(tutorial)).actions]
    print(f"{len(events):,} tutorial events in {len(records)} records of up to {RECORD_EVENTS}")

    def indexer(config: PipelineConfig, skip: Callable[[Event], bool] | None) -> Callable[[], int]:
        builder = _builder(config)

        def run() -> int:
            handled = 0
            for record in records:
                decoded = decode_record(record, builder, skip)
                for action in decoded.actions:
                    handled += action.size > 0  # the NDJSON body, encoded as the bulk request needs it
                handled += decoded.skipped
            return handled

        return run

    parser = RecordParser(FilterChain(tutorial.filters))
    raw = [
        encode(Batch(events=[Event(message=line, source=Source(kind="file")) for line in chunk]))
        for chunk in _chunks(generate_lines(args.events), RECORD_EVENTS)
    ]

    def parse() -> int:
        return sum(len(parser.parse_record(value, "logs.raw", 0, offset).parsed) for offset, value in enumerate(raw))

    def routing(decide: Callable[[Event], object]) -> Callable[[], int]:
        documents = [action.event for action in events]

        def run() -> int:
            for event in documents:
                decide(event)
            return len(documents)

        return run

    base = best(args.repeat, indexer(tutorial, None))
    rows = [
        ("parser: grok, mutate, date (no routing)", best(args.repeat, parse)),
        ("indexer: decode, actions, bodies (no routing)", base),
    ]
    consuming = tutorial_config(TUTORIAL_CONSUMING)
    for name, config in (
        ("tutorial (index_events: true)", tutorial),
        ("tutorial consuming its events", consuming),
        ("three consuming, with conditions", three),
    ):
        router = TaskRouter(config.aggregations)
        rows.append((f"is_consumed: {name}", best(args.repeat, routing(router.is_consumed))))
    rows.append(
        ("re-key keys_for: three aggregations", best(args.repeat, routing(TaskRouter(three.aggregations).keys_for)))
    )
    rows.append(("a mark's attribute test", best(args.repeat, routing(_attribute_test))))
    for label, seconds in rows:
        print(f"  {label:<48} {seconds * 1e6:7.2f} us/event  ({seconds / base:5.2f} x indexer)")
    return 0


def _chunks(lines: list[str], size: int) -> list[list[str]]:
    return [lines[start : start + size] for start in range(0, len(lines), size)]


def _builder(config: PipelineConfig):
    return document_builders(config)[config.kafka.topics.parsed]


def _attribute_test(event: Event) -> bool:
    return event.raw_b64 is not None and event.raw_b64 == "consumed"  # one attribute, as a boolean mark would be


if __name__ == "__main__":
    sys.exit(main())
