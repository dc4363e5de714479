"""The local stack: one noida-db process standing in for Kafka and Elasticsearch.

Real Kafka and Elasticsearch need Docker or a JVM; for development and the test suite the
`noida-db` package ships a single binary that speaks the Kafka wire protocol and the
Elasticsearch REST API. :class:`LocalStack` starts it in the background (its own session, so
it outlives the `streamstash stack up` call), remembers it in ``<data_dir>/stack.json`` so
that ``status``/``down`` work from another process, and waits until both protocols answer.

Layout under ``data_dir``::

    stack.json    pid, host, ports, started_at of the running server
    stack.lock    serialises up/down/restart between processes
    noida.log     the server's stdout + stderr (appended)
    noida/        the server's data (survives down/up/restart)
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import re
import signal
import socket
import struct
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib.resources import files
from pathlib import Path
from typing import Any

__all__ = ["LocalStack", "StackAddresses", "StackError", "free_port", "noida_binary", "port_available", "port_taken"]

STATE_FILE = "stack.json"
LOCK_FILE = "stack.lock"
LOG_FILE = "noida.log"
SERVER_DIR = "noida"
LOG_TAIL_LINES = 20
# The binary links against a newer glibc symbol version than some hosts have; it warns and works.
_GLIBC_WARNING = re.compile(r"version `GLIBC_[0-9.]+' not found")
_POLL_SECONDS = 0.05


@dataclass(frozen=True)
class StackAddresses:
    kafka: str  # "127.0.0.1:PORT" (bootstrap servers)
    elasticsearch: str  # "http://127.0.0.1:PORT"
    data_dir: Path
    pid: int


class StackError(RuntimeError):
    """The local stack cannot be started or reached; the message says what to do."""


# ---- ports ---------------------------------------------------------------------------------------------


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the kernel's pick; racy by nature, but rarely hit)."""
    with socket.socket(_family(host), socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_available(port: int, host: str = "127.0.0.1") -> bool:
    """True if a server could listen on ``host:port`` now (SO_REUSEADDR, like the server, so TIME_WAIT is ok)."""
    with socket.socket(_family(host), socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
        return True


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _connect_host(host: str) -> str:
    """Where clients connect when the server binds ``host`` (a wildcard bind is reached on loopback)."""
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "::1"
    return host


def _host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


# ---- the binary --------------------------------------------------------------------------------------------


def noida_binary() -> Path:
    """The noida-db executable shipped in the `noida_db` package (made executable, like its own cli.py does)."""
    try:
        resource = files("noida_db").joinpath("noida-db")
    except ModuleNotFoundError as exc:
        raise StackError("the noida-db package is not installed: pip install noida-db==0.2.3") from exc
    path = Path(str(resource))
    if not path.is_file():
        raise StackError(f"noida-db binary not found at {path}: reinstall it with "
                         "pip install --force-reinstall noida-db==0.2.3")
    if not os.access(path, os.X_OK):
        try:
            os.chmod(path, 0o755)
        except OSError as exc:
            raise StackError(f"noida-db binary at {path} is not executable and cannot be made so: {exc}") from exc
    return path


# ---- readiness probes ------------------------------------------------------------------------------------


def _kafka_request(sock: socket.socket, api_key: int, version: int, correlation_id: int, body: bytes) -> bytes:
    client_id = b"streamstash-stack"
    header = struct.pack(">hhih", api_key, version, correlation_id, len(client_id)) + client_id
    payload = header + body
    sock.sendall(struct.pack(">i", len(payload)) + payload)
    size = struct.unpack(">i", _recv_exactly(sock, 4))[0]
    response = _recv_exactly(sock, size)
    if struct.unpack(">i", response[:4])[0] != correlation_id:
        raise ConnectionError("kafka: response to another request")
    return response[4:]


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(size - len(chunks))
        if not chunk:
            raise ConnectionError("kafka: connection closed mid-response")
        chunks += chunk
    return bytes(chunks)


def kafka_answers(host: str, port: int, timeout: float = 2.0) -> bool:
    """True if a Kafka broker at host:port answers ApiVersions and a Metadata request naming a broker."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            # ApiVersions v0: error_code int16, [api_key, min, max]
            body = _kafka_request(sock, 18, 0, 1, b"")
            error_code, count = struct.unpack(">hi", body[:6])
            if error_code != 0:
                return False
            apis = {struct.unpack(">h", body[6 + 6 * i: 8 + 6 * i])[0] for i in range(count)}
            if 3 not in apis:
                return False
            # Metadata v0 with an empty topic list (= all topics): brokers [node_id, host, port], ...
            body = _kafka_request(sock, 3, 0, 2, struct.pack(">i", 0))
            brokers = struct.unpack(">i", body[:4])[0]
            return brokers >= 1
    except (OSError, ConnectionError, struct.error):
        return False


def elasticsearch_answers(url: str, timeout: float = 2.0) -> bool:
    """True if ``GET <url>/`` returns 200."""
    try:
        with urllib.request.urlopen(url.rstrip("/") + "/", timeout=timeout) as response:  # noqa: S310 (local URL)
            return response.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


# ---- process helpers ---------------------------------------------------------------------------------------

# Servers started by this process, by pid: kept so they are reaped (no zombie, no ResourceWarning) on down().
_children: dict[int, subprocess.Popen[bytes]] = {}


def _alive(pid: int) -> bool:
    child = _children.get(pid)
    if child is not None:
        if child.poll() is not None:
            _children.pop(pid, None)
            return False
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # an unreaped zombie is not running
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _is_noida(pid: int) -> bool:
    """False if the pid was reused by something else (best effort: only where /proc exists)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return not Path("/proc/self").exists()
    except OSError:
        return True
    return b"noida" in cmdline


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)  # started with start_new_session: the pid leads its own group
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(_POLL_SECONDS)
    return not _alive(pid)


def _stop_pid(pid: int, timeout: float) -> None:
    _signal_group(pid, signal.SIGTERM)
    if not _wait_gone(pid, timeout):
        _signal_group(pid, signal.SIGKILL)
        _wait_gone(pid, 5.0)
    child = _children.pop(pid, None)
    if child is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=1.0)


