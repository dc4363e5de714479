"""The local stack's port checks, state file and probes, without starting noida-db."""

from __future__ import annotations

import json
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from streamstash import stack as stack_module
from streamstash.stack import (LocalStack, StackError, elasticsearch_answers, free_port, kafka_answers,
                               port_available)


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock


@pytest.fixture
def no_binary(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail loudly if anything tries to start the server."""
    def refuse() -> Path:
        raise AssertionError("noida-db must not be started")
    monkeypatch.setattr(stack_module, "noida_binary", refuse)


def test_free_port_is_bindable() -> None:
    port = free_port()
    assert 0 < port < 65536
    assert port_available(port)


def test_port_available_sees_a_listener(listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    assert not port_available(port)
    assert stack_module.port_taken("127.0.0.1", port)


def test_port_available_after_close() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
    assert port_available(port)


@pytest.mark.usefixtures("no_binary")
@pytest.mark.parametrize("service", ["kafka", "elasticsearch"])
def test_taken_configured_port_refused_before_start(tmp_path: Path, listener: socket.socket, service: str) -> None:
    port = listener.getsockname()[1]
    stack = LocalStack(tmp_path, **{f"{service}_port": port})
    with pytest.raises(StackError) as caught:
        stack.up(timeout=1)
    assert str(port) in str(caught.value) and service in str(caught.value)
    assert stack.status() is None


@pytest.mark.usefixtures("no_binary")
def test_same_port_for_both_refused(tmp_path: Path) -> None:
    port = free_port()
    with pytest.raises(StackError, match=f"share port {port}"):
        LocalStack(tmp_path, kafka_port=port, elasticsearch_port=port).up(timeout=1)


def _dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def test_stale_state_is_cleaned(tmp_path: Path) -> None:
    state = tmp_path / "stack.json"
    state.write_text(json.dumps({"pid": _dead_pid(), "host": "127.0.0.1", "kafka_port": 1, "elasticsearch_port": 2}))
    stack = LocalStack(tmp_path)
    assert stack.status() is None
    assert not state.exists()
    assert stack.down() is False


def test_pid_of_another_program_is_not_the_stack(tmp_path: Path) -> None:
    with subprocess.Popen(["sleep", "30"]) as other:
        try:
            (tmp_path / "stack.json").write_text(
                json.dumps({"pid": other.pid, "host": "127.0.0.1", "kafka_port": 1, "elasticsearch_port": 2}))
            assert LocalStack(tmp_path).status() is None
            assert LocalStack(tmp_path).down() is False
            assert other.poll() is None  # not killed
        finally:
            other.kill()


@pytest.mark.parametrize("content", ["", "not json", "[]", '{"pid": "x"}'])
def test_unreadable_state_means_not_running(tmp_path: Path, content: str) -> None:
    (tmp_path / "stack.json").write_text(content)
    assert LocalStack(tmp_path).status() is None


def test_status_and_down_without_data_dir(tmp_path: Path) -> None:
    stack = LocalStack(tmp_path / "never-created")
    assert stack.status() is None
    assert stack.down() is False
    assert not (tmp_path / "never-created").exists()


def test_log_tail_drops_the_glibc_warning(tmp_path: Path) -> None:
    log = tmp_path / "noida.log"
    lines = [f"line {i}" for i in range(30)]
    log.write_text("old run\n----- marker\n/x/noida-db: /lib/libc.so.6: weak version `GLIBC_2.39' not found (required "
                   "by /x/noida-db)\n" + "\n".join(lines) + "\n")
    tail = LocalStack(tmp_path)._log_tail(len("old run\n"))
    assert tail.splitlines() == lines[-20:]


def test_probes_fail_on_closed_ports() -> None:
    port = free_port()
    assert not kafka_answers("127.0.0.1", port, timeout=0.5)
    assert not elasticsearch_answers(f"http://127.0.0.1:{port}", timeout=0.5)


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


def test_status_waits_for_ready_and_down_stops_the_group(tmp_path: Path,
                                                          fake_server: subprocess.Popen[bytes]) -> None:
    state = {"pid": fake_server.pid, "host": "127.0.0.1", "kafka_port": 1, "elasticsearch_port": 2, "ready": False}
    (tmp_path / "stack.json").write_text(json.dumps(state))
    stack = LocalStack(tmp_path)
    assert stack.status() is None  # still starting
    assert (tmp_path / "stack.json").exists()  # ... which is not stale
    (tmp_path / "stack.json").write_text(json.dumps({**state, "ready": True}))
    addresses = stack.status()
    assert addresses is not None
    assert (addresses.kafka, addresses.elasticsearch, addresses.pid) == ("127.0.0.1:1", "http://127.0.0.1:2",
                                                                         fake_server.pid)
    assert stack.down(timeout=5) is True
    assert fake_server.wait(timeout=5) == -15  # SIGTERM
    assert stack.status() is None and not (tmp_path / "stack.json").exists()


def test_wildcard_host_is_reached_on_loopback(tmp_path: Path, fake_server: subprocess.Popen[bytes]) -> None:
    (tmp_path / "stack.json").write_text(json.dumps(
        {"pid": fake_server.pid, "host": "0.0.0.0", "kafka_port": 1, "elasticsearch_port": 2, "ready": True}))
    addresses = LocalStack(tmp_path).status()
    assert addresses is not None and addresses.kafka == "127.0.0.1:1"
