"""The local stack: Kafka and Elasticsearch on free ports for development, `streamstash run` and the tests.

Kafka is Apache Kafka (``kafka_engine="apache"``: a KRaft broker JVM, see ``kafka_broker.py``) or the
noida-db stand-in (``"standin"``); ``"auto"`` takes Apache Kafka where Java and its jars (or Maven to
fetch them) are at hand, the stand-in elsewhere. The search engine (``search``) is the stand-in's
Elasticsearch API (``"standin"``, the default) or an OpenSearch node (``"opensearch"``: a JVM, see
``opensearch_node.py``). With the stand-in for Kafka and for search, one noida-db process serves both.

:class:`LocalStack` starts each server in its own session (it outlives the `streamstash stack up` call),
remembers them in ``<data_dir>/stack.json`` so that ``status``, ``down`` and ``restart`` work from another
process, and waits until every protocol answers. Layout under ``data_dir``::

    stack.json    engine, host, ports, and per server its pid and whether it answered
    stack.lock    serialises up/down/restart between processes
    noida.log     the stand-in's stdout + stderr (appended);  noida/  its data
    kafka.log     Apache Kafka's log (appended);              kafka/  its config and data
    opensearch.log  the OpenSearch node's log (appended);     opensearch/  its config and data
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from streamstash.stack import artifacts, processes
from streamstash.stack.errors import PortRace, StackError
from streamstash.stack.kafka_broker import BrokerSecurity, KafkaServer
from streamstash.stack.opensearch_node import OpenSearchServer
from streamstash.stack.ports import free_ports, host_port, port_available
from streamstash.stack.servers import ELASTICSEARCH, KAFKA, KAFKA_INTERNAL, KAFKA_MTLS, Layout, Server, log_tail
from streamstash.stack.standin import GLIBC_WARNING, StandinServer

__all__ = [
    "KAFKA_ENGINES",
    "SEARCH_ENGINES",
    "BrokerSecurity",
    "LocalStack",
    "StackAddresses",
    "StackError",
    "resolve_kafka_engine",
]

KafkaEngine = Literal["auto", "apache", "standin"]
KAFKA_ENGINES: tuple[str, ...] = ("auto", "apache", "standin")
SEARCH_ENGINES: tuple[str, ...] = ("standin", "opensearch")
STATE_FILE = "stack.json"
LOCK_FILE = "stack.lock"
STATE_VERSION = 2
POLL_SECONDS = 0.1
START_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class StackAddresses:
    kafka: str  # "127.0.0.1:PORT" (bootstrap servers)
    elasticsearch: str  # "http://127.0.0.1:PORT"
    data_dir: Path
    kafka_engine: str  # "apache" or "standin"
    pids: Mapping[str, int] = field(default_factory=dict)  # server name -> pid
    titles: Mapping[str, str] = field(default_factory=dict)  # "kafka"/"elasticsearch" -> what serves it
    # A secured Apache Kafka: "SASL_SSL" (= kafka), "SSL" (client certificates required) and "PLAINTEXT"
    # (its internal listener, for benchmarks comparing the protocols) -> host:port.
    kafka_listeners: Mapping[str, str] = field(default_factory=dict)
    search_engine: str = "standin"  # "standin" or "opensearch"

    @property
    def kafka_standin(self) -> bool:
        return self.kafka_engine == "standin"

    @property
    def search_distribution(self) -> str:
        """What `elasticsearch.distribution` the services need to talk to this stack's search engine."""
        return "opensearch" if self.search_engine == "opensearch" else "elasticsearch"


def resolve_kafka_engine(requested: str) -> str:
    """``apache`` or ``standin`` for a requested ``auto``, ``apache`` or ``standin``."""
    if requested not in KAFKA_ENGINES:
        raise StackError(f"unknown kafka engine {requested!r}: expected one of {', '.join(KAFKA_ENGINES)}")
    if requested != "auto":
        return requested
    return "apache" if artifacts.runnable(artifacts.KAFKA) is None else "standin"


def check_search_engine(search: str) -> None:
    if search not in SEARCH_ENGINES:
        raise StackError(f"unknown search engine {search!r}: expected one of {', '.join(SEARCH_ENGINES)}")


