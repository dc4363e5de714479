"""Where a benchmark runs: real servers when given, else a local stand-in started for the run."""

from __future__ import annotations

import argparse
import os
import tempfile
from collections.abc import Callable
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
    stack = LocalStack(work / "stack")
    addresses = stack.up()
    try:
        run(args, work, addresses)
    finally:
        stack.down()
