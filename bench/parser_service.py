"""Parser service end to end (Kafka in, Kafka out, one process) beside a plain aiokafka loop doing the same work.

    python bench/parser_service.py --lines 200000

Both read the same `logs.raw` records (batches of 500 generated access lines), run the same filter chain
(grok COMBINEDAPACHELOG with typed response/bytes) and produce parsed batches. The aiokafka loop is the
ceiling for our record format (no Faust); the service figure is taken from its own /metrics, from its
first event to its last, so Faust's start-up is not counted.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

import yaml
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from servers import local_stack
from workload import GROK_PATTERN, generate_lines

from streamstash.config import load_pipeline
from streamstash.events.envelope import Batch, Event, Source, encode
from streamstash.filters import FilterChain
from streamstash.kafka.topics import ensure_topics
from streamstash.services.parser.logic import RecordParser

RECORD_EVENTS = 500


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
        "filters": [{"grok": {"match": {"message": [GROK_PATTERN]}}}],
    }
    path = directory / f"{prefix}.yml"
    path.write_text(yaml.safe_dump(document))
    return path


async def fill_raw(kafka: str, topic: str, lines: list[str]) -> int:
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka, acks="all", compression_type="lz4", max_request_size=8 << 20, linger_ms=5
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


async def aiokafka_loop(kafka: str, config_path: Path, total: int) -> float:
    """The same parse-and-produce work in a bare aiokafka loop; returns lines/s."""
    config = load_pipeline(config_path, env={})
    parser = RecordParser(FilterChain(config.filters))
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
        bootstrap_servers=kafka, acks="all", compression_type="lz4", max_request_size=8 << 20, linger_ms=5
    )
    await consumer.start()
    await producer.start()
    done = 0
    started = None
    try:
        while done < total:
            for tp, messages in (await consumer.getmany(timeout_ms=1000)).items():
                started = started or time.perf_counter()
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
    return total / (time.perf_counter() - (started or time.perf_counter()))


def received(port: int) -> float:
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read().decode()
    except OSError:
        return 0.0
    return sum(
        float(value) for value in re.findall(r"^streamstash_events_received_total\{[^}]*\} (\S+)$", text, re.MULTILINE)
    )


def parser_service(config_path: Path, kafka: str, elasticsearch: str, total: int, log_path: Path) -> float:
    """Run the real parser service; lines/s from its first received event to its last."""
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
                first = (time.perf_counter(), count)
            if count >= total:
                assert first is not None
                return (count - first[1]) / max(time.perf_counter() - first[0], 1e-9)
            time.sleep(0.05)
        raise RuntimeError("parser did not finish in time")
    finally:
        process.terminate()
        process.wait(30)


def main(argv: list[str] | None = None) -> int:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--lines", type=int, default=200_000)
    args = options.parse_args(argv)
    print(measure(args.lines))
    return 0


def measure(count: int) -> str:
    lines = generate_lines(count)
    with tempfile.TemporaryDirectory(prefix="streamstash-bench-") as scratch:
        directory = Path(scratch)
        with local_stack(directory / "stack") as addresses:
            prefix = f"bench{uuid.uuid4().hex[:8]}"
            config_path = write_config(directory, addresses.kafka, addresses.elasticsearch, prefix)
            config = load_pipeline(config_path, env={})
            asyncio.run(ensure_topics(config.kafka, extra={f"{config.kafka.topics.parsed}.baseline": {}}))
            asyncio.run(fill_raw(addresses.kafka, config.kafka.topics.raw, lines))
            baseline = asyncio.run(aiokafka_loop(addresses.kafka, config_path, count))
            service = parser_service(
                config_path, addresses.kafka, addresses.elasticsearch, count, directory / "parser.log"
            )
    return (
        f"parser service (Faust, 1 process, Kafka in/out): {service:>10,.0f} lines/s\n"
        f"plain aiokafka loop, same work:                   {baseline:>10,.0f} lines/s\n"
        f"service / aiokafka loop:                          {service / baseline:>10.2f}x   "
        f"(target: service >= 25,000 lines/s)"
    )


if __name__ == "__main__":
    raise SystemExit(main())
