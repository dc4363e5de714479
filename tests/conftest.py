"""Session fixtures: the local stack once per run (or real servers from the environment).

The local stack's Kafka is Apache Kafka by default (``STREAMSTASH_STACK=auto`` picks it where Java and its
jars, or Maven, are at hand); ``STREAMSTASH_STACK=standin`` runs the same suite on the noida-db emulator,
with the services' stand-in repairs switched on for it alone.

``servers`` is the stack with the noida-db stand-in as Elasticsearch. The indexer's tests also run against
a real search engine: ``opensearch_servers`` is a second stack, started once per run, whose search
engine is an OpenSearch node (see ``tests/helpers/engines.py``, which parametrises a test over both).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch
from opensearchpy import OpenSearch

from streamstash import names
from streamstash.stack.errors import StackError
from streamstash.stack.manager import LocalStack, StackAddresses, resolve_kafka_engine
from streamstash.stack.opensearch_node import OpenSearchServer


@dataclass(frozen=True)
class Servers:
    kafka: str
    elasticsearch: str
    kafka_engine: str  # "apache" or "standin" for the local stack; "external" for servers from the environment
    search: str = "standin"  # the search engine: "standin", "opensearch" or "external"
    distribution: str = "elasticsearch"  # elasticsearch.distribution the services need for it
    stack: LocalStack | None = field(default=None, compare=False)  # the local stack serving them, if any


def requested_engine() -> str:
    return os.environ.get(names.ENV_STACK) or "auto"


def session_engine() -> str:
    """The Kafka engine of this run's local stacks: what ``STREAMSTASH_STACK`` asks for, ``auto`` resolved."""
    return resolve_kafka_engine(requested_engine())


def pytest_report_header(config: pytest.Config) -> str:
    if os.environ.get(names.ENV_KAFKA) and os.environ.get(names.ENV_ELASTICSEARCH):
        return (
            f"servers: {os.environ[names.ENV_KAFKA]} and {os.environ[names.ENV_ELASTICSEARCH]} (from the environment)"
        )
    return f"local stack: kafka engine {session_engine()} (STREAMSTASH_STACK={requested_engine()})"


@pytest.fixture(scope="session")
def standin_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    """Kafka + Elasticsearch: STREAMSTASH_KAFKA / STREAMSTASH_ELASTICSEARCH if set, else the local stack."""
    kafka = os.environ.get(names.ENV_KAFKA)
    elasticsearch = os.environ.get(names.ENV_ELASTICSEARCH)
    if kafka and elasticsearch:
        distribution = os.environ.get(names.ENV_ELASTICSEARCH_DISTRIBUTION) or "elasticsearch"
        yield Servers(kafka, elasticsearch, "external", "external", distribution)
        return
    stack = LocalStack(tmp_path_factory.mktemp("stack"), kafka_engine=session_engine())
    addresses = stack.up()
    if addresses.kafka_standin:
        # Every service process a test starts inherits it: the stand-in repairs, for the stand-in only.
        os.environ[names.ENV_KAFKA_STANDIN] = "1"
    try:
        yield Servers(addresses.kafka, addresses.elasticsearch, addresses.kafka_engine, stack=stack)
    finally:
        stack.down()


@pytest.fixture(scope="session")
def servers(standin_servers: Servers) -> Servers:
    """The run's servers: Kafka and the stand-in's Elasticsearch (tests/helpers/engines.py adds OpenSearch)."""
    return standin_servers


@pytest.fixture(scope="session")
def opensearch_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    """Kafka + an OpenSearch node, a stack of their own, once per run (started by the first test that asks)."""
    try:
        OpenSearchServer().check()
    except StackError as exc:
        pytest.skip(f"OpenSearch cannot run here: {exc}")
    stack = LocalStack(tmp_path_factory.mktemp("opensearch-stack"), kafka_engine=session_engine(), search="opensearch")
    addresses = stack.up()
    if addresses.kafka_standin:
        os.environ[names.ENV_KAFKA_STANDIN] = "1"
    try:
        yield Servers(
            addresses.kafka,
            addresses.elasticsearch,
            addresses.kafka_engine,
            search="opensearch",
            distribution=addresses.search_distribution,
            stack=stack,
        )
    finally:
        stack.down()


@pytest.fixture
def own_stack(tmp_path: Path) -> Iterator[Callable[..., tuple[LocalStack, StackAddresses]]]:
    """A private local stack of this run's engine, for tests that stop, kill or restart its servers."""
    stacks: list[LocalStack] = []

    def start(**options: object) -> tuple[LocalStack, StackAddresses]:
        stack = LocalStack(tmp_path / f"stack-{len(stacks)}", kafka_engine=session_engine(), **options)  # type: ignore[arg-type]
        stacks.append(stack)
        return stack, stack.up()

    yield start
    for stack in stacks:
        stack.down()


@pytest.fixture(scope="session")
def elasticsearch_client(standin_servers: Servers) -> Iterator[Elasticsearch]:
    client = Elasticsearch(standin_servers.elasticsearch, request_timeout=30)
    yield client
    client.close()


@pytest.fixture(scope="session")
def es(elasticsearch_client: Elasticsearch) -> Elasticsearch:
    return elasticsearch_client


@pytest.fixture(scope="session")
def opensearch_client(opensearch_servers: Servers) -> Iterator[OpenSearch]:
    client = OpenSearch(opensearch_servers.elasticsearch, timeout=30)
    yield client
    client.close()


@pytest.fixture
def log_dir(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Path]:
    """Where service processes of this test log; printed when the test fails."""
    directory = tmp_path / "logs"
    directory.mkdir()
    yield directory
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        for log_file in sorted(directory.glob("*.log")):
            print(f"\n===== {log_file.name} (last 80 lines) =====")
            print("\n".join(log_file.read_text(errors="replace").splitlines()[-80:]))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)
