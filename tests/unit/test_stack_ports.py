"""The local stack's port checks, state file, engine choice and probes, without starting a server."""

from __future__ import annotations

import json
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from streamstash.stack import artifacts, manager
from streamstash.stack.kafka_broker import broker_properties, cluster_id
from streamstash.stack.manager import STATE_VERSION, LocalStack, StackError, resolve_kafka_engine
from streamstash.stack.ports import connect_host, free_port, free_ports, port_available
from streamstash.stack.probes import http_answers, kafka_answers
from streamstash.stack.servers import log_tail
from streamstash.stack.standin import GLIBC_WARNING


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock


@pytest.fixture
def nothing_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail loudly if anything tries to start a server."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("no server may be started here")

    monkeypatch.setattr(manager.processes, "spawn", refuse)


def test_free_ports_are_bindable_and_distinct() -> None:
    port = free_port()
    assert 0 < port < 65536 and port_available(port)
    ports = free_ports(3, taken={port})
    assert len(set(ports)) == 3 and port not in ports


def test_port_available_sees_a_listener(listener: socket.socket) -> None:
    assert not port_available(listener.getsockname()[1])


def test_wildcard_binds_are_reached_on_loopback() -> None:
    assert (connect_host("0.0.0.0"), connect_host("::"), connect_host("10.1.2.3")) == ("127.0.0.1", "::1", "10.1.2.3")


@pytest.mark.usefixtures("nothing_starts")
@pytest.mark.parametrize("service", ["kafka", "elasticsearch"])
def test_taken_configured_port_refused_before_start(tmp_path: Path, listener: socket.socket, service: str) -> None:
    port = listener.getsockname()[1]
    stack = LocalStack(tmp_path, kafka_engine="standin", **{f"{service}_port": port})
    with pytest.raises(StackError) as caught:
        stack.up(timeout=1)
    assert str(port) in str(caught.value) and service in str(caught.value)
    assert stack.status() is None


@pytest.mark.usefixtures("nothing_starts")
def test_same_port_for_both_refused(tmp_path: Path) -> None:
    port = free_port()
    with pytest.raises(StackError, match="cannot share a port"):
        LocalStack(tmp_path, kafka_engine="standin", kafka_port=port, elasticsearch_port=port).up(timeout=1)


def test_an_unknown_engine_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StackError, match="unknown kafka engine 'zookeeper'"):
        LocalStack(tmp_path, kafka_engine="zookeeper")


def test_auto_takes_apache_kafka_only_where_it_can_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(artifacts, "runnable", lambda engine: None)
    assert resolve_kafka_engine("auto") == "apache"
    monkeypatch.setattr(artifacts, "runnable", lambda engine: "no java on PATH")
    assert resolve_kafka_engine("auto") == "standin"
    assert resolve_kafka_engine("apache") == "apache"  # asked for: its check says what is missing
    assert resolve_kafka_engine("standin") == "standin"


def test_apache_without_java_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(artifacts, "java", lambda: None)
    monkeypatch.setattr(manager.processes, "spawn", lambda *a, **k: pytest.fail("nothing may start"))
    with pytest.raises(StackError, match=r"needs Java 17.*--kafka-engine standin"):
        LocalStack(tmp_path, kafka_engine="apache").up(timeout=5)


def test_apache_without_jars_or_maven_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAMSTASH_ENGINES_DIR", str(tmp_path / "empty-cache"))
    monkeypatch.setattr(artifacts.shutil, "which", lambda name: None)
    monkeypatch.setattr(artifacts, "java", lambda: "/usr/bin/java")
    assert "Maven (mvn) is not installed" in (artifacts.runnable(artifacts.KAFKA) or "")
    with pytest.raises(StackError, match=r"Maven \(mvn\) is not installed.*stand-in"):
        LocalStack(tmp_path / "stack", kafka_engine="apache").up(timeout=5)