# ---- the stack ---------------------------------------------------------------------------------------------


class LocalStack:
    """Start, find, restart and stop the noida-db stand-in that lives in ``data_dir``."""

    def __init__(self, data_dir: Path = Path(".streamstash"), kafka_port: int | None = None,
                 elasticsearch_port: int | None = None, host: str = "127.0.0.1") -> None:
        self.data_dir = Path(data_dir).expanduser().absolute()
        self.kafka_port = kafka_port
        self.elasticsearch_port = elasticsearch_port
        self.host = host

    @property
    def state_file(self) -> Path:
        return self.data_dir / STATE_FILE

    @property
    def log_file(self) -> Path:
        return self.data_dir / LOG_FILE

    @property
    def server_dir(self) -> Path:
        return self.data_dir / SERVER_DIR

    # Names of the first version of this module.
    state_path = state_file
    log_path = log_file

    # -- public API --

    def up(self, timeout: float = 60.0) -> StackAddresses:
        """Start the stack (or return the running one) once Kafka and Elasticsearch both answer."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self._locked():
            running = self._running(timeout=min(timeout, 10.0))
            if running is not None:
                return running
            return self._start(self.kafka_port, self.elasticsearch_port, timeout)

    def down(self, timeout: float = 15.0) -> bool:
        """Stop the stack (SIGTERM to its process group, SIGKILL after ``timeout``); its data stays."""
        if not self.data_dir.is_dir():
            return False
        with self._locked():
            return self._down(timeout)

    def status(self) -> StackAddresses | None:
        """The running stack's addresses (state file + live noida-db pid), or None (a stale state file is removed)."""
        state = self._read_state()
        if state is None:
            return None
        pid = state["pid"]
        if not (_alive(pid) and _is_noida(pid)):
            self._remove_state()
            return None
        if not state.get("ready", True):
            return None  # still starting (up() in progress elsewhere)
        # Running = a live noida-db process that answered once; no network probe, so this stays cheap.
        return self._addresses(state)

    def restart(self, timeout: float = 60.0) -> StackAddresses:
        """Stop and start again on the same ports with the same data (or start, if not running)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self._locked():
            state = self._read_state()
            kafka_port, es_port = self.kafka_port, self.elasticsearch_port
            if state is not None:
                kafka_port, es_port = state["kafka_port"], state["elasticsearch_port"]
            self._down(timeout=15.0)
            # The old listeners are closed once the process is gone; give the kernel a moment if not yet.
            self._wait_ports_free(kafka_port, es_port, timeout=5.0)
            return self._start(kafka_port, es_port, timeout, retry_on_race=False)

    # -- internals --

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with open(self.data_dir / LOCK_FILE, "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _running(self, timeout: float) -> StackAddresses | None:
        """The stack of the state file if it is running, waiting up to ``timeout`` for it to answer.

        A live server that never answers is stopped, so that the caller starts a fresh one.
        """
        state = self._read_state()
        if state is None:
            return None
        pid = state["pid"]
        if not (_alive(pid) and _is_noida(pid)):
            self._remove_state()
            return None
        deadline = time.monotonic() + timeout
        while True:
            if self._answers(state, timeout=2.0):
                if not state.get("ready", True):
                    self._write_state({**state, "ready": True})
                return self._addresses(state)
            if not _alive(pid) or time.monotonic() >= deadline:
                break
            time.sleep(0.2)
        if _alive(pid):
            _stop_pid(pid, 15.0)
        self._remove_state()
        return None

    def _down(self, timeout: float) -> bool:
        state = self._read_state()
        if state is None:
            return False
        pid = state["pid"]
        stopped = False
        if _alive(pid) and _is_noida(pid):
            _stop_pid(pid, timeout)
            stopped = True
        self._remove_state()
        return stopped

    def _start(self, kafka_port: int | None, es_port: int | None, timeout: float,
               retry_on_race: bool = True) -> StackAddresses:
        chosen = kafka_port is None or es_port is None
        for service, port in (("kafka", kafka_port), ("elasticsearch", es_port)):
            if port is not None and not port_available(port, self.host):
                raise StackError(
                    f"port {port} on {self.host} is already in use; {service} of the local stack wants it. "
                    f"Stop whatever listens there, choose another --{service}-port, or leave it unset for a free port.")
        if kafka_port is not None and kafka_port == es_port:
            raise StackError(f"kafka and elasticsearch cannot share port {kafka_port}")
        kafka_port = kafka_port if kafka_port is not None else free_port(self.host)
        es_port = es_port if es_port is not None else self._free_port_except(kafka_port)
        try:
            return self._launch(kafka_port, es_port, timeout)
        except _PortRace:
            # Someone took a port between free_port() and the server's bind; pick again once.
            if not (chosen and retry_on_race):
                raise StackError("a port of the local stack was taken while it started; try again") from None
            return self._start(self.kafka_port, self.elasticsearch_port, timeout, retry_on_race=False)

    def _free_port_except(self, taken: int) -> int:
        while True:
            port = free_port(self.host)
            if port != taken:
                return port

    def _launch(self, kafka_port: int, es_port: int, timeout: float) -> StackAddresses:
        binary = noida_binary()
        self.server_dir.mkdir(parents=True, exist_ok=True)
        command = [str(binary), "start", "--data-dir", str(self.server_dir), "--only", "kafka,elasticsearch",
                   "--kafka-port", str(kafka_port), "--elasticsearch-port", str(es_port), "--host", self.host]
        with open(self.log_file, "ab") as log:
            log_offset = log.tell()
            log.write(f"----- {_now()} streamstash: {' '.join(command)}\n".encode())
            log.flush()
            try:
                process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                           cwd=self.data_dir, start_new_session=True, close_fds=True)
            except OSError as exc:
                raise StackError(f"cannot run the noida-db binary {binary}: {exc}") from exc
        _children[process.pid] = process
        state = {"pid": process.pid, "host": self.host, "kafka_port": kafka_port, "elasticsearch_port": es_port,
                 "started_at": _now(), "ready": False, "binary": str(binary), "data_dir": str(self.server_dir)}
        self._write_state(state)
        deadline = time.monotonic() + timeout
        try:
            while True:
                code = process.poll()
                if code is not None:
                    _children.pop(process.pid, None)
                    self._remove_state()
                    tail = self._log_tail(log_offset)
                    if "already in use" in tail:
                        raise _PortRace(tail)
                    raise StackError(f"noida-db exited with code {code} before answering "
                                     f"(log: {self.log_file}):\n{tail or '(no output)'}")
                if self._answers(state, timeout=1.0):
                    self._write_state({**state, "ready": True})
                    return self._addresses(state)
                if time.monotonic() >= deadline:
                    break
                time.sleep(0.1)
        except BaseException as exc:  # Ctrl-C while waiting: do not leave a half-started server behind
            if not isinstance(exc, StackError):
                _stop_pid(process.pid, 5.0)
                self._remove_state()
            raise
        _stop_pid(process.pid, 5.0)
        self._remove_state()
        raise StackError(
            f"noida-db did not answer within {timeout:g}s (kafka {_host_port(self.host, kafka_port)}, elasticsearch "
            f"port {es_port}); it was stopped. Last lines of {self.log_file}:\n"
            f"{self._log_tail(log_offset) or '(no output)'}")

    def _wait_ports_free(self, kafka_port: int | None, es_port: int | None, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for port in (kafka_port, es_port):
            while port is not None and not port_available(port, self.host) and time.monotonic() < deadline:
                time.sleep(_POLL_SECONDS)

    def _answers(self, state: dict[str, Any], timeout: float) -> bool:
        host = _connect_host(state["host"])
        addresses = self._addresses(state)
        return kafka_answers(host, state["kafka_port"], timeout) and \
            elasticsearch_answers(addresses.elasticsearch, timeout)

    def _addresses(self, state: dict[str, Any]) -> StackAddresses:
        host = _connect_host(state["host"])
        url_host = f"[{host}]" if ":" in host else host
        return StackAddresses(kafka=_host_port(host, state["kafka_port"]),
                              elasticsearch=f"http://{url_host}:{state['elasticsearch_port']}",
                              data_dir=self.data_dir, pid=state["pid"])

    def _read_state(self) -> dict[str, Any] | None:
        try:
            state = json.loads(self.state_file.read_text(encoding="utf-8"))
            if not all(isinstance(state.get(key), int) for key in ("pid", "kafka_port", "elasticsearch_port")):
                raise ValueError("incomplete state")
            state.setdefault("host", self.host)
            return state
        except FileNotFoundError:
            return None
        except (OSError, ValueError, AttributeError):
            self._remove_state()  # unreadable: treat as not running
            return None

    def _write_state(self, state: dict[str, Any]) -> None:
        temporary = self.state_file.with_suffix(".json.tmp")
        temporary.write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")
        temporary.replace(self.state_file)

    def _remove_state(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.state_file.unlink()

    def _log_tail(self, offset: int, lines: int = LOG_TAIL_LINES) -> str:
        try:
            with open(self.log_file, "rb") as log:
                log.seek(offset)
                text = log.read().decode("utf-8", errors="replace")
        except OSError:
            return ""
        kept = [line for line in text.splitlines()
                if line.strip() and not _GLIBC_WARNING.search(line) and not line.startswith("----- ")]
        return "\n".join(kept[-lines:])


# Names of the first version of this module.
binary_path = noida_binary


def port_taken(host: str, port: int) -> bool:
    return not port_available(port, host)


class _PortRace(StackError):
    """The server found one of the ports we picked taken."""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
