"""Elastic's go-lumber client (what Filebeat's Logstash output is built on) against a real collector and Kafka.

Thousands of events, compressed and not, with the collector stopped (SIGTERM) and killed (kill -9) while they
flow. After a SIGTERM logs.raw holds every event exactly once: the stopping collector acknowledged what Kafka had
taken and the client sent only the rest again. After kill -9 the client sends again what it had not been told
about, so logs.raw may hold some events twice, always with the same id, and Elasticsearch, where that id is the
document id, holds every event exactly once. A second port speaks mutual TLS.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from elasticsearch import Elasticsearch

from streamstash.events.envelope import Event
from tests.helpers.elastic import all_documents, count, wait_for_count
from tests.helpers.pipelines import write_pipeline
from tests.helpers.processes import ServiceProcess, start_services, stop_all
from tests.helpers.tls import Certificates, make_certificates
from tests.helpers.waiting import wait_until
from tests.integration.collector.support import create_topics, raw_events

if TYPE_CHECKING:  # imported at run time, pytest would try to collect it as a test class
    from tests.helpers.pipelines import TestPipeline

pytestmark = pytest.mark.integration

CLIENT_SOURCE = Path(__file__).parent / "golumber"
# Survives between runs, so the client is compiled once per machine, not once per session.
GO_CACHE = Path.home() / ".cache" / "streamstash" / "go-build"


@pytest.fixture(scope="session")
def golumber(tmp_path_factory: pytest.TempPathFactory) -> Path:
    go = shutil.which("go")
    if go is None:
        pytest.skip("Go is not installed: the go-lumber client cannot be built")
    binary = tmp_path_factory.mktemp("golumber") / "golumber-test"
    env = {**os.environ, "GOFLAGS": "-mod=mod", "GOCACHE": str(GO_CACHE), "CGO_ENABLED": "0"}
    GO_CACHE.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [go, "build", "-o", str(binary), "."], cwd=CLIENT_SOURCE, env=env, check=True, capture_output=True, timeout=540
    )
    return binary


class Client:
    """One run of the go-lumber client; its JSON progress lines are read as they come."""

    def __init__(self, binary: Path, port: int, *args: str) -> None:
        self.process = subprocess.Popen(
            [str(binary), "-addr", f"127.0.0.1:{port}", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.last: dict = {}
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.last = json.loads(line)

    @property
    def acked(self) -> int:
        return int(self.last.get("acked", 0))

    def finish(self, timeout: float = 180) -> dict:
        returncode = self.process.wait(timeout)
        self._reader.join(10)
        assert self.process.stderr is not None
        assert returncode == 0 and self.last.get("done"), (self.last, self.process.stderr.read()[-2000:])
        return self.last


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def raw_events_once_there(kafka: str, pipeline: TestPipeline, expected: int) -> list[Event]:
    """logs.raw as soon as it holds ``expected`` events (a read may come back empty while the broker's metadata
    lags under load); fewer after a minute is a failure, reported by the assertions that follow."""
    found: list[Event] = []

    def enough() -> bool:
        nonlocal found
        found = raw_events(kafka, pipeline)
        return len(found) >= expected

    with contextlib.suppress(AssertionError):
        wait_until(enough, timeout=60, interval=1)
    return found


def numbers(events: list) -> Counter:
    return Counter(event.fields["n"] for event in events)


@pytest.fixture
def certificates(tmp_path: Path) -> Iterator[Certificates]:
    yield make_certificates(tmp_path / "tls")


@pytest.fixture
def started() -> Iterator[list[ServiceProcess | Client]]:
    """Whatever the test starts; anything still running when it ends (a failure) is ended."""
    processes: list[ServiceProcess | Client] = []
    yield processes
    for process in processes:
        if isinstance(process, Client):
            if process.process.poll() is None:
                process.process.kill()
                process.process.wait()
        elif process.alive():
            process.stop()


def test_go_lumber_through_sigterm_and_kill9(
    servers,
    es: Elasticsearch,
    golumber: Path,
    certificates: Certificates,
    started: list[ServiceProcess | Client],
    tmp_path: Path,
    log_dir: Path,
) -> None:
    port, tls_port = free_port(), free_port()
    pipeline = write_pipeline(
        tmp_path,
        {
            "inputs": [
                {"type": "beats", "port": port},
                {
                    "type": "beats",
                    "port": tls_port,
                    "ssl_enabled": True,
                    "ssl_certificate": str(certificates.server_cert),
                    "ssl_key": str(certificates.server_key),
                    "ssl_certificate_authorities": [str(certificates.ca)],
                    "ssl_client_authentication": "required",
                },
            ],
            "collector": {"batch": {"linger_ms": 20, "max_events": 200}},
        },
    )
    create_topics(pipeline, servers.kafka)

    def collector(name: str) -> ServiceProcess:
        process = ServiceProcess("collector", pipeline.path, servers.kafka, servers.elasticsearch, log_dir, name=name)
        started.append(process)
        wait_until(lambda: process.log_text().count('"listening"') == 2, timeout=60, message=f"{name} not listening")
        return process

    def restart_midstream(running: ServiceProcess, client: Client, after: int, hard: bool, name: str) -> ServiceProcess:
        wait_until(lambda: client.acked >= after, timeout=120, interval=0.02, message=f"client stuck at {client.acked}")
        if hard:
            running.kill9()
        else:
            assert running.stop() == 0
        return collector(name)

    # 1. Compressed windows, SIGTERM in the middle: exactly once in logs.raw.
    running = collector("collector-1")
    first = Client(
        golumber, port, "-start", "0", "-count", "3000", "-window", "250", "-compress", "3", "-pause", "30ms"
    )
    started.append(first)
    running = restart_midstream(running, first, 1000, hard=False, name="collector-2")
    outcome = first.finish()
    assert outcome["reconnects"] >= 1, outcome  # the stop really happened while events were flowing
    seen = numbers(raw_events_once_there(servers.kafka, pipeline, 3000))
    assert set(seen) == set(range(3000)), f"missing: {sorted(set(range(3000)) - set(seen))[:10]}"
    assert max(seen.values()) == 1, f"doubled after SIGTERM: {[n for n, c in seen.items() if c > 1][:10]}"

    # 2. Uncompressed windows nearly back to back, kill -9 twice in the middle: nothing lost; whatever is doubled
    #    keeps its id. (Most of the time a batch is on its way to Kafka when a kill lands, so some are doubled.)
    second = Client(golumber, port, "-start", "3000", "-count", "4000", "-window", "200", "-pause", "10ms")
    started.append(second)
    running = restart_midstream(running, second, 1000, hard=True, name="collector-3")
    running = restart_midstream(running, second, 2500, hard=True, name="collector-4")
    assert second.finish()["reconnects"] >= 2

    # 3. Mutual TLS on the second port.
    third = Client(
        golumber,
        tls_port,
        *("-start", "7000", "-count", "200", "-window", "50", "-compress", "1"),
        *("-ca", str(certificates.ca), "-cert", str(certificates.client_cert), "-key", str(certificates.client_key)),
    )
    started.append(third)
    third.finish()

    events = raw_events_once_there(servers.kafka, pipeline, 7200)
    assert running.stop() == 0
    seen = numbers(events)
    print(f"logs.raw holds {len(events)} events for 7200, {sum(1 for n in seen.values() if n > 1)} of them twice")
    assert set(seen) == set(range(7200)), f"missing: {sorted(set(range(7200)) - set(seen))[:10]}"
    ids: dict[int, set[str | None]] = {}
    for event in events:
        ids.setdefault(event.fields["n"], set()).add(event.id)
    assert all(len(found) == 1 and None not in found for found in ids.values()), "a re-sent event changed its id"
    tls_event = next(event for event in events if event.fields["n"] == 7000)
    assert tls_event.fields["@metadata"]["tls_peer"]["status"] == "verified"

    # 4. Parsed and indexed: one document per event, whatever logs.raw holds twice.
    services = start_services(["parser", "indexer"], pipeline.path, servers.kafka, servers.elasticsearch, log_dir)
    started.extend(services)
    try:
        wait_for_count(es, pipeline.index, 7200, timeout=180)
        wait_until(
            lambda: count(es, pipeline.index) == 7200 and all(p.alive() for p in services),
            timeout=30,
            message="index count",
        )
    finally:
        stop_all(services)
    documents = all_documents(es, pipeline.index, size=10_000)
    assert sorted(doc["n"] for doc in documents) == list(range(7200))
    sample = next(doc for doc in documents if doc["n"] == 42)
    assert sample["message"] == "event 42" and sample["log"]["file"]["path"] == "/var/log/test.log"
    assert sample["source"]["kind"] == "beats"
