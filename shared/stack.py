"""The local Kafka + Elasticsearch stand-in: the `noida-db` binary from PyPI, managed as a background process.

State lives in ``<data_dir>/stack.json`` (pid and ports) so `status` and `down` work from any process;
the server's data is under ``<data_dir>/noida`` and its output in ``<data_dir>/noida.log``.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from streamstash import names

BINARY_NAME = "noida-db"
STATE_FILE = "stack.json"
LOG_FILE = "noida.log"
HARMLESS_OUTPUT = ("GLIBC_",)  # the binary warns about a libc symbol version at start; it works regardless


@dataclass(frozen=True)
class StackAddresses:
    kafka: str
    elasticsearch: str
    data_dir: Path
    pid: int


class StackError(RuntimeError):
    """The stand-in could not be started or reached; the message says what to do."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def port_taken(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


def binary_path() -> Path:
    path = Path(str(files("noida_db").joinpath(BINARY_NAME)))
    if path.is_file() and not os.access(path, os.X_OK):
        path.chmod(0o755)
    return path


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (exited, not yet reaped by its parent) is not alive
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return True


def elasticsearch_answers(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - loopback URL we built
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def kafka_answers(bootstrap: str, timeout: float = 5.0) -> bool:
    from aiokafka.admin import AIOKafkaAdminClient

    async def probe() -> bool:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout * 1000))
        try:
            await asyncio.wait_for(admin.start(), timeout)
            await asyncio.wait_for(admin.list_topics(), timeout)
            return True
        except Exception:  # noqa: BLE001 - any failure means "not answering yet"
            return False
        finally:
            await admin.close()

    return asyncio.run(probe())


class LocalStack:
    def __init__(self, data_dir: Path = Path(names.DEFAULT_STATE_DIR), kafka_port: int | None = None,
                 elasticsearch_port: int | None = None, host: str = "127.0.0.1") -> None:
        self.data_dir = Path(data_dir).resolve()
        self.kafka_port = kafka_port
        self.elasticsearch_port = elasticsearch_port
        self.host = host

    @property
    def state_path(self) -> Path:
        return self.data_dir / STATE_FILE

    @property
    def log_path(self) -> Path:
        return self.data_dir / LOG_FILE

    def _read_state(self) -> dict | None:
        try:
            return json.loads(self.state_path.read_text())
        except (OSError, ValueError):
            return None

    def _addresses(self, state: dict) -> StackAddresses:
        return StackAddresses(kafka=f"{state['host']}:{state['kafka_port']}",
                              elasticsearch=f"http://{state['host']}:{state['elasticsearch_port']}",
                              data_dir=self.data_dir, pid=int(state["pid"]))

    def status(self) -> StackAddresses | None:
        state = self._read_state()
        if state is None:
            return None
        if not _pid_alive(int(state["pid"])):
            self.state_path.unlink(missing_ok=True)
            return None
        return self._addresses(state)

    def up(self, timeout: float = 60.0) -> StackAddresses:
        running = self.status()
        if running is not None:
            return running
        state = self._read_state()  # ports of a previous run are reused if free, so addresses stay stable
        kafka_port = self.kafka_port or (state or {}).get("kafka_port") or free_port(self.host)
        es_port = self.elasticsearch_port or (state or {}).get("elasticsearch_port") or free_port(self.host)
        return self._start(int(kafka_port), int(es_port), timeout)

    def restart(self, timeout: float = 60.0) -> StackAddresses:
        running = self.status()
        if running is None:
            return self.up(timeout)
        state = self._read_state() or {}
        self.down()
        return self._start(int(state["kafka_port"]), int(state["elasticsearch_port"]), timeout)

    def _start(self, kafka_port: int, es_port: int, timeout: float) -> StackAddresses:
        for service, port in (("kafka", kafka_port), ("elasticsearch", es_port)):
            if port_taken(self.host, port):
                raise StackError(f"{service} port {port} on {self.host} is already in use; choose another port "
                                 f"or stop what listens there")
        binary = binary_path()
        if not binary.is_file():
            raise StackError(f"the noida-db binary is missing at {binary}; reinstall with `pip install noida-db`")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        argv = [str(binary), "start", "--data-dir", str(self.data_dir / "noida"), "--only", "kafka,elasticsearch",
                "--host", self.host, "--kafka-port", str(kafka_port), "--elasticsearch-port", str(es_port)]
        with open(self.log_path, "ab") as log:
            try:
                process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,  # noqa: S603
                                           start_new_session=True)
            except OSError as exc:
                raise StackError(f"cannot start {binary}: {exc}") from exc
        state = {"pid": process.pid, "host": self.host, "kafka_port": kafka_port, "elasticsearch_port": es_port,
                 "started_at": time.time()}
        self.state_path.write_text(json.dumps(state))
        addresses = self._addresses(state)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                self.state_path.unlink(missing_ok=True)
                raise StackError(f"noida-db exited with code {process.returncode} right after starting:\n"
                                 f"{self._log_tail()}")
            if elasticsearch_answers(addresses.elasticsearch) and kafka_answers(addresses.kafka):
                return addresses
            time.sleep(0.2)
        self._kill(process.pid)
        self.state_path.unlink(missing_ok=True)
        raise StackError(f"noida-db did not answer on kafka {addresses.kafka} and elasticsearch "
                         f"{addresses.elasticsearch} within {timeout:g}s:\n{self._log_tail()}")

    def down(self, timeout: float = 15.0) -> bool:
        state = self._read_state()
        if state is None:
            return False
        pid = int(state["pid"])
        stopped = _pid_alive(pid)
        if stopped:
            self._kill(pid, timeout)
        self.state_path.unlink(missing_ok=True)
        return stopped

    @staticmethod
    def _kill(pid: int, timeout: float = 15.0) -> None:
        try:
            os.killpg(pid, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not _pid_alive(pid):
                break
            time.sleep(0.1)
        else:
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:  # reap it if it is our child, so it does not linger as a zombie
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass

    def _log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no output)"
        kept = [line for line in text if not any(marker in line for marker in HARMLESS_OUTPUT)]
        return "\n".join(kept[-lines:]) or "(no output)"
