"""Aggregator throughput with 10,000 distinct tasks, and the reduction of indexed documents.

    python bench/aggregate.py                              # own local stack, 200,000 events
    python bench/aggregate.py --events 500000 --kafka 127.0.0.1:9092

Measured in the same run, on the same pre-loaded `logs.parsed` topic (records of 500 events, as
the parser writes them; event times increasing; task ids drawn uniformly from `--tasks`):

* aggregator -- one `streamstash aggregator` process (Faust, RocksDB table, re-key through
  `logs.tasks`, flush every `--every` events), timed from its first folded event until every
  event is folded (its own /metrics), so Faust's start-up is not counted. Also printed: its CPU
  time per event over the same span, which a busy shared machine changes far less than events/s.
* baseline   -- a plain aiokafka loop over the same records: decode the batch, re-key every
  event by its task id, produce one record per input record, no state: the floor of reading and
  writing this data through Kafka from Python. The ratio shows what state, the changelog and
  Faust cost on top.

Then the issue's case (N=3 and N=100, `--case-lines` generated lines through the parser's and the
aggregator's own logic, in this process): documents the indexer writes with aggregation (aggregates
plus any raw events still indexed) against without (every line), printed as a reduction factor.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

import yaml
from aiokafka import AIOKafkaConsumer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from procstat import cpu_seconds
from servers import kafka_or_local

from streamstash.aggregation.folding import TaskAggregator
from streamstash.aggregation.processor import RecordProcessor
from streamstash.aggregation.records import encode_task_record, task_records
from streamstash.aggregation.routing import TaskRouter
from streamstash.config import PipelineConfig, load_pipeline
from streamstash.events.envelope import Batch, Event, Source, decode_batch, encode, event_id, format_timestamp
from streamstash.kafka.clients import make_producer
from streamstash.kafka.topics import ensure_topics

RECORD_EVENTS = 500
START_MS = 1_795_255_200_000


def write_config(directory: Path, kafka: str, every: int, partitions: int) -> tuple[Path, PipelineConfig]:
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    document = {
        "kafka": {
            "bootstrap_servers": kafka,
            "partitions": partitions,
            "consumer_group_prefix": prefix,
            "topics": {kind: f"{prefix}.{kind}" for kind in ("raw", "parsed", "aggregated", "dlq", "tasks")},
        },
        "elasticsearch": {"hosts": ["http://127.0.0.1:1"]},
        "state_dir": str(directory / prefix),
        "logging": {"level": "WARNING"},
        "aggregations": [
            {
                "name": "task_elapsed",
                "task_id": "%{action}_%{progress}",
                "metrics": {"elapsedAvg": {"type": "avg", "field": "elapsed"}, "count": {"type": "count"}},
                "flush": {"every": every},
                "keep_fields": ["*"],
                "remove_fields": ["message", "tags", "elapsed"],
            }
        ],
    }
    path = directory / f"{prefix}.yml"
    path.write_text(yaml.safe_dump(document))
    return path, load_pipeline(path, env={})


def parsed_records(events: int, tasks: int, seed: int = 5) -> list[Batch]:
    rng = random.Random(seed)
    records = []
    for offset, start in enumerate(range(0, events, RECORD_EVENTS)):
        batch = []
        for position in range(min(RECORD_EVENTS, events - start)):
            index = start + position
            task = rng.randrange(tasks)
            batch.append(
                Event(
                    timestamp=format_timestamp((START_MS + index) / 1000),
                    source=Source(kind="file", path="/bench.log"),
                    fields={
                        "origtime": "x",
                        "progress": f"p{task % 100}",
                        "action": f"a{task // 100}",
                        "elapsed": rng.randint(1, 2000),
                    },
                    id=event_id("bench.raw", 0, offset, position),
                )
            )
        records.append(Batch(events=batch))
    return records


async def load_parsed(config: PipelineConfig, records: list[Batch]) -> None:
    await ensure_topics(config.kafka)
    producer = make_producer(config.kafka, client_id="bench-loader")
    await producer.start()
    try:
        for number, batch in enumerate(records):
            await producer.send(config.kafka.topics.parsed, encode(batch), key=f"source-{number % 12}".encode())
        await producer.flush()
    finally:
        await producer.stop()


def folded(port: int, topic: str) -> float:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
            text = response.read().decode()
    except OSError:
        return 0.0
    total = 0.0
    for line in text.splitlines():
        if line.startswith("streamstash_events_received_total{") and f'topic="{topic}"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def process_cpu(pid: int) -> float | None:
    """The process's CPU seconds, None where /proc does not tell (not Linux)."""
    try:
        return cpu_seconds(pid)
    except OSError:
        return None


