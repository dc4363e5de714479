"""The aggregator's CPU per event in this process, without Kafka: bench/e2e.py's workload through its per-record logic.

    python bench/aggregator_cpu.py [--lines 100000] [--repeat 5] [--profile out.prof]

The records are what bench/e2e.py's parser writes to `logs.parsed`: `--lines` access lines and a fifth as
many task lines, each file's lines in records of `workload.RECORD_EVENTS` (a record holds one source's events), parsed by the
parser's own logic with e2e's filters, interleaved 5 access records to 1 task record. Its one aggregation
(`%{action}_%{progress}`, count + avg, flush every 100, `index_events: false`) matches only the task lines.

Per round of parsed records (`tuning.REKEY_MAX_RECORDS`, as the re-key agent takes them) the aggregator's
two stages run as `services/aggregator/app.py` runs them, on the library functions it calls: the re-key
stage's `rekey_round`, then each `logs.tasks` record through the aggregate stage's `aggregate_record`,
its table writes applied to a dict. Printed, CPU time (`time.process_time`, median of --repeat runs) per
event received by the two stages (bench/e2e.py's denominator: parsed events plus task events), and
beside it the baseline of the same run: decoding the same parsed records and nothing else
(`decode_batch`, the envelope's codec, which any aggregator pays). Also the Kafka sends one input
record costs the service (logs.tasks records, table writes = changelog records, aggregates records).
"""

from __future__ import annotations

import argparse
import cProfile
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from e2e import pipeline, task_lines
from workload import generate_lines, parsed_values

from streamstash.aggregation.folding import TaskAggregator
from streamstash.aggregation.processor import RecordProcessor
from streamstash.aggregation.records import decode_task_record
from streamstash.aggregation.rekey import rekey_round, routable_events
from streamstash.aggregation.routing import TaskRouter
from streamstash.config import PipelineConfig, load_pipeline
from streamstash.events.envelope import Batch, Event, decode_batch, encode
from streamstash.events.inputfields import input_fields_for
from streamstash.runtime.garbage import settle_garbage_collection
from streamstash.services.aggregator import tuning

ACCESS_PER_TASK_RECORD = 5


def mixed_parsed_values(config: PipelineConfig, lines: int) -> list[bytes]:
    """`logs.parsed` record values as e2e's parser writes them, 5 access records to 1 task record."""
    access = parsed_values(config, generate_lines(lines), "/var/log/access.log")
    tasks = parsed_values(config, task_lines(lines // 5), "/var/log/tasks.log", len(access))
    out = []
    while access or tasks:
        out += access[:ACCESS_PER_TASK_RECORD]
        del access[:ACCESS_PER_TASK_RECORD]
        out += tasks[:1]
        del tasks[:1]
    return out


class Counts:
    def __init__(self) -> None:
        self.received = self.task_records = self.table_writes = self.aggregate_records = self.aggregates = 0


def run_aggregator(config: PipelineConfig, values: list[bytes]) -> Counts:
    """Both stages over ``values``, as the service runs them; the table is a dict."""
    router = TaskRouter(config.aggregations, input_fields_for(config))
    processor = RecordProcessor(TaskAggregator(router))
    partitions = config.kafka.partitions
    record_bytes = tuning.task_record_bytes(config.kafka.max_message_bytes)
    table: dict[bytes, bytes] = {}
    counts = Counts()
    for start in range(0, len(values), tuning.REKEY_MAX_RECORDS):
        events: list[Event] = []
        for value in values[start : start + tuning.REKEY_MAX_RECORDS]:
            received, routable = routable_events(value, router)
            counts.received += received
            events.extend(routable)
        sends = rekey_round(events, router, partitions, tuning.MAX_EVENTS_PER_TASK_RECORD, record_bytes)
        for partition, value, _count in sends:
            counts.task_records += 1
            task_record = decode_task_record(value)
            counts.received += task_record.event_count()
            outcome = processor.process(partition, task_record.groups, table.get)
            counts.table_writes += len(outcome.writes)
            if outcome.emitted:
                counts.aggregate_records += 1
                counts.aggregates += len(outcome.emitted)
                encode(Batch(events=outcome.emitted))
            table.update(outcome.writes)
    return counts


def run_baseline(values: list[bytes]) -> int:
    return sum(len(decode_batch(value).events) for value in values)


def timed(work: Callable[[], object], repeat: int) -> tuple[float, object]:
    seconds = []
    result: object = None
    for _ in range(repeat):
        started = time.process_time()
        result = work()
        seconds.append(time.process_time() - started)
    return statistics.median(seconds), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=100_000, help="access lines; task lines are a fifth of it")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--profile", type=Path, help="cProfile one run of the aggregator into this file")
    args = parser.parse_args()
    settle_garbage_collection("aggregator")  # as the service runs

    with tempfile.TemporaryDirectory(prefix="bench-aggcpu-") as temporary:
        work = Path(temporary)
        path, _, _ = pipeline(work, work / "access.log", work / "tasks.log")
        config = load_pipeline(path, env={"STREAMSTASH_KAFKA": "127.0.0.1:1"})
        values = mixed_parsed_values(config, args.lines)
    print(f"{len(values)} parsed records ({args.lines:,} access lines, {args.lines // 5:,} task lines)")
    if args.profile:
        cProfile.runctx("run_aggregator(config, values)", globals(), locals(), str(args.profile))
        print(f"profile in {args.profile}")
    # Interleaved, so that a busy shared machine slows both alike.
    aggregator_s, baseline_s = [], []
    counts = Counts()
    for _ in range(args.repeat):
        seconds, result = timed(lambda: run_aggregator(config, values), 1)
        aggregator_s.append(seconds)
        assert isinstance(result, Counts)
        counts = result
        seconds, _ = timed(lambda: run_baseline(values), 1)
        baseline_s.append(seconds)
    events = counts.received
    aggregator_us = statistics.median(aggregator_s) / events * 1e6
    baseline_us = statistics.median(baseline_s) / events * 1e6
    print(f"events received by the two stages: {events:,}")
    print(
        f"aggregator logic: {aggregator_us:6.2f} us/event (median of {args.repeat}; runs "
        + ", ".join(f"{s / events * 1e6:.2f}" for s in aggregator_s)
        + ")"
    )
    print(f"baseline (decode_batch of the same records): {baseline_us:6.2f} us/event")
    print(f"aggregator / baseline: {aggregator_us / baseline_us:.2f}")
    records = len(values)
    print(
        f"per parsed record: {counts.task_records / records:.2f} logs.tasks records, "
        f"{counts.table_writes / records:.2f} table writes (changelog records), "
        f"{counts.aggregate_records / records:.2f} logs.aggregated records; {counts.aggregates:,} aggregates"
    )


if __name__ == "__main__":
    main()