def servers_for(
    kafka_engine: str,
    kafka_heap_mb: int = 512,
    kafka_security: BrokerSecurity | None = None,
    search: str = "standin",
    search_heap_mb: int = 512,
    search_settings: Sequence[tuple[str, str]] = (),
) -> list[Server]:
    """The servers of a stack, in start order (they stop in reverse: Kafka before the search engine)."""
    check_search_engine(search)
    opensearch: list[Server] = []
    if search == "opensearch":
        opensearch = [OpenSearchServer(heap_mb=search_heap_mb, settings=tuple(search_settings))]
    if kafka_engine == "standin":
        if kafka_security is not None:
            raise StackError(
                "the noida-db stand-in speaks neither TLS nor SASL: a secured Kafka needs kafka engine apache"
            )
        return [*opensearch, StandinServer((KAFKA,))] if opensearch else [StandinServer((KAFKA, ELASTICSEARCH))]
    search_servers = opensearch or [StandinServer((ELASTICSEARCH,))]
    return [*search_servers, KafkaServer(heap_mb=kafka_heap_mb, security=kafka_security)]


class LocalStack:
    """Start, find, restart and stop the local stack that lives in ``data_dir``."""

    def __init__(
        self,
        data_dir: Path = Path(".streamstash"),
        kafka_port: int | None = None,
        elasticsearch_port: int | None = None,
        host: str = "127.0.0.1",
        kafka_engine: str = "auto",
        kafka_heap_mb: int = 512,
        say: Any = None,
        kafka_security: BrokerSecurity | None = None,
        search: str | None = None,
        search_heap_mb: int = 512,
        search_settings: Mapping[str, str] | None = None,
    ) -> None:
        self.data_dir = Path(data_dir).expanduser().absolute()
        self.kafka_port = kafka_port
        self.elasticsearch_port = elasticsearch_port
        self.host = host
        self.requested_engine = kafka_engine
        self.kafka_heap_mb = kafka_heap_mb
        self.say = say  # called with a line of progress (fetching jars), if given
        self.kafka_security = kafka_security  # a new stack's Kafka is secured (see kafka_broker.BrokerSecurity)
        # None: whichever search engine the running stack has, else the stand-in.
        self.requested_search = search
        self.search_heap_mb = search_heap_mb
        self.search_settings = dict(search_settings or {})
        if kafka_engine not in KAFKA_ENGINES:
            raise StackError(f"unknown kafka engine {kafka_engine!r}: expected one of {', '.join(KAFKA_ENGINES)}")
        if search is not None:
            check_search_engine(search)

    @property
    def state_file(self) -> Path:
        return self.data_dir / STATE_FILE

    # -- public API --

    def up(self, timeout: float = START_TIMEOUT_S) -> StackAddresses:
        """Start the stack, or the servers of it that are not running, once every protocol answers."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self._locked():
            state = self._read_state()
            if state is not None and not self._compatible(state):
                if self._any_alive(state):
                    raise StackError(
                        f"a local stack with kafka engine {state['kafka_engine']} runs in {self.data_dir} "
                        f"(search engine {_search_of(state)}); stop it first (`streamstash stack down --data-dir "
                        f"{self.data_dir}`) to run kafka {self.requested_engine}, search "
                        f"{self.requested_search or 'standin'}"
                    )
                state = None
            if state is None:
                state = self._new_state()
            return self._bring_up(state, timeout, fresh_ports=not state["servers"])

    def down(self, timeout: float = 15.0) -> bool:
        """Stop every server (SIGTERM to its process group, SIGKILL after ``timeout``); the data stays."""
        if not self.data_dir.is_dir():
            return False
        with self._locked():
            state = self._read_state()
            if state is None:
                return False
            stopped = self._stop_servers(state, timeout)
            self._remove_state()
            return stopped

    def status(self) -> StackAddresses | None:
        """The running stack's addresses, or None (not running, partly running, or still starting)."""
        state = self._read_state()
        if state is None:
            return None
        servers = self._servers(state)
        living = [server for server in servers if self._runs(state, server)]
        if not living:
            self._remove_state()
            return None
        if len(living) < len(servers) or not all(state["servers"][s.name].get("ready") for s in servers):
            return None
        return self._addresses(state)

    def restart(self, timeout: float = START_TIMEOUT_S) -> StackAddresses:
        """Stop every server and start them again on the same ports with the same data."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self._locked():
            state = self._read_state() or self._new_state()
            self._stop_servers(state, 15.0)
            self._wait_ports_free(state, timeout=10.0)
            return self._bring_up(state, timeout, fresh_ports=False)

    def stop_kafka(self, hard: bool = False, timeout: float = 30.0) -> None:
        """Take Kafka away and leave Elasticsearch up: SIGTERM (``hard``: SIGKILL) to the Apache Kafka broker,
        or ``noida-db stop kafka`` on the stand-in (which has no hard stop). ``start_kafka`` or ``up`` brings
        it back on the same port with the same data."""
        with self._locked():
            state = self._require_state()
            layout = self._layout(state)
            if state["kafka_engine"] == "standin":
                StandinServer((KAFKA, ELASTICSEARCH)).control(layout, "stop", KAFKA)
            else:
                server = self._server(state, "kafka")
                if self._runs(state, server):
                    processes.stop(state["servers"]["kafka"]["pid"], timeout, hard=hard)
                state["servers"]["kafka"]["ready"] = False
                self._write_state(state)
            self._wait(lambda: port_available(layout.ports[KAFKA], self.host), timeout, "kafka did not stop")

    def start_kafka(self, timeout: float = START_TIMEOUT_S) -> StackAddresses:
        """Bring Kafka back after ``stop_kafka``, on the same port with the same data."""
        with self._locked():
            state = self._require_state()
            if state["kafka_engine"] == "standin":
                layout = self._layout(state)
                server = self._server(state, "standin")
                assert isinstance(server, StandinServer)
                server.control(layout, "start", KAFKA)
                self._wait(lambda: server.answers(layout, 1.0), timeout, "the stand-in's kafka did not come back")
                return self._addresses(state)
        return self.up(timeout)

    def stop_search(self, hard: bool = False, timeout: float = 30.0) -> None:
        """Take the OpenSearch node away and leave Kafka up: SIGTERM (``hard``: SIGKILL). ``start_search`` or
        ``up`` brings it back on the same port with the same data. Only for ``search="opensearch"``."""
        with self._locked():
            state = self._require_state()
            if _search_of(state) != "opensearch":
                raise StackError("stop_search needs the OpenSearch node (search engine opensearch)")
            server = self._server(state, "opensearch")
            if self._runs(state, server):
                processes.stop(state["servers"][server.name]["pid"], timeout, hard=hard)
            state["servers"].pop(server.name, None)
            self._write_state(state)
            port = self._layout(state).ports[ELASTICSEARCH]
            self._wait(lambda: port_available(port, self.host), timeout, "OpenSearch did not stop")

    def start_search(self, timeout: float = START_TIMEOUT_S) -> StackAddresses:
        """Bring the OpenSearch node back after ``stop_search``, on the same port with the same data."""
        return self.up(timeout)

    def log_files(self) -> list[Path]:
        """The log file of every server this stack runs (or would run)."""
        state = self._read_state() or self._new_state()
        return [server.log_file(self.data_dir) for server in self._servers(state)]

    # -- internals: state --

    def _new_state(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "host": self.host,
            "kafka_engine": resolve_kafka_engine(self.requested_engine),
            "kafka_heap_mb": self.kafka_heap_mb,
            "kafka_security": self.kafka_security.to_state() if self.kafka_security else None,
            "search": self.requested_search or "standin",
            "search_heap_mb": self.search_heap_mb,
            "search_settings": self.search_settings,
            "ports": {},
            "servers": {},
        }

    def _compatible(self, state: dict[str, Any]) -> bool:
        engine = self.requested_engine == "auto" or self.requested_engine == state["kafka_engine"]
        security = self.kafka_security is None or state.get("kafka_security") == self.kafka_security.to_state()
        search = self.requested_search is None or self.requested_search == _search_of(state)
        return engine and security and search

    def _servers(self, state: dict[str, Any]) -> list[Server]:
        security = state.get("kafka_security")
        return servers_for(
            state["kafka_engine"],
            int(state.get("kafka_heap_mb", self.kafka_heap_mb)),
            BrokerSecurity.from_state(security) if security else None,
            _search_of(state),
            int(state.get("search_heap_mb", self.search_heap_mb)),
            sorted(dict(state.get("search_settings") or {}).items()),
        )

    def _server(self, state: dict[str, Any], name: str) -> Server:
        return next(server for server in self._servers(state) if server.name == name)

    def _runs(self, state: dict[str, Any], server: Server) -> bool:
        entry = state["servers"].get(server.name)
        return entry is not None and processes.runs(int(entry["pid"]), server.marker)

    def _any_alive(self, state: dict[str, Any]) -> bool:
        return any(self._runs(state, server) for server in self._servers(state))

    def _require_state(self) -> dict[str, Any]:
        state = self._read_state()
        if state is None:
            raise StackError(f"no local stack in {self.data_dir}: start it with `streamstash stack up`")
        return state

    def _layout(self, state: dict[str, Any]) -> Layout:
        return Layout(self.data_dir, state["host"], dict(state["ports"]))

    def _addresses(self, state: dict[str, Any]) -> StackAddresses:
        layout = self._layout(state)
        servers = self._servers(state)
        titles = {service: server.title for server in servers for service in server.serves}
        kafka = host_port(layout.connect_host, layout.ports[KAFKA])
        listeners = (
            {
                "SASL_SSL": kafka,
                "SSL": host_port(layout.connect_host, layout.ports[KAFKA_MTLS]),
                "PLAINTEXT": host_port(layout.connect_host, layout.ports[KAFKA_INTERNAL]),
            }
            if state.get("kafka_security")
            else {}
        )
        return StackAddresses(
            kafka=kafka,
            elasticsearch=layout.url(layout.ports[ELASTICSEARCH]),
            data_dir=self.data_dir,
            kafka_engine=state["kafka_engine"],
            pids={name: int(entry["pid"]) for name, entry in state["servers"].items()},
            titles=titles,
            kafka_listeners=listeners,
            search_engine=_search_of(state),
        )

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with open(self.data_dir / LOCK_FILE, "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _read_state(self) -> dict[str, Any] | None:
        try:
            state = json.loads(self.state_file.read_text(encoding="utf-8"))
            if state.get("version") != STATE_VERSION or not isinstance(state.get("servers"), dict):
                raise ValueError("a state file of another version")
            return dict(state)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, AttributeError):
            self._remove_state()  # unreadable or older: treat as not running
            return None

    def _write_state(self, state: dict[str, Any]) -> None:
        temporary = self.state_file.with_suffix(".json.tmp")
        temporary.touch(mode=0o600)  # a secured Kafka's users and passwords are in it
        temporary.write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")
        temporary.replace(self.state_file)

    def _remove_state(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.state_file.unlink()

    # -- internals: servers --

    def _bring_up(self, state: dict[str, Any], timeout: float, fresh_ports: bool) -> StackAddresses:
        try:
            return self._bring_up_servers(state, timeout, fresh_ports)
        except BaseException:
            if not self._any_alive(state):
                self._remove_state()  # nothing runs: no state that status or a later up could trust
            raise

    def _bring_up_servers(self, state: dict[str, Any], timeout: float, fresh_ports: bool) -> StackAddresses:
        servers = self._servers(state)
        for server in servers:
            server.check()
        if state["kafka_engine"] == "apache":
            artifacts.KAFKA.fetch(self.say)  # once; a no-op when the jars are there
        if _search_of(state) == "opensearch":
            artifacts.OPENSEARCH.fetch(self.say)
        self._choose_ports(state, servers)
        deadline = time.monotonic() + timeout
        for server in servers:
            if self._runs(state, server):
                if self._wait_answer(state, server, deadline):
                    continue
                processes.stop(int(state["servers"][server.name]["pid"]), 15.0)  # alive but mute: start anew
            try:
                self._start(state, server, deadline)
            except PortRace:
                if not fresh_ports:
                    raise StackError(
                        f"a port of the local stack's {server.name} was taken by another program "
                        "while it was stopped; `streamstash stack down` and up again picks new ports"
                    ) from None
                for name in server.ports:
                    state["ports"].pop(name, None)
                self._choose_ports(state, servers)
                self._start(state, server, deadline)
        return self._addresses(state)

    def _choose_ports(self, state: dict[str, Any], servers: list[Server]) -> None:
        ports: dict[str, int] = state["ports"]
        fixed = {KAFKA: self.kafka_port, ELASTICSEARCH: self.elasticsearch_port}
        wanted = [name for server in servers for name in server.ports]
        for name in wanted:
            if name in ports or fixed.get(name) is None:
                continue
            port = fixed[name]
            assert port is not None
            if not port_available(port, self.host):
                raise StackError(
                    f"port {port} on {self.host} is already in use; {name} of the local stack wants it. "
                    f"Stop whatever listens there, choose another --{name.replace('_', '-')}-port, or leave it "
                    "unset for a free port."
                )
            ports[name] = port
        if len(set(ports.values())) != len(ports):
            raise StackError(f"the local stack's servers cannot share a port: {ports}")
        missing = [name for name in wanted if name not in ports]
        ports.update(zip(missing, free_ports(len(missing), self.host, set(ports.values())), strict=True))

    def _start(self, state: dict[str, Any], server: Server, deadline: float) -> None:
        layout = self._layout(state)
        server.prepare(layout)
        log_file = server.log_file(self.data_dir)
        command = server.command(layout)
        with open(log_file, "ab") as log:
            offset = log.tell()
            log.write(f"----- {_now()} streamstash: {' '.join(command)}\n".encode())
        try:
            process = processes.spawn(command, log_file, cwd=self.data_dir)
        except OSError as exc:
            raise StackError(f"cannot start {server.title}: {exc}") from exc
        state["servers"][server.name] = {"pid": process.pid, "started_at": _now(), "ready": False}
        self._write_state(state)
        try:
            while True:
                code = processes.exited(process.pid)
                if code is not None:
                    tail = log_tail(log_file, offset, GLIBC_WARNING)
                    del state["servers"][server.name]
                    self._write_state(state)
                    if server.port_taken(tail):
                        raise PortRace(tail)
                    raise StackError(
                        f"{server.title} exited with code {code} before answering "
                        f"(log: {log_file}):\n{tail or '(no output)'}"
                    )
                if server.answers(layout, 1.0):
                    state["servers"][server.name]["ready"] = True
                    self._write_state(state)
                    return
                if time.monotonic() >= deadline:
                    break
                time.sleep(POLL_SECONDS)
        except BaseException as exc:  # Ctrl-C while waiting: do not leave a half-started server behind
            if not isinstance(exc, StackError):
                processes.stop(process.pid, 5.0)
                state["servers"].pop(server.name, None)
                self._write_state(state)
            raise
        processes.stop(process.pid, 5.0)
        state["servers"].pop(server.name, None)
        self._write_state(state)
        ports = ", ".join(f"{name} {layout.ports[name]}" for name in server.ports)
        raise StackError(
            f"{server.title} did not answer in time ({ports}); it was stopped. Last lines of "
            f"{log_file}:\n{log_tail(log_file, offset, GLIBC_WARNING) or '(no output)'}"
        )

    def _wait_answer(self, state: dict[str, Any], server: Server, deadline: float) -> bool:
        layout = self._layout(state)
        pid = int(state["servers"][server.name]["pid"])
        give_up = min(deadline, time.monotonic() + 10.0)
        while True:
            if server.answers(layout, 2.0):
                if not state["servers"][server.name].get("ready"):
                    state["servers"][server.name]["ready"] = True
                    self._write_state(state)
                return True
            if not processes.alive(pid) or time.monotonic() >= give_up:
                return False
            time.sleep(0.2)

    def _stop_servers(self, state: dict[str, Any], timeout: float) -> bool:
        stopped = False
        for server in reversed(self._servers(state)):  # Kafka before the stand-in
            if self._runs(state, server):
                processes.stop(int(state["servers"][server.name]["pid"]), timeout)
                stopped = True
            state["servers"].pop(server.name, None)
        return stopped

    def _wait_ports_free(self, state: dict[str, Any], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for port in state["ports"].values():
            while not port_available(port, self.host) and time.monotonic() < deadline:
                time.sleep(processes.POLL_SECONDS)

    def _wait(self, done: Any, timeout: float, message: str) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() >= deadline:
                raise StackError(f"{message} within {timeout:g}s")
            time.sleep(POLL_SECONDS)


def _search_of(state: dict[str, Any]) -> str:
    return str(state.get("search") or "standin")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
