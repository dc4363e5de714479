"""The local stack manager against the real servers: the noida-db binary and Apache Kafka (each test on its own
tmp_path, free ports). Part of the default run on every engine: the stand-in's smoke set."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from elasticsearch import AsyncElasticsearch

from streamstash.stack import standin as stack_module
from streamstash.stack.manager import KAFKA_ENGINES, LocalStack, StackError
from streamstash.stack.ports import free_port

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]
ENGINES = [engine for engine in KAFKA_ENGINES if engine != "auto"]

TOPIC = "stack.test"
INDEX = "stack-test"


@pytest.fixture(params=ENGINES)
def local_stack(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[LocalStack]:
    stack = LocalStack(tmp_path / "stack", kafka_engine=request.param)
    try:
        yield stack
    finally:
        stack.down(timeout=5)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


async def _produce(bootstrap: str, value: bytes) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(TOPIC, num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(TOPIC, value, key=b"k")
    finally:
        await producer.stop()


async def _consume_all(bootstrap: str) -> list[bytes]:
    consumer = AIOKafkaConsumer(
        TOPIC, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False, group_id=None
    )
    await consumer.start()
    try:
        values: list[bytes] = []
        deadline = time.monotonic() + 10
        while not values and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            values += [record.value for records in batches.values() for record in records]
        return values
    finally:
        await consumer.stop()


async def test_up_use_restart_down(local_stack: LocalStack, tmp_path: Path) -> None:
    addresses = local_stack.up()
    engine = local_stack.requested_engine
    assert addresses.kafka_engine == engine
    assert addresses.kafka.startswith("127.0.0.1:")
    assert addresses.elasticsearch.startswith("http://127.0.0.1:")
    assert addresses.data_dir == (tmp_path / "stack").absolute()
    assert local_stack.status() == addresses
    state = json.loads((tmp_path / "stack" / "stack.json").read_text())
    servers = {"standin"} if engine == "standin" else {"standin", "kafka"}
    assert set(state["servers"]) == servers and all(entry["ready"] for entry in state["servers"].values())
    assert {name: entry["pid"] for name, entry in state["servers"].items()} == addresses.pids
    assert (tmp_path / "stack" / "noida").is_dir() and (tmp_path / "stack" / "noida.log").is_file()
    if engine == "apache":
        assert addresses.titles["kafka"].startswith("Apache Kafka 4.")
        assert (tmp_path / "stack" / "kafka" / "data" / "meta.properties").is_file()
        assert "Kafka Server started" in (tmp_path / "stack" / "kafka.log").read_text()

    # Idempotent, also from another LocalStack object (any engine asked: auto) and from another process.
    assert LocalStack(tmp_path / "stack").up() == addresses
    seen = subprocess.run(  # noqa: ASYNC221 - nothing else runs on the test's loop meanwhile
        [
            sys.executable,
            "-c",
            (
                "import sys; from pathlib import Path; from streamstash.stack.manager import LocalStack; "
                "print(LocalStack(Path(sys.argv[1])).status().kafka)"
            ),
            str(tmp_path / "stack"),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert seen.stdout.strip() == addresses.kafka

    await _produce(addresses.kafka, b"hello")
    assert await _consume_all(addresses.kafka) == [b"hello"]
    async with AsyncElasticsearch(addresses.elasticsearch, request_timeout=10) as es:
        await es.index(index=INDEX, id="1", document={"message": "hello"}, refresh=True)
        assert (await es.get(index=INDEX, id="1"))["_source"] == {"message": "hello"}

    restarted = local_stack.restart()
    assert all(restarted.pids[name] != pid and not _alive(pid) for name, pid in addresses.pids.items())
    assert (restarted.kafka, restarted.elasticsearch) == (addresses.kafka, addresses.elasticsearch)
    assert await _consume_all(restarted.kafka) == [b"hello"]
    async with AsyncElasticsearch(restarted.elasticsearch, request_timeout=10) as es:
        assert (await es.get(index=INDEX, id="1"))["_source"] == {"message": "hello"}

    assert local_stack.down() is True
    assert not any(_alive(pid) for pid in restarted.pids.values())
    assert local_stack.status() is None
    assert not (tmp_path / "stack" / "stack.json").exists()
    assert local_stack.down() is False


@pytest.mark.parametrize("hard", [False, True], ids=["sigterm", "kill9"])
async def test_kafka_alone_stops_and_comes_back_on_its_port_with_its_data(local_stack: LocalStack, hard: bool) -> None:
    if hard and local_stack.requested_engine == "standin":
        pytest.skip("the stand-in serves Kafka and Elasticsearch in one process: it has no hard stop of Kafka alone")
    addresses = local_stack.up()
    await _produce(addresses.kafka, b"kept")
    local_stack.stop_kafka(hard=hard)
    if local_stack.requested_engine == "apache":
        assert local_stack.status() is None  # not all of it runs (status looks at processes, never probes)
    async with AsyncElasticsearch(addresses.elasticsearch, request_timeout=10) as es:
        assert (await es.info())["version"]  # Elasticsearch stayed up
    back = local_stack.start_kafka()
    assert back.kafka == addresses.kafka and local_stack.status() is not None
    assert await _consume_all(back.kafka) == [b"kept"]


def test_configured_port_taken(tmp_path: Path) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        with pytest.raises(StackError, match=rf"port {port}\b.*kafka"):
            LocalStack(tmp_path / "stack", kafka_port=port, kafka_engine="standin").up(timeout=10)
        with pytest.raises(StackError, match=rf"port {port}\b.*elasticsearch"):
            LocalStack(tmp_path / "stack", elasticsearch_port=port, kafka_engine="standin").up(timeout=10)
    assert not (tmp_path / "stack" / "stack.json").exists()
    assert not (tmp_path / "stack" / "noida.log").exists()  # refused before starting anything


def test_configured_ports_are_used(local_stack: LocalStack, tmp_path: Path) -> None:
    kafka_port, es_port = free_port(), free_port()
    addresses = LocalStack(
        tmp_path / "stack", kafka_port=kafka_port, elasticsearch_port=es_port, kafka_engine=local_stack.requested_engine
    ).up()
    assert addresses.kafka == f"127.0.0.1:{kafka_port}"
    assert addresses.elasticsearch == f"http://127.0.0.1:{es_port}"


def _script(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "fake-noida-db"
    path.write_text("#!/bin/sh\n" + textwrap.dedent(body))
    path.chmod(0o755)
    return path


def test_binary_exits_early(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _script(
        tmp_path,
        """\
        echo "$0: /lib/x86_64-linux-gnu/libc.so.6: weak version \\`GLIBC_2.39' not found (required by $0)" >&2
        echo "error: cannot open data dir: permission denied" >&2
        exit 1
        """,
    )
    monkeypatch.setattr(stack_module, "noida_binary", lambda: fake)
    with pytest.raises(StackError) as caught:
        LocalStack(tmp_path / "stack", kafka_engine="standin").up(timeout=10)
    message = str(caught.value)
    assert "exited with code 1" in message
    assert "cannot open data dir: permission denied" in message
    assert "GLIBC" not in message
    assert LocalStack(tmp_path / "stack").status() is None


def test_binary_never_answers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pid_file = tmp_path / "fake.pid"
    fake = _script(
        tmp_path,
        f"""\
        echo $$ > {pid_file}
        echo "starting slowly"
        exec sleep 30
        """,
    )
    monkeypatch.setattr(stack_module, "noida_binary", lambda: fake)
    started = time.monotonic()
    with pytest.raises(StackError, match=r"(?s)did not answer in time.*starting slowly"):
        LocalStack(tmp_path / "stack", kafka_engine="standin").up(timeout=1)
    assert time.monotonic() - started < 10
    assert not (tmp_path / "stack" / "stack.json").exists()
    assert not _alive(int(pid_file.read_text()))  # killed, not left behind


def test_binary_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stack_module, "files", lambda package: tmp_path / "no-such-package")
    with pytest.raises(StackError, match=r"noida-db binary not found at .*no-such-package"):
        LocalStack(tmp_path / "stack", kafka_engine="standin").up(timeout=5)
