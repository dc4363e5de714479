"""Beats input throughput: Elastic's go-lumber client (Filebeat's Logstash output) -> collector -> Kafka.

    python bench/beats.py                      # 200,000 events, windows of 2048, zlib 3 (Filebeat's defaults)
    python bench/beats.py --events 50000 --compress 0 --window 500

The collector runs as its own process (as `streamstash collector`), the client is tests/integration/collector/
golumber built with `go build` (Go's module proxy for go-lumber; a build cache under ~/.cache/streamstash). Timed
from the client's start until it has every event acknowledged, which the collector does only once Kafka holds
them; then logs.raw is read to check the count.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from servers import add_server_options, run_on_servers

from streamstash.stack.manager import StackAddresses

CLIENT = Path(__file__).resolve().parents[1] / "tests" / "integration" / "collector" / "golumber"


def build_client(work: Path) -> Path:
    binary = work / "golumber"
    cache = Path.home() / ".cache" / "streamstash" / "go-build"
    cache.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "GOFLAGS": "-mod=mod", "GOCACHE": str(cache), "CGO_ENABLED": "0"}
    go = shutil.which("go") or sys.exit("go is not installed")
    subprocess.run([go, "build", "-o", str(binary), "."], cwd=CLIENT, env=env, check=True)
    return binary


def run(args: argparse.Namespace, work: Path, addresses: StackAddresses) -> None:
    client = build_client(work)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    pipeline = work / "pipeline.yml"
    pipeline.write_text(
        yaml.safe_dump(
            {
                "kafka": {"topics": {"raw": "bench.beats.raw"}, "partitions": 6},
                "state_dir": str(work / "state"),
                "inputs": [{"type": "beats", "port": port}],
            }
        )
    )
    log = open(work / "collector.log", "wb")  # noqa: SIM115
    collector = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamstash.services.cli",
            "collector",
            "--config",
            str(pipeline),
            "--kafka",
            addresses.kafka,
            "--elasticsearch",
            addresses.elasticsearch,
            "--http-port",
            "0",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while b'"listening"' not in (work / "collector.log").read_bytes():
            if time.monotonic() > deadline or collector.poll() is not None:
                sys.exit("the collector did not start: see " + str(work / "collector.log"))
            time.sleep(0.2)
        started = time.perf_counter()
        result = subprocess.run(
            [
                str(client),
                "-addr",
                f"127.0.0.1:{port}",
                "-count",
                str(args.events),
                "-window",
                str(args.window),
                "-compress",
                str(args.compress),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        elapsed = time.perf_counter() - started
        outcome = json.loads(result.stdout.strip().splitlines()[-1])
        print(
            f"{args.events} events, windows of {args.window}, zlib {args.compress}: {elapsed:.2f} s, "
            f"{args.events / elapsed:,.0f} events/s acknowledged after Kafka (client: {outcome})"
        )
    finally:
        collector.terminate()
        collector.wait(60)
        log.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--window", type=int, default=2048)
    parser.add_argument("--compress", type=int, default=3)
    add_server_options(parser)
    run_on_servers(parser.parse_args(), "bench-beats-", run)


if __name__ == "__main__":
    main()
