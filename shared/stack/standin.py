"""The noida-db stand-in: one binary from PyPI that speaks the Kafka wire protocol and the Elasticsearch
REST API. It serves Elasticsearch in every local stack, and Kafka too when no Java is at hand.

It is an emulator, not Kafka: where its group coordination and fetches differ, the services switch on
the repairs of ``streamstash.kafka.compat.emulator`` (``kafka.standin``), and only then.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from streamstash.stack.errors import StackError
from streamstash.stack.probes import http_answers, kafka_answers
from streamstash.stack.servers import ELASTICSEARCH, KAFKA, Layout

NOIDA_VERSION = "0.2.3"
LOG_FILE = "noida.log"
SERVER_DIR = "noida"
# The binary links against a newer glibc symbol version than some hosts have; it warns and works.
GLIBC_WARNING = re.compile(r"version `GLIBC_[0-9.]+' not found")


def noida_binary() -> Path:
    """The noida-db executable shipped in the `noida_db` package (made executable, like its own cli.py does)."""
    try:
        resource = files("noida_db").joinpath("noida-db")
    except ModuleNotFoundError as exc:
        raise StackError(f"the noida-db package is not installed: pip install noida-db=={NOIDA_VERSION}") from exc
    path = Path(str(resource))
    if not path.is_file():
        raise StackError(
            f"noida-db binary not found at {path}: reinstall it with "
            f"pip install --force-reinstall noida-db=={NOIDA_VERSION}"
        )
    if not os.access(path, os.X_OK):
        try:
            os.chmod(path, 0o755)  # noqa: S103 - the package ships its binary without the x bit
        except OSError as exc:
            raise StackError(f"noida-db binary at {path} is not executable and cannot be made so: {exc}") from exc
    return path


@dataclass(frozen=True)
class StandinServer:
    """noida-db serving ``serves`` (Elasticsearch, and Kafka unless Apache Kafka runs beside it)."""

    serves: tuple[str, ...]
    name: str = "standin"
    marker: bytes = b"noida"

    @property
    def ports(self) -> tuple[str, ...]:
        return self.serves

    @property
    def title(self) -> str:
        return f"noida-db {NOIDA_VERSION} stand-in ({' + '.join(self.serves)})"

    def check(self) -> None:
        noida_binary()

    def prepare(self, layout: Layout) -> None:
        (layout.data_dir / SERVER_DIR).mkdir(parents=True, exist_ok=True)

    def command(self, layout: Layout) -> list[str]:
        command = [
            str(noida_binary()),
            "start",
            "--data-dir",
            str(layout.data_dir / SERVER_DIR),
            "--only",
            ",".join(self.serves),
        ]
        for service in self.serves:
            command += [f"--{service}-port", str(layout.ports[service])]
        return [*command, "--host", layout.host]

    def answers(self, layout: Layout, timeout: float) -> bool:
        if KAFKA in self.serves and not kafka_answers(layout.connect_host, layout.ports[KAFKA], timeout):
            return False
        return ELASTICSEARCH not in self.serves or http_answers(layout.url(layout.ports[ELASTICSEARCH]), timeout)

    def log_file(self, data_dir: Path) -> Path:
        return data_dir / LOG_FILE

    def port_taken(self, log_tail: str) -> bool:
        return "already in use" in log_tail

    def control(self, layout: Layout, action: str, service: str) -> None:
        """``noida-db stop|start <service>`` on the running server: one protocol goes, the other stays."""
        command = [str(noida_binary()), action, service, "--data-dir", str(layout.data_dir / SERVER_DIR)]
        try:
            subprocess.run(command, check=True, capture_output=True, timeout=60)  # noqa: S603
        except (OSError, subprocess.SubprocessError) as exc:
            raise StackError(f"noida-db {action} {service} failed: {exc}") from exc
