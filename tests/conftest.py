"""Session fixtures: the local stack once per run (or real servers from the environment)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from streamstash import names


@dataclass(frozen=True)
class Servers:
    kafka: str
    elasticsearch: str


@pytest.fixture(scope="session")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    """Kafka + Elasticsearch: STREAMSTASH_KAFKA / STREAMSTASH_ELASTICSEARCH if set, else the local stack."""
    kafka = os.environ.get(names.ENV_KAFKA)
    elasticsearch = os.environ.get(names.ENV_ELASTICSEARCH)
    if kafka and elasticsearch:
        yield Servers(kafka, elasticsearch)
        return
    from streamstash.stack import LocalStack

    stack = LocalStack(tmp_path_factory.mktemp("stack"))
    addresses = stack.up()
    try:
        yield Servers(addresses.kafka, addresses.elasticsearch)
    finally:
        stack.down()


@pytest.fixture(scope="session")
def es(servers: Servers) -> Iterator[Elasticsearch]:
    client = Elasticsearch(servers.elasticsearch, request_timeout=30)
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
