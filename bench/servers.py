"""Where a benchmark runs: real servers when given, else a local stack started for the run (its Kafka is
the engine `--kafka-engine` / STREAMSTASH_STACK asks for; `auto` takes Apache Kafka where it can run).
Every bench starts its local stack through here."""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
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


@contextlib.contextmanager
def local_stack(directory: Path, kafka_engine: str | None = None) -> Iterator[StackAddresses]:
    """A local stack in ``directory`` (engine: as given, else STREAMSTASH_STACK, else auto), stopped after."""
    stack, addresses = start_local_stack(directory, kafka_engine or os.environ.get(names.ENV_STACK) or "auto")
    try:
        yield addresses
    finally:
        stack.down()


@contextlib.contextmanager
def kafka_or_local(kafka: str | None, directory: Path) -> Iterator[str]:
    """``kafka`` when given (--kafka), else the Kafka of a local stack started in ``directory``."""
    if kafka:
        yield kafka
        return
    with local_stack(directory) as addresses:
        yield addresses.kafka


def run_on_servers(
    args: argparse.Namespace, prefix: str, run: Callable[[argparse.Namespace, Path, StackAddresses], None]
) -> None:
    """``run(args, work_dir, addresses)`` against --kafka/--elasticsearch, or a local stack stopped afterwards."""
    work = Path(tempfile.mkdtemp(prefix=prefix))
    if args.kafka and args.elasticsearch:
        run(args, work, StackAddresses(args.kafka, args.elasticsearch, work, kafka_engine="external"))
        return
    with local_stack(work / "stack", args.kafka_engine) as addresses:
        run(args, work, addresses)
