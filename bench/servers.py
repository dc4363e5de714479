"""Where a benchmark runs: real servers when given, else a local stack started for the run (every bench's)."""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from streamstash import names
from streamstash.stack.manager import LocalStack, StackAddresses


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


def run_on_servers(
    args: argparse.Namespace, prefix: str, run: Callable[[argparse.Namespace, Path, StackAddresses], None]
) -> None:
    """``run(args, work_dir, addresses)`` against --kafka/--elasticsearch, or a stand-in stopped afterwards."""
    work = Path(tempfile.mkdtemp(prefix=prefix))
    if args.kafka and args.elasticsearch:
        run(args, work, StackAddresses(args.kafka, args.elasticsearch, work, 0))
        return
    with local_stack(work / "stack") as addresses:
        run(args, work, addresses)


@contextlib.contextmanager
def local_stack(directory: Path) -> Iterator[StackAddresses]:
    """A local stack (Kafka and the Elasticsearch stand-in) in ``directory``, stopped when the block ends."""
    stack = LocalStack(directory)
    addresses = stack.up()
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
