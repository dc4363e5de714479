"""The indexer's CPU per document in this process: no Kafka, no Elasticsearch, beside a bare baseline.

    python bench/indexer_cpu.py [--lines 60000] [--rounds 5] [--profile out.prof]

Records are made as the end-to-end run makes them (bench/e2e.py's pipeline: grok COMBINEDAPACHELOG or the
task pattern, mutate convert, date; file input with host and path; `workload.RECORD_EVENTS` lines per record; one task line per
five access lines, which its `index_events: false` aggregation takes away from the index). Then, timed
with ``time.process_time``:

* indexer: what the service does per record, without the network: ``decode_record`` (decode, routing,
  documents and ids), the batching (``BulkAccumulator``), the NDJSON body of each request, and the
  ``BulkWriter`` reading an all-created response (through a stand-in engine that answers at once).
* loop: the same records through the service's own loop (``IndexerLoop``: asyncio, polls of
  ``RECORDS_PER_POLL`` records, metrics, commit tracking) on a consumer that hands them out at once.
* baseline: the plain work underneath: msgspec decode of the same records, and ``orjson.dumps`` of an
  action header and a document per event (no routing, no batching).

Prints the median over ``--rounds`` of CPU µs per indexed document for each, and the ratios to the baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
from aiokafka import TopicPartition
from aiokafka.structs import ConsumerRecord
from e2e import pipeline, task_lines  # bench/, beside this script
from workload import generate_lines, parsed_values

from streamstash import names
from streamstash.config import PipelineConfig, load_pipeline
from streamstash.events.envelope import decode_batch, to_document
from streamstash.runtime.garbage import settle_garbage_collection
from streamstash.runtime.metrics import ServiceMetrics
from streamstash.services.indexer.app import consumed_by_aggregations, document_builders
from streamstash.services.indexer.bulk import BulkWriter, RetryPolicy
from streamstash.services.indexer.consumer import DeadLetterSink, IndexerLoop
from streamstash.services.indexer.pipeline import BulkAccumulator, decode_record

TASKS_EVERY = 6  # e2e: 1,000,000 access lines + 200,000 task lines


def e2e_config(directory: Path) -> PipelineConfig:
    path, _, _ = pipeline(directory, directory / "access.log", directory / "tasks.log")
    return load_pipeline(path, env={"STREAMSTASH_KAFKA": "127.0.0.1:1"})


def workload(count: int) -> list[str]:
    access = generate_lines(count - count // TASKS_EVERY)
    tasks = iter(task_lines(count // TASKS_EVERY))
    lines: list[str] = []
    for index, line in enumerate(access):
        lines.append(line)
        if index % (TASKS_EVERY - 1) == TASKS_EVERY - 2:
            lines.append(next(tasks, line))
    return lines


def parsed_records(config: PipelineConfig, topic: str, lines: list[str]) -> list[ConsumerRecord]:
    return [
        ConsumerRecord(topic, 0, offset, 0, 0, None, value, None, 0, len(value), [])
        for offset, value in enumerate(parsed_values(config, lines))
    ]


class AnsweringEngine:
    """Answers every bulk request at once: each action created."""

    def __init__(self) -> None:
        self.documents = 0

    async def bulk(self, body: bytes, filter_path: Sequence[str]) -> dict[str, Any]:
        actions = body.count(b"\n") // 2  # two lines per action
        self.documents += actions
        return {"errors": False, "items": [_CREATED] * actions}

    async def ping(self) -> bool:
        return True


_CREATED = {"index": {"status": 201, "result": "created"}}


def run_indexer(config: PipelineConfig, records: list[ConsumerRecord]) -> tuple[float, int]:
    topic = config.kafka.topics.parsed
    builder = document_builders(config)[topic]
    skip = consumed_by_aggregations(config)
    bulk = config.outputs.elasticsearch.bulk
    writer = BulkWriter(AnsweringEngine(), RetryPolicy())  # type: ignore[arg-type]
    loop = asyncio.new_event_loop()
    try:
        started = time.process_time()
        accumulator = BulkAccumulator(bulk.max_docs, bulk.max_bytes, bulk.flush_ms / 1000)
        documents = 0
        for message in records:
            decoded = decode_record(message, builder, skip)
            accumulator.add(decoded.actions, 0.0)
            while accumulator.full():
                documents += len(loop.run_until_complete(writer.write(accumulator.take())).settled)
        while accumulator:
            documents += len(loop.run_until_complete(writer.write(accumulator.take())).settled)
        return time.process_time() - started, documents
    finally:
        loop.close()


class FeedingConsumer:
    """Hands out the records as aiokafka's getmany would, then stops the loop once all of them are settled."""

    def __init__(self, records: list[ConsumerRecord], stop: asyncio.Event) -> None:
        self.records = list(records)
        self.stop = stop
        self.loop: IndexerLoop | None = None
        self.partition = TopicPartition(records[0].topic, records[0].partition)

    async def getmany(self, timeout_ms: int = 0, max_records: int | None = None) -> dict[TopicPartition, Any]:
        if self.records:
            taken, self.records = self.records[:max_records], self.records[max_records:]
            return {self.partition: taken}
        if self.loop is not None and not self.loop.tracker.unsettled():
            self.stop.set()
        await asyncio.sleep(timeout_ms / 1000)
        return {}

    def assignment(self) -> set[TopicPartition]:
        return {self.partition}

    def pause(self, *partitions: TopicPartition) -> None:
        pass

    def resume(self, *partitions: TopicPartition) -> None:
        pass

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        pass

    def highwater(self, partition: TopicPartition) -> int:
        return len(self.records)

    async def position(self, partition: TopicPartition) -> int:
        return 0