def test_the_engines_cache_is_outside_the_repository(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("STREAMSTASH_ENGINES_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert artifacts.KAFKA.directory == tmp_path / "streamstash" / f"kafka-{artifacts.KAFKA.version}"
    assert artifacts.KAFKA.jars() is None  # no .complete marker: never half-fetched jars


def test_the_pom_pins_a_kafka_4_broker() -> None:
    pom = artifacts.KAFKA.pom.read_text()
    assert "<artifactId>kafka_2.13</artifactId>" in pom and "${engine.version}" in pom
    major, _minor, _patch = (int(part) for part in artifacts.KAFKA.version.split("."))
    assert major == 4


def test_broker_properties_describe_a_single_node_kraft_cluster() -> None:
    properties = broker_properties("127.0.0.1", 9092, 9093, "/data")
    assert properties["process.roles"] == "broker,controller"
    assert properties["controller.quorum.voters"] == "1@127.0.0.1:9093"
    assert properties["listeners"] == "PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093"
    assert properties["offsets.topic.replication.factor"] == "1"
    assert len(cluster_id()) == 22 and cluster_id() != cluster_id()
    # 1 in 64 base64url ids starts with "-", which the storage tool's parser reads as an option.
    assert not any(cluster_id().startswith("-") for _ in range(2000))


def _dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def _state(pid: int, engine: str = "standin", ready: bool = True, host: str = "127.0.0.1") -> dict[str, object]:
    servers = {"standin": {"pid": pid, "ready": ready}}
    return {
        "version": STATE_VERSION,
        "host": host,
        "kafka_engine": engine,
        "ports": {"kafka": 1, "elasticsearch": 2},
        "servers": servers,
    }


def test_stale_state_is_cleaned(tmp_path: Path) -> None:
    state = tmp_path / "stack.json"
    state.write_text(json.dumps(_state(_dead_pid())))
    stack = LocalStack(tmp_path)
    assert stack.status() is None
    assert not state.exists()
    assert stack.down() is False


def test_pid_of_another_program_is_not_the_stack(tmp_path: Path) -> None:
    with subprocess.Popen(["sleep", "30"]) as other:
        try:
            (tmp_path / "stack.json").write_text(json.dumps(_state(other.pid)))
            assert LocalStack(tmp_path).status() is None
            assert LocalStack(tmp_path).down() is False
            assert other.poll() is None  # not killed
        finally:
            other.kill()


@pytest.mark.parametrize(
    "content",
    ["", "not json", "[]", '{"pid": "x"}', '{"pid": 1, "host": "127.0.0.1", "kafka_port": 1, "elasticsearch_port": 2}'],
)
def test_unreadable_or_older_state_means_not_running(tmp_path: Path, content: str) -> None:
    (tmp_path / "stack.json").write_text(content)
    assert LocalStack(tmp_path).status() is None


def test_status_and_down_without_data_dir(tmp_path: Path) -> None:
    stack = LocalStack(tmp_path / "never-created")
    assert stack.status() is None
    assert stack.down() is False
    assert not (tmp_path / "never-created").exists()


def test_log_tail_drops_the_glibc_warning_and_earlier_runs(tmp_path: Path) -> None:
    log = tmp_path / "noida.log"
    lines = [f"line {i}" for i in range(30)]
    log.write_text(
        "old run\n----- marker\n/x/noida-db: /lib/libc.so.6: weak version `GLIBC_2.39' not found (required "
        "by /x/noida-db)\n" + "\n".join(lines) + "\n"
    )
    assert log_tail(log, len("old run\n"), GLIBC_WARNING).splitlines() == lines[-20:]


def test_probes_fail_on_closed_ports() -> None:
    port = free_port()
    assert not kafka_answers("127.0.0.1", port, timeout=0.5)
    assert not http_answers(f"http://127.0.0.1:{port}", timeout=0.5)


def test_kafka_probe_rejects_a_non_kafka_server(listener: socket.socket) -> None:
    def serve() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.recv(1024)
            connection.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert not kafka_answers("127.0.0.1", listener.getsockname()[1], timeout=1)
    thread.join(timeout=2)


@pytest.fixture
def fake_server(tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A process that looks like noida-db (by its command line) in its own session, like the real one."""
    program = tmp_path / "noida-db-fake"
    program.symlink_to("/bin/sleep")
    with subprocess.Popen([str(program), "30"], start_new_session=True) as process:
        try:
            yield process
        finally:
            process.kill()


def test_status_waits_for_ready_and_down_stops_the_group(tmp_path: Path, fake_server: subprocess.Popen[bytes]) -> None:
    (tmp_path / "stack.json").write_text(json.dumps(_state(fake_server.pid, ready=False)))
    stack = LocalStack(tmp_path)
    assert stack.status() is None  # still starting
    assert (tmp_path / "stack.json").exists()  # ... which is not stale
    (tmp_path / "stack.json").write_text(json.dumps(_state(fake_server.pid)))
    addresses = stack.status()
    assert addresses is not None
    assert (addresses.kafka, addresses.elasticsearch, addresses.pids) == (
        "127.0.0.1:1",
        "http://127.0.0.1:2",
        {"standin": fake_server.pid},
    )
    assert addresses.kafka_standin
    assert stack.down(timeout=5) is True
    assert fake_server.wait(timeout=5) == -15  # SIGTERM
    assert stack.status() is None and not (tmp_path / "stack.json").exists()


def test_a_stack_of_the_other_engine_is_not_taken_over(tmp_path: Path, fake_server: subprocess.Popen[bytes]) -> None:
    (tmp_path / "stack.json").write_text(json.dumps(_state(fake_server.pid, engine="standin")))
    with pytest.raises(StackError, match="kafka engine standin runs in"):
        LocalStack(tmp_path, kafka_engine="apache").up(timeout=1)
    assert fake_server.poll() is None


def test_wildcard_host_is_reached_on_loopback(tmp_path: Path, fake_server: subprocess.Popen[bytes]) -> None:
    (tmp_path / "stack.json").write_text(json.dumps(_state(fake_server.pid, host="0.0.0.0")))
    addresses = LocalStack(tmp_path).status()
    assert addresses is not None and addresses.kafka == "127.0.0.1:1"
