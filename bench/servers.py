"""Where a benchmark runs: real servers when given, else a local stack started for the run (its Kafka is
the engine `--kafka-engine` / STREAMSTASH_STACK asks for, `auto` taking Apache Kafka where it can run; its
search engine the one `--search` / STREAMSTASH_STACK_SEARCH asks for: the stand-in or an OpenSearch node).
Every bench starts its local stack through here."""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from streamstash import names
from streamstash.stack.manager import KAFKA_ENGINES, SEARCH_ENGINES, LocalStack, StackAddresses


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
    parser.add_argument(
        "--search",
        default=os.environ.get(names.ENV_STACK_SEARCH) or "standin",
        choices=SEARCH_ENGINES,
        help="Search engine of the local stack started for the run (default: standin)",
    )
    parser.add_argument(
        "--elasticsearch-distribution",
        default=os.environ.get(names.ENV_ELASTICSEARCH_DISTRIBUTION) or "elasticsearch",
        choices=("elasticsearch", "opensearch"),
        help="What --elasticsearch runs (default: elasticsearch)",
    )


def start_local_stack(
    directory: Path, kafka_engine: str = "auto", search: str = "standin"
) -> tuple[LocalStack, StackAddresses]:
    """A local stack for a benchmark; services it starts inherit the stand-in's repairs if it runs the stand-in,
    and the distribution of its search engine."""
    stack = LocalStack(directory, kafka_engine=kafka_engine, search=search)
    addresses = stack.up()
    print(
        f"local stack: kafka {addresses.kafka} ({addresses.titles['kafka']}), elasticsearch "
        f"{addresses.elasticsearch} ({addresses.titles['elasticsearch']})",
        flush=True,
    )
    if addresses.kafka_standin:
        os.environ[names.ENV_KAFKA_STANDIN] = "1"
    os.environ[names.ENV_ELASTICSEARCH_DISTRIBUTION] = addresses.search_distribution
    return stack, addresses


def search_client(addresses: StackAddresses, timeout: float = 60) -> Any:
    """A synchronous client of the run's search engine: opensearch-py's for OpenSearch, else Elasticsearch's."""
    if addresses.search_distribution == "opensearch":
        from opensearchpy import OpenSearch

        return OpenSearch(addresses.elasticsearch, timeout=timeout)
    from elasticsearch import Elasticsearch

    return Elasticsearch(addresses.elasticsearch, request_timeout=timeout)


@contextlib.contextmanager
def local_stack(
    directory: Path, kafka_engine: str | None = None, search: str | None = None
) -> Iterator[StackAddresses]:
    """A local stack in ``directory`` (engines: as given, else STREAMSTASH_STACK / STREAMSTASH_STACK_SEARCH, else
    auto and the stand-in), stopped after."""
    stack, addresses = start_local_stack(
        directory,
        kafka_engine or os.environ.get(names.ENV_STACK) or "auto",
        search or os.environ.get(names.ENV_STACK_SEARCH) or "standin",
    )
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
        search = "opensearch" if args.elasticsearch_distribution == "opensearch" else "external"
        os.environ[names.ENV_ELASTICSEARCH_DISTRIBUTION] = args.elasticsearch_distribution
        run(args, work, StackAddresses(args.kafka, args.elasticsearch, work, "external", search_engine=search))
        return
    with local_stack(work / "stack", args.kafka_engine, args.search) as addresses:
        run(args, work, addresses)