def run_loop(config: PipelineConfig, records: list[ConsumerRecord]) -> tuple[float, int]:
    """The service's loop itself (``IndexerLoop``: asyncio, metrics, commits) on a consumer that hands out the
    records at once and an engine that answers at once."""

    async def main() -> int:
        stop = asyncio.Event()
        consumer = FeedingConsumer(records, stop)
        engine = AnsweringEngine()
        metrics = ServiceMetrics(names.SERVICE_INDEXER)
        loop = IndexerLoop(
            consumer,  # type: ignore[arg-type]
            engine,  # type: ignore[arg-type]
            DeadLetterSink(None, config.kafka.topics.dlq),  # type: ignore[arg-type]
            document_builders(config),
            consumed_by_aggregations(config),
            config.outputs.elasticsearch.bulk,
            metrics,
            lambda observer: BulkWriter(engine, RetryPolicy(), observer),  # type: ignore[arg-type]
        )
        consumer.loop = loop
        await loop.run(stop)
        return engine.documents

    started = time.process_time()
    documents = asyncio.run(main())
    return time.process_time() - started, documents


def run_baseline(records: list[ConsumerRecord]) -> float:
    started = time.process_time()
    for message in records:
        lines = []
        for event in decode_batch(message.value).events:
            lines.append(orjson.dumps({"index": {"_index": "logs", "_id": event.id}}))
            lines.append(orjson.dumps(to_document(event)))
        b"\n".join(lines)
    return time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=60_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", help="write a cProfile of one round of --profile-contender here")
    parser.add_argument("--profile-contender", choices=["indexer", "loop"], default="indexer")
    args = parser.parse_args()
    settle_garbage_collection("indexer")  # as run_service sets them for the indexer, for both contenders
    with tempfile.TemporaryDirectory(prefix="bench-indexer-cpu-") as work:
        config = e2e_config(Path(work))
    records = parsed_records(config, config.kafka.topics.parsed, workload(args.lines))
    contenders = {"indexer": run_indexer, "loop": run_loop}
    if args.profile:
        profiler = cProfile.Profile()
        profiler.runcall(contenders[args.profile_contender], config, records)
        profiler.dump_stats(args.profile)
        print(f"profile of {args.profile_contender} written to {args.profile}")
        return
    per_document: dict[str, list[float]] = {"indexer": [], "loop": [], "baseline": []}
    documents = 0
    for _ in range(args.rounds):  # interleaved, so a busy moment on a shared machine hits all alike
        for name, contender in contenders.items():
            gc.collect()  # each contender starts from the same heap, not the garbage of the one before
            seconds, documents = contender(config, records)
            per_document[name].append(seconds * 1e6 / documents)
            gc.collect()
            per_document["baseline"].append(run_baseline(records) * 1e6 / documents)
    medians = {name: statistics.median(values) for name, values in per_document.items()}
    print(f"{args.lines:,} lines in {len(records)} records, {documents:,} documents indexed; median of {args.rounds}")
    labels = {
        "indexer": "indexer  (decode, route, documents, bulk bodies, results)",
        "loop": "loop     (the same in IndexerLoop: asyncio, metrics, commits)",
        "baseline": "baseline (msgspec decode + orjson header and document)",
    }
    for name, label in labels.items():
        print(f"{label}: {medians[name]:6.2f} µs CPU/document  {_all(per_document[name])}")
    baseline = medians["baseline"]
    print(
        f"ratio indexer/baseline: {medians['indexer'] / baseline:.2f}x; loop/baseline: {medians['loop'] / baseline:.2f}x"
    )


def _all(values: list[float]) -> str:
    return "(" + ", ".join(f"{value:.2f}" for value in values) + ")"


if __name__ == "__main__":
    main()