def run_aggregator(
    path: Path, config: PipelineConfig, events: int, port: int, log_path: Path
) -> tuple[float, float | None, float | None]:
    """Events/s, and (when /proc tells) CPU microseconds per event and the share of a core it had."""
    argv = [
        sys.executable,
        "-m",
        "streamstash.services.cli",
        "aggregator",
        "--config",
        str(path),
        "--http-port",
        str(port),
    ]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        try:
            topic = config.kafka.topics.tasks
            deadline = time.monotonic() + 900
            started = None
            while time.monotonic() < deadline:
                done = folded(port, topic)
                if started is None and done > 0:
                    started, first, cpu_first = time.monotonic(), done, process_cpu(process.pid)
                if done >= events:
                    assert started is not None
                    elapsed, cpu_last = time.monotonic() - started, process_cpu(process.pid)
                    cpu = None if cpu_first is None or cpu_last is None else cpu_last - cpu_first
                    return (
                        (events - first) / elapsed,
                        None if cpu is None else cpu / (events - first) * 1e6,
                        None if cpu is None else cpu / elapsed,
                    )
                if process.poll() is not None:
                    raise RuntimeError(f"aggregator exited with {process.returncode}; see {log_path}")
                time.sleep(0.1)
            raise RuntimeError(f"aggregator did not fold {events} events in time; see {log_path}")
        finally:
            process.terminate()
            process.wait(30)


async def baseline(config: PipelineConfig, events: int) -> float:
    """Decode, re-key, produce one record per input record: Kafka from Python, without state."""
    router = TaskRouter(config.aggregations)
    consumer = AIOKafkaConsumer(
        config.kafka.topics.parsed,
        bootstrap_servers=config.kafka.bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
        max_partition_fetch_bytes=config.kafka.max_message_bytes,
    )
    producer = make_producer(config.kafka, client_id="bench-baseline")
    await consumer.start()
    await producer.start()
    seen = 0
    started = time.monotonic()
    try:
        while seen < events:
            for messages in (await consumer.getmany(timeout_ms=1000, max_records=50)).values():
                for message in messages:
                    batch = decode_batch(message.value)
                    seen += len(batch.events)
                    for partition, records in task_records(
                        batch.events, router.keys_for, config.kafka.partitions, 5000
                    ).items():
                        for record in records:
                            await producer.send(
                                config.kafka.topics.dlq, encode_task_record(record), partition=partition
                            )
        await producer.flush()
        return seen / (time.monotonic() - started)
    finally:
        await consumer.stop()
        await producer.stop()


def reduction(every: int, lines: int) -> tuple[int, int]:
    """Documents indexed for the issue's case: (with aggregation, without)."""
    sys_path_tests = str(Path(__file__).resolve().parents[1])
    if sys_path_tests not in sys.path:
        sys.path.insert(0, sys_path_tests)
    from streamstash.config import parse_pipeline
    from streamstash.filters import FilterChain
    from streamstash.services.parser.logic import RecordParser
    from tests.integration.aggregator.tasklog import issue_pipeline, raw_batches, task_lines

    config = parse_pipeline(yaml.safe_dump(issue_pipeline(every=str(every))), env={})
    parser = RecordParser(FilterChain(config.filters))
    router = TaskRouter(config.aggregations)
    processor = RecordProcessor(TaskAggregator(router))
    table: dict[bytes, bytes] = {}
    aggregates = raw_kept = 0
    for offset, (_, batch) in enumerate(raw_batches(task_lines(lines, seed=every, tasks=12), 500)):
        parsed = parser.parse_record(encode(batch), "logs.raw", 0, offset).parsed
        raw_kept += sum(1 for event in parsed if not router.is_consumed(event))
        (records,) = task_records(parsed, router.keys_for, 1, len(parsed) + 1).values()
        outcome = processor.process(0, records[0].groups, table.get)
        table.update(outcome.writes)
        aggregates += len(outcome.emitted)
    return aggregates + raw_kept, lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--every", type=int, default=100, help="flush rule of the throughput run")
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--case-lines", type=int, default=30_000)
    parser.add_argument("--kafka", default=os.environ.get("STREAMSTASH_KAFKA"))
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-aggregate-") as temporary:
        directory = Path(temporary)
        with kafka_or_local(args.kafka, directory / "stack") as kafka:
            path, config = write_config(directory, kafka, args.every, args.partitions)
            records = parsed_records(args.events, args.tasks)
            asyncio.run(load_parsed(config, records))
            print(f"loaded {args.events:,} events ({len(records)} records) for {args.tasks:,} distinct tasks")
            from streamstash.stack.manager import free_port

            rate, cpu_per_event, core_share = run_aggregator(
                path, config, args.events, free_port(), directory / "aggregator.log"
            )
            floor = asyncio.run(baseline(config, args.events))
    print(f"aggregator (1 process, flush every {args.every}): {rate:10,.0f} events/s")
    if cpu_per_event is not None and core_share is not None:
        # On a shared machine events/s follows the CPU the process got; its CPU per event does not.
        print(f"aggregator CPU: {cpu_per_event:.1f} us/event ({core_share:.0%} of a core while folding)")
    print(f"baseline (aiokafka decode + re-key + produce):     {floor:10,.0f} events/s")
    print(f"aggregator / baseline: {rate / floor:.2f}")
    for every in (3, 100):
        indexed, lines = reduction(every, args.case_lines)
        print(
            f"issue case N={every}: {lines:,} lines -> {indexed:,} indexed documents: reduction {lines / indexed:.1f}x"
        )


if __name__ == "__main__":
    main()
