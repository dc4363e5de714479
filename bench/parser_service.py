"""Parser service end to end (Kafka in, Kafka out, one process) beside a plain aiokafka loop doing the same work.

    python bench/parser_service.py --lines 200000 --runs 3 --kafka-engine apache

Both read the same `logs.raw` records (batches of 500 generated access lines), run the same filter chain
(grok COMBINEDAPACHELOG, mutate convert, date: `workload.ACCESS_FILTERS`) and produce parsed batches with the
pipeline's compression. The aiokafka loop is the ceiling for our record format (no Faust). The service's
figures are taken from its first received event to its last (its own /metrics, its CPU from /proc), so
Faust's start-up is not counted; the loop's CPU is this process's while it runs. Each run uses topics of its
own; the medians of the runs are printed beside issue 16's targets (>= 60,000 lines/s, >= 0.8x the loop).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import yaml
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from procstat import cpu_seconds
from servers import local_stack
from workload import ACCESS_FILTERS, generate_lines

from streamstash.config import load_pipeline
from streamstash.events.envelope import Batch, Event, Source, encode
from streamstash.events.inputfields import input_fields_for
from streamstash.filters import FilterChain
from streamstash.kafka.clients import compression_type
from streamstash.kafka.topics import ensure_topics
from streamstash.runtime.garbage import settle_garbage_collection
from streamstash.services.parser.logic import RecordParser

RECORD_EVENTS = 500
TARGET_LINES_PER_S = 60_000
TARGET_RATIO = 0.8


@dataclass(frozen=True)
class Throughput:
    lines_per_s: float
    cpu_us_per_line: float


def write_config(directory: Path, kafka: str, elasticsearch: str, prefix: str) -> Path:
    document = {
        "kafka": {
            "bootstrap_servers": kafka,
            "partitions": 1,
            "consumer_group_prefix": prefix,
            "topics": {kind: f"{prefix}.{kind}" for kind in ("raw", "parsed", "aggregated", "dlq", "tasks")},
        },
        "elasticsearch": {"hosts": [elasticsearch]},
        "state_dir": str(directory / "state"),
        "logging": {"level": "INFO"},
        "filters": ACCESS_FILTERS,
    }
    path = directory / f"{prefix}.yml"
    path.write_text(yaml.safe_dump(document))
    return path


async def fill_raw(kafka: str, topic: str, lines: list[str], compression: str) -> int:
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka,
        acks="all",
        compression_type=compression_type(compression),
        max_request_size=8 << 20,
        linger_ms=5,
    )
    await producer.start()
    records = 0
    try:
        for start in range(0, len(lines), RECORD_EVENTS):
            events = [
                Event(
                    message=line,
                    timestamp="2026-11-21T00:00:00.000Z",
                    source=Source(kind="file", path="/bench/access.log", offset=start + index),
                )
                for index, line in enumerate(lines[start : start + RECORD_EVENTS])
            ]
            await producer.send(topic, encode(Batch(events=events)), key=b"/bench/access.log")
            records += 1
        await producer.flush()
    finally:
        await producer.stop()
    return records


async def aiokafka_loop(kafka: str, config_path: Path, total: int) -> Throughput:
    """The same parse-and-produce work in a bare aiokafka loop."""
    settle_garbage_collection("aiokafka-loop")  # as the service does: the loop differs from it only in Faust
    config = load_pipeline(config_path, env={})
    parser = RecordParser(FilterChain(config.filters), input_fields_for(config))  # as services/parser/app.py
    topics = config.kafka.topics
    consumer = AIOKafkaConsumer(
        topics.raw,
        bootstrap_servers=kafka,
        auto_offset_reset="earliest",
        group_id=None,
        max_partition_fetch_bytes=8 << 20,
        fetch_max_bytes=64 << 20,
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka,
        acks="all",
        enable_idempotence=True,
        compression_type=compression_type(config.kafka.compression),
        max_request_size=8 << 20,
        linger_ms=5,
    )
    await consumer.start()
    await producer.start()
    done = 0
    started: tuple[float, float] | None = None
    try:
        while done < total:
            for tp, messages in (await consumer.getmany(timeout_ms=1000)).items():
                started = started or (time.perf_counter(), time.process_time())
                for message in messages:
                    result = parser.parse_record(message.value, tp.topic, tp.partition, message.offset)
                    await producer.send(
                        f"{topics.parsed}.baseline", encode(Batch(events=result.parsed)), key=message.key
                    )
                    done += result.received
        await producer.flush()
    finally:
        await consumer.stop()
        await producer.stop()
    assert started is not None
    wall, cpu = time.perf_counter() - started[0], time.process_time() - started[1]
    return Throughput(total / wall, cpu / total * 1e6)


def received(port: int) -> float:
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read().decode()
    except OSError:
        return 0.0
    return sum(
        float(value) for value in re.findall(r"^streamstash_events_received_total\{[^}]*\} (\S+)$", text, re.MULTILINE)
    )


def parser_service(config_path: Path, kafka: str, elasticsearch: str, total: int, log_path: Path) -> Throughput:
    """Run the real parser service, measured from its first received event to its last."""
    port_line = re.compile(r'"port": ?(\d+).*serving metrics')
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streamstash.services.cli",
                "parser",
                "--config",
                str(config_path),
                "--kafka",
                kafka,
                "--elasticsearch",
                elasticsearch,
                "--http-port",
                "0",
                "--http-host",
                "127.0.0.1",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        port = None
        deadline = time.monotonic() + 120
        while port is None and time.monotonic() < deadline:
            match = port_line.search(log_path.read_text(errors="replace"))
            port = int(match.group(1)) if match else None
            time.sleep(0.1)
        if port is None:
            raise RuntimeError(f"parser never served /metrics; see {log_path}")
        first = None
        while time.monotonic() < deadline + 600:
            count = received(port)
            if count > 0 and first is None:
                first = (time.perf_counter(), cpu_seconds(process.pid), count)
            if count >= total:
                assert first is not None
                wall, cpu = time.perf_counter() - first[0], cpu_seconds(process.pid) - first[1]
                lines = count - first[2]
                return Throughput(lines / max(wall, 1e-9), cpu / max(lines, 1) * 1e6)
            time.sleep(0.05)
        raise RuntimeError("parser did not finish in time")
    finally:
        process.terminate()
        process.wait(30)


def main(argv: list[str] | None = None) -> int:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--lines", type=int, default=200_000)
    options.add_argument("--runs", type=int, default=3, help="runs, each on topics of its own; medians printed")
    options.add_argument("--kafka-engine", default=None, help="apache or standin (default: STREAMSTASH_STACK, auto)")
    args = options.parse_args(argv)
    lines = generate_lines(args.lines)
    results: list[tuple[Throughput, Throughput]] = []
    with tempfile.TemporaryDirectory(prefix="streamstash-bench-") as scratch:
        directory = Path(scratch)
        with local_stack(directory / "stack", kafka_engine=args.kafka_engine) as addresses:
            for run in range(1, args.runs + 1):
                service, baseline = measure(directory, addresses.kafka, addresses.elasticsearch, lines)
                results.append((service, baseline))
                print(
                    f"run {run}: service {service.lines_per_s:,.0f} lines/s, {service.cpu_us_per_line:.1f} µs CPU/line;"
                    f" aiokafka loop {baseline.lines_per_s:,.0f} lines/s, {baseline.cpu_us_per_line:.1f} µs CPU/line;"
                    f" ratio {service.lines_per_s / baseline.lines_per_s:.2f}x",
                    flush=True,
                )
    service_rate = statistics.median(service.lines_per_s for service, _ in results)
    baseline_rate = statistics.median(baseline.lines_per_s for _, baseline in results)
    ratio = statistics.median(service.lines_per_s / baseline.lines_per_s for service, baseline in results)
    print(
        f"medians of {len(results)} runs of {len(lines):,} lines:\n"
        f"parser service (Faust, 1 process, Kafka in/out): {service_rate:>10,.0f} lines/s, "
        f"{statistics.median(s.cpu_us_per_line for s, _ in results):.1f} µs CPU/line "
        f"(target >= {TARGET_LINES_PER_S:,}: {'met' if service_rate >= TARGET_LINES_PER_S else 'NOT met'})\n"
        f"plain aiokafka loop, same work:                   {baseline_rate:>10,.0f} lines/s, "
        f"{statistics.median(b.cpu_us_per_line for _, b in results):.1f} µs CPU/line\n"
        f"service / aiokafka loop:                          {ratio:>10.2f}x "
        f"(target >= {TARGET_RATIO}: {'met' if ratio >= TARGET_RATIO else 'NOT met'})"
    )
    return 0


def measure(directory: Path, kafka: str, elasticsearch: str, lines: list[str]) -> tuple[Throughput, Throughput]:
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    config_path = write_config(directory, kafka, elasticsearch, prefix)
    config = load_pipeline(config_path, env={})
    asyncio.run(ensure_topics(config.kafka, extra={f"{config.kafka.topics.parsed}.baseline": {}}))
    asyncio.run(fill_raw(kafka, config.kafka.topics.raw, lines, config.kafka.compression))
    baseline = asyncio.run(aiokafka_loop(kafka, config_path, len(lines)))
    service = parser_service(config_path, kafka, elasticsearch, len(lines), directory / f"{prefix}-parser.log")
    return service, baseline


if __name__ == "__main__":
    raise SystemExit(main())
