"""Events through a pipeline's real filter chain and aggregations, in memory, the same way every time.

A run is one stream: what the collector would put on `logs.raw` goes through `FilterChain.filter_event` (the
parser's own step), the parsed events are re-keyed by task onto the pipeline's `kafka.partitions` partitions
(Kafka's partitioner, as the aggregator's re-key stage does) and folded by the aggregator's `RecordProcessor`,
one event at a time, so each partition's watermark moves as it would on a live stream. The indexer's share
is left out: documents are compared as the parser and the aggregator produce them (no ECS renaming).

Nothing depends on where or when it runs: event time comes from the events, ids from their place in the
run, the year of a yearless stamp from the run's clock (`received_at`), and a sampling `drop` draws from
a generator seeded by the run's name.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from streamstash import names
from streamstash.aggregation.folding import TaskAggregator
from streamstash.aggregation.processor import RecordProcessor
from streamstash.aggregation.records import task_records
from streamstash.aggregation.routing import TaskRouter
from streamstash.config import PipelineConfig
from streamstash.config.aggregator import AggregationSpec
from streamstash.events.envelope import DeadLetter, Event, Source, event_id, fold_working_dict, to_document
from streamstash.events.inputfields import input_fields_for
from streamstash.events.timeformats import format_iso8601, parse_iso8601, pinned_clock
from streamstash.filters import FilterChain
from streamstash.filters.date import DateFilter
from streamstash.filters.drop import DropFilter

STAGE = names.SERVICE_PARSER
PARTITION = 0
OFFSET = 0

Document = dict[str, Any]


@dataclass
class Produced:
    """What a stretch of the stream produced, as documents."""

    documents: list[Document] = field(default_factory=list)
    aggregates: list[Document] = field(default_factory=list)
    dead_letters: list[Document] = field(default_factory=list)
    dropped: int = 0
    consumed: int = 0  # parsed events aggregations took without indexing them


def event_document(event: Event) -> Document:
    """The event as the indexer writes it, without `source` (set by the collector, never seen by filters)."""
    document = to_document(event)
    document.pop(names.FIELD_SOURCE, None)
    return document


def dead_letter_document(letter: DeadLetter) -> Document:
    return {"reason": letter.reason, "event": event_document(letter.event)}


def make_event(doc: Document, source: Source) -> Event:
    """An event from a working dict (`message`, `@timestamp`, `tags` beside the fields), as the collector sends it."""
    doc = dict(doc)
    stamp = doc.get(names.FIELD_TIMESTAMP)
    if isinstance(stamp, str):
        moment = parse_iso8601(stamp)
        if moment is not None:
            doc[names.FIELD_TIMESTAMP] = format_iso8601(moment)
    return fold_working_dict(Event(source=source), doc)


class PipelineRun:
    """One stream through the filters and aggregations of ``config``; state carries over between `feed` calls."""

    def __init__(self, config: PipelineConfig, clock: datetime, seed: str, chain: FilterChain | None = None) -> None:
        """``chain``: the pipeline's filter chain, built once for many runs (compiling grok patterns is what costs)."""
        self.clock = clock
        self.raw_topic = config.kafka.topics.raw
        self.partitions = config.kafka.partitions
        self.chain = FilterChain(config.filters) if chain is None else chain
        for index, step in enumerate(self.chain.steps):
            # The filters that keep something between events start afresh, as in a new parser.
            if isinstance(step.filter, DropFilter):
                # Seeded, so a case gives the same result on every run (not for secrets: S311 does not apply).
                step.filter.chance = random.Random(f"{seed}:{index}").random  # noqa: S311
            elif isinstance(step.filter, DateFilter):
                step.filter.forget_conversions()
        self.input_fields = input_fields_for(config)  # Logstash's `host`, `path`, ... as the services show them
        self.router = TaskRouter(config.aggregations, self.input_fields)
        self.processor = RecordProcessor(TaskAggregator(self.router))
        self.table: dict[bytes, bytes] = {}
        self.position = 0

    def feed(self, events: list[Event]) -> Produced:
        """The events as one stretch of `logs.raw`, in order; returns what they produced (aggregates included)."""
        produced = Produced()
        with pinned_clock(self.clock):
            for event in events:
                # Where the event would be on logs.raw: one record, in turn, across the whole run.
                event.id = event_id(self.raw_topic, PARTITION, OFFSET, self.position)
                self.position += 1
                outcome = self.chain.filter_event(event, STAGE, self.input_fields)
                if outcome is None:
                    produced.dropped += 1
                elif isinstance(outcome, DeadLetter):
                    produced.dead_letters.append(dead_letter_document(outcome))
                else:
                    if self.router.is_consumed(outcome):
                        produced.consumed += 1
                    else:
                        produced.documents.append(event_document(outcome))
                    produced.aggregates.extend(event_document(item) for item in self._aggregate(outcome))
        return produced

    def finish(self, applies: Callable[[AggregationSpec], bool]) -> list[Document]:
        """Emit the open tasks of the aggregations ``applies`` to, as an idle flush does."""
        emitted: list[Event] = []
        for partition in sorted(self.processor.partitions):
            outcome = self.processor.idle_flush(partition, self.table.get, applies)
            self.table.update(outcome.writes)
            emitted.extend(outcome.emitted)
        return [event_document(item) for item in emitted]

    def _aggregate(self, event: Event) -> list[Event]:
        emitted: list[Event] = []
        records = task_records([event], self.router.keys_for, self.partitions, max_events=1)
        for partition in sorted(records):
            for record in records[partition]:
                outcome = self.processor.process(partition, record.groups, self.table.get)
                self.table.update(outcome.writes)
                emitted.extend(outcome.emitted)
        return emitted


def at_end_rule(at_end: str) -> Callable[[AggregationSpec], bool] | None:
    """Which open tasks a case's `at_end` emits after its last event (None: nothing)."""
    if at_end == "idle":
        return lambda spec: spec.flush.idle_flush is not None
    if at_end == "all":
        return lambda spec: True
    return None
