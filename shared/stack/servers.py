"""What a server of the local stack is: a process with a command, the ports it serves, and a probe.

An engine is one such server, or (the stand-in) one server serving both Kafka and Elasticsearch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

KAFKA = "kafka"
ELASTICSEARCH = "elasticsearch"
KAFKA_CONTROLLER = "kafka_controller"  # the KRaft controller listener of Apache Kafka
SEARCH_TRANSPORT = "search_transport"  # the node-to-node transport port of OpenSearch
KAFKA_INTERNAL = "kafka_internal"  # a secured Apache Kafka's plaintext inter-broker listener (never advertised)
KAFKA_MTLS = "kafka_mtls"  # a secured Apache Kafka's SSL listener requiring client certificates

LOG_TAIL_LINES = 20


@dataclass(frozen=True)
class Layout:
    """Where a stack keeps things and what it listens on: what a server needs to be started."""

    data_dir: Path
    host: str
    ports: dict[str, int]

    def url(self, port: int) -> str:
        host = self.connect_host
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    @property
    def connect_host(self) -> str:
        from streamstash.stack.ports import connect_host

        return connect_host(self.host)


class Server(Protocol):
    """One process of the local stack."""

    @property
    def name(self) -> str:
        """Key in the state file, e.g. "standin", "kafka"."""

    @property
    def serves(self) -> tuple[str, ...]:
        """The addresses it provides: KAFKA, ELASTICSEARCH (the stand-in or OpenSearch)."""

    @property
    def ports(self) -> tuple[str, ...]:
        """The ports it listens on (serves plus internal ones)."""

    @property
    def marker(self) -> bytes:
        """A part of its command line, to tell it from a process that reused its pid."""

    @property
    def title(self) -> str:
        """What `stack up` prints, e.g. "Apache Kafka 4.1.1"."""

    def check(self) -> None:
        """Raise StackError saying what is missing if this server cannot run here."""

    def prepare(self, layout: Layout) -> None:
        """Write configs and format storage, before each start."""

    def command(self, layout: Layout) -> list[str]: ...

    def answers(self, layout: Layout, timeout: float) -> bool: ...

    def log_file(self, data_dir: Path) -> Path: ...

    def port_taken(self, log_tail: str) -> bool:
        """True if the log says a port was taken (someone bound it after we chose it)."""


def log_tail(log_file: Path, offset: int, ignore: re.Pattern[str] | None = None, lines: int = LOG_TAIL_LINES) -> str:
    """The last lines a server logged since ``offset``, for error messages."""
    try:
        with open(log_file, "rb") as log:
            log.seek(offset)
            text = log.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    kept = [
        line
        for line in text.splitlines()
        if line.strip() and not line.startswith("----- ") and not (ignore and ignore.search(line))
    ]
    return "\n".join(kept[-lines:])
