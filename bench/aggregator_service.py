"""The aggregator service alone on bench/e2e.py's workload, fed at a steady rate: its CPU per event, idle and busy.

    python bench/aggregator_service.py [--lines 100000] [--rate 20000] [--kafka-engine apache] [--profile DIR]

One `streamstash aggregator` process on a local stack (or --kafka). First its CPU while idle (its group
joined, nothing to read) for --idle-seconds; then the records of bench/aggregator_cpu.py (e2e's parsed
records: access lines no aggregation takes, a sixth of the records task lines) are produced to
`logs.parsed` at --rate events/s, as e2e's parser would write them, and the aggregator's CPU over that
span is divided by the events its two stages received (e2e's denominator). Baseline of the same run: the
CPU the same process spent idle for as long, so what the events cost is the difference.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import profiles
from aggregator_cpu import mixed_parsed_values
from e2e import metric_total, pipeline
from procstat import cpu_seconds
from servers import add_server_options, run_on_servers
from workload import RECORD_EVENTS

from streamstash.config import load_pipeline
from streamstash.kafka.clients import make_producer
from streamstash.kafka.topics import ensure_topics
from streamstash.stack.manager import StackAddresses
from tests.helpers.processes import ServiceProcess


def received(port: int) -> float:
    try:
        return metric_total(port, "streamstash_events_received_total")
    except OSError:
        return 0.0


async def produce(config_path: Path, values: list[bytes], rate: float) -> None:
    config = load_pipeline(config_path, env={})
    producer = make_producer(config.kafka, client_id="bench-feeder")
    await producer.start()
    try:
        started = time.monotonic()
        for number, value in enumerate(values):
            due = started + number * RECORD_EVENTS / rate
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            await producer.send(config.kafka.topics.parsed, value, key=f"source-{number % 2}".encode())
        await producer.flush()
    finally:
        await producer.stop()


def run(args: argparse.Namespace, work: Path, addresses: StackAddresses) -> None:
    path, _, _ = pipeline(work, work / "access.log", work / "tasks.log")
    document = yaml.safe_load(path.read_text())
    document["kafka"]["bootstrap_servers"] = addresses.kafka
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    config = load_pipeline(path, env={})
    asyncio.run(ensure_topics(config.kafka))
    values = mixed_parsed_values(config, args.lines)
    service = ServiceProcess("aggregator", path, addresses.kafka, addresses.elasticsearch, work)
    spy = None
    try:
        port = service.http_port
        time.sleep(args.settle_seconds)  # the group joined and partitions assigned
        pid = service.process.pid
        idle_before = cpu_seconds(pid)
        time.sleep(args.idle_seconds)
        idle_cpu = cpu_seconds(pid) - idle_before
        print(f"idle: {idle_cpu:.3f} CPU-s in {args.idle_seconds:g} s ({idle_cpu / args.idle_seconds:.1%} of a core)")
        if args.profile:
            spy = profiles.start("aggregator", pid, args.profile)
        before, cpu_before, started = received(port), cpu_seconds(pid), time.monotonic()
        asyncio.run(produce(path, values, args.rate))
        expected = before + args.lines + 2 * (args.lines // 5)  # parsed access and task lines, then task events
        deadline = time.monotonic() + 120
        while received(port) < expected and time.monotonic() < deadline:
            time.sleep(0.2)
        elapsed, cpu = time.monotonic() - started, cpu_seconds(pid) - cpu_before
        events = received(port) - before
    finally:
        if spy is not None:
            profiles.stop(spy)
        service.stop()
    idle_share = idle_cpu / args.idle_seconds * elapsed
    print(f"busy: {events:,.0f} events received in {elapsed:.1f} s, {cpu:.2f} CPU-s")
    print(f"aggregator CPU: {cpu / events * 1e6:.2f} us/event")
    print(f"  of which idle (baseline, idle CPU for as long): {idle_share / events * 1e6:.2f} us/event")
    print(f"  the events' own: {(cpu - idle_share) / events * 1e6:.2f} us/event")
    if spy is not None:
        print(profiles.summarise(spy, 25))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--rate", type=float, default=20_000, help="parsed events/s produced")
    parser.add_argument("--idle-seconds", type=float, default=10)
    parser.add_argument("--settle-seconds", type=float, default=8)
    parser.add_argument("--profile", type=Path, metavar="DIR")
    add_server_options(parser)
    run_on_servers(parser.parse_args(), "bench-aggsvc-", run)


if __name__ == "__main__":
    main()
