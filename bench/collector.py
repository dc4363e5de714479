"""Collector throughput: lines/s from a file into Kafka, against naive aiokafka loops, in the same run.

    python bench/collector.py                      # 500,000 access-log lines, own local stack
    python bench/collector.py --lines 100000 --kafka 127.0.0.1:9092

Contenders, all with the same producer settings (acks=all, idempotence, lz4) and the same file:

* collector   -- the real collector (file input -> publisher -> logs.raw), in this process, with
                 ``exit_at_eof``; timed from start until every line is acknowledged. Batches of
                 events (one Kafka record per batch), checkpoints saved after every acknowledgement.
* per-line send -- a loop reading the file and calling ``producer.send`` per line (aiokafka's own
                 batching, no envelope, no checkpoints), then ``flush``: the cheapest naive loop.
* send_and_wait -- one ``send_and_wait`` per line (what a naive "reliable" loop does), measured on
                 the first ``--wait-lines`` lines only because it is slow.

Every line reaching the topic is checked after the collector run (count). The stand-in is started
on a temporary directory via ``streamstash.stack.manager.LocalStack`` unless ``--kafka`` is given.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from aiokafka import AIOKafkaConsumer
from servers import kafka_or_local  # bench/, beside this script

from streamstash.config import PipelineConfig
from streamstash.events.envelope import decode_batch
from streamstash.kafka.clients import make_producer
from streamstash.kafka.topics import ensure_topics

AGENTS = [
    "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
    "curl/8.4.0",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
]


def write_access_log(path: Path, count: int) -> int:
    with open(path, "w", encoding="utf-8") as out:
        out.writelines(
            "".join(
                f"10.{n % 7}.{n % 250}.{n % 199} - - [01/May/2024:10:{n // 60 % 60:02d}:{n % 60:02d} +0000] "
                f'"GET /api/v1/items/{n} HTTP/1.1" {200 if n % 17 else 404} {n % 50_000} '
                f'"https://example.org/page/{n % 100}" "{AGENTS[n % 3]}"\n'
                for n in range(start, min(count, start + 10_000))
            )
            for start in range(0, count, 10_000)
        )
    return path.stat().st_size


def pipeline(kafka: str, state: Path, log_file: Path, prefix: str) -> PipelineConfig:
    return PipelineConfig.model_validate(
        {
            "kafka": {
                "bootstrap_servers": kafka,
                "partitions": 3,
                "topics": {kind: f"{prefix}.{kind}" for kind in ("raw", "parsed", "aggregated", "dlq", "tasks")},
            },
            "elasticsearch": {"hosts": ["http://unused"]},
            "http": {"enabled": False},
            "state_dir": str(state),
            "logging": {"level": "WARNING"},
            "inputs": [{"type": "file", "paths": [str(log_file)], "start_position": "beginning", "exit_at_eof": True}],
        }
    )


@dataclass
class Timing:
    wall_s: float
    cpu_s: float  # this process only (the broker's work is not in it): robust on a busy machine


@contextlib.contextmanager
def timed(into: list[Timing]) -> Iterator[None]:
    wall, cpu = time.perf_counter(), time.process_time()
    yield
    into.append(Timing(time.perf_counter() - wall, time.process_time() - cpu))


async def run_collector_once(config: PipelineConfig) -> Timing:
    from streamstash.services.collector.app import run_collector

    await ensure_topics(config.kafka)
    timing: list[Timing] = []
    with timed(timing):
        await run_collector(config, asyncio.Event())
    return timing[0]


async def count_events(kafka: str, topic: str) -> int:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka,
        auto_offset_reset="earliest",
        group_id=None,
        max_partition_fetch_bytes=16 * 1024 * 1024,
    )
    await consumer.start()
    total = 0
    idle = 0
    try:
        while idle < 3:
            batches = await consumer.getmany(timeout_ms=1000, max_records=1000)
            idle = 0 if batches else idle + 1
            total += sum(len(decode_batch(record.value).events) for records in batches.values() for record in records)
    finally:
        await consumer.stop()
    return total


async def naive_send(config: PipelineConfig, log_file: Path, topic: str) -> Timing:
    producer = make_producer(config.kafka, client_id="bench-naive", compression=config.collector.compression)
    await producer.start()
    timing: list[Timing] = []
    try:
        # The baselines read the file as a naive shipper would: blocking reads, one line at a time.
        with timed(timing), open(log_file, "rb") as lines:  # noqa: ASYNC230
            for line in lines:
                await producer.send(topic, line.rstrip(b"\n"))
            await producer.flush()
        return timing[0]
    finally:
        await producer.stop()


async def naive_send_and_wait(config: PipelineConfig, log_file: Path, topic: str, count: int) -> Timing:
    # linger 0: waiting for each acknowledgement, a linger would only add to every line's round trip.
    producer = make_producer(
        config.kafka, client_id="bench-wait", compression=config.collector.compression, linger_ms=0
    )
    await producer.start()
    timing: list[Timing] = []
    try:
        # The baselines read the file as a naive shipper would: blocking reads, one line at a time.
        with timed(timing), open(log_file, "rb") as lines:  # noqa: ASYNC230
            for _, line in zip(range(count), lines, strict=False):
                await producer.send_and_wait(topic, line.rstrip(b"\n"))
        return timing[0]
    finally:
        await producer.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=500_000)
    parser.add_argument("--wait-lines", type=int, default=5_000, help="lines for the send_and_wait loop")
    parser.add_argument("--kafka", help="use this Kafka instead of starting a local stack")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-collector-") as temporary:
        work = Path(temporary)
        log_file = work / "access.log"
        size = write_access_log(log_file, args.lines)
        print(f"{args.lines:,} lines, {size / 1e6:.1f} MB in {log_file}")
        with kafka_or_local(args.kafka, work / "stack") as kafka:
            prefix = f"bench{int(time.time())}"
            config = pipeline(kafka, work / "state", log_file, prefix)

            collector = asyncio.run(run_collector_once(config))
            delivered = asyncio.run(count_events(kafka, config.kafka.topics.raw))
            if delivered != args.lines:
                sys.exit(f"collector delivered {delivered:,} events for {args.lines:,} lines")
            per_line = asyncio.run(naive_send(config, log_file, f"{prefix}.naive"))
            and_wait = asyncio.run(naive_send_and_wait(config, log_file, f"{prefix}.wait", args.wait_lines))

        contenders = (
            ("collector (file -> logs.raw, batches)", args.lines, collector),
            ("naive: producer.send per line", args.lines, per_line),
            (f"naive: send_and_wait per line ({args.wait_lines:,})", args.wait_lines, and_wait),
        )
        rate = {name: lines / timing.wall_s for name, lines, timing in contenders}
        cpu = {name: timing.cpu_s / lines * 1e6 for name, lines, timing in contenders}
        ours = contenders[0][0]
        print(f"{'contender':<44}{'lines/s':>10}{'ratio':>9}{'CPU us/line':>13}{'ratio':>9}")
        for name, _, _ in contenders:
            print(
                f"{name:<44}{rate[name]:>10,.0f}{rate[ours] / rate[name]:>8.2f}x{cpu[name]:>13.1f}"
                f"{cpu[name] / cpu[ours]:>8.2f}x"
            )
        print(
            "ratio: how many times the collector's figure is better (lines/s: higher, CPU per line: lower);\n"
            "CPU is this process's own time, so it holds on a busy machine where wall-clock rates do not."
        )


if __name__ == "__main__":
    main()
