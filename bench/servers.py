"""Where a benchmark runs: real servers when given, else a local stack started for the run (its Kafka is
the engine `--kafka-engine` / STREAMSTASH_STACK asks for; `auto` takes Apache Kafka where it can run)."""

from __future__ import annotations

import argparse
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from streamstash import names
from streamstash.stack.manager import KAFKA_ENGINES, LocalStack, StackAddresses


def add_server_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--kafka",
        default=os.environ.get(names.ENV_KAFKA),
        help="Kafka bootstrap servers (default: a local stand-in started for the run)",
    )
    parser.add_argument(
        "--elasticsearch",
        default=os.environ.get(names.ENV_ELASTICSEARCH),
        help="Elasticsearch URL (default: the local stand-in)",
    )
    parser.add_argument(
        "--kafka-engine",
        default=os.environ.get(names.ENV_STACK) or "auto",
        choices=KAFKA_ENGINES,
        help="Kafka of the local stack started for the run (default: auto)",
    )


def start_local_stack(directory: Path, kafka_engine: str = "auto") -> tuple[LocalStack, StackAddresses]:
    """A local stack for a benchmark; services it starts inherit the stand-in's repairs if it runs the stand-in."""
    stack = LocalStack(directory, kafka_engine=kafka_engine)
    addresses = stack.up()
    print(
        f"local stack: kafka {addresses.kafka} ({addresses.titles['kafka']}), elasticsearch "
        f"{addresses.elasticsearch} ({addresses.titles['elasticsearch']})",
        flush=True,
    )
    if addresses.kafka_standin:
        os.environ[names.ENV_KAFKA_STANDIN] = "1"
    return stack, addresses


def run_on_servers(
    args: argparse.Namespace, prefix: str, run: Callable[[argparse.Namespace, Path, StackAddresses], None]
) -> None:
    """``run(args, work_dir, addresses)`` against --kafka/--elasticsearch, or a stand-in stopped afterwards."""
    work = Path(tempfile.mkdtemp(prefix=prefix))
    if args.kafka and args.elasticsearch:
        run(args, work, StackAddresses(args.kafka, args.elasticsearch, work, kafka_engine="external"))
        return
    stack, addresses = start_local_stack(work / "stack", args.kafka_engine)
    try:
        run(args, work, addresses)
    finally:
        stack.down()
