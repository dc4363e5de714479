"""Apache Kafka in the local stack: one JVM that is broker and KRaft controller at once, on free ports.

Its jars come from Maven Central (``artifacts.KAFKA``). Its storage is formatted once, with a cluster id
generated here, under ``<data_dir>/kafka/data``, so a restart keeps the topics, the offsets and the
ports. The heap is bounded (``stack.kafka_heap_mb``) and the broker logs to ``<data_dir>/kafka.log``.

:func:`broker_properties` is the one place the broker's settings are written down; docker-compose.yml
sets the same ones (``tests/unit/test_compose.py`` compares them).
"""

from __future__ import annotations

import base64
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

from streamstash.stack import artifacts
from streamstash.stack.errors import StackError
from streamstash.stack.probes import kafka_answers
from streamstash.stack.servers import KAFKA, KAFKA_CONTROLLER, Layout

SERVER_DIR = "kafka"
LOG_FILE = "kafka.log"
NODE_ID = 1
FORMAT_TIMEOUT_S = 120.0

LOG4J2 = """\
# Written by streamstash: the broker logs to stdout, which the local stack appends to kafka.log.
status = warn
appender.stdout.type = Console
appender.stdout.name = STDOUT
appender.stdout.layout.type = PatternLayout
appender.stdout.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.stdout.ref = STDOUT
# Start, registration and stop of the broker stay visible.
logger.raft-server.name = kafka.server.KafkaRaftServer
logger.raft-server.level = INFO
logger.broker-server.name = kafka.server.BrokerServer
logger.broker-server.level = INFO
logger.lifecycle.name = kafka.server.BrokerLifecycleManager
logger.lifecycle.level = INFO
"""


def broker_properties(host: str, port: int, controller_port: int, log_dirs: str) -> dict[str, str]:
    """The settings of a single-node KRaft cluster: broker and controller in one process, replication
    factor 1 for the internal topics, no auto-created topics (streamstash creates its own)."""
    return {
        "process.roles": "broker,controller",
        "node.id": str(NODE_ID),
        "controller.quorum.voters": f"{NODE_ID}@{host}:{controller_port}",
        "listeners": f"PLAINTEXT://{host}:{port},CONTROLLER://{host}:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://{host}:{port}",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "num.partitions": "6",
        "default.replication.factor": "1",
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        "auto.create.topics.enable": "false",
        "log.dirs": log_dirs,
    }


def cluster_id() -> str:
    """A new cluster id in Kafka's form: a random UUID, base64url without padding (22 characters).

    Never one that starts with "-" (1 in 64 would): the storage tool's argument parser takes it for an
    option and stops with a usage error, as Kafka's own ``Uuid.randomUuid`` avoids too.
    """
    while True:
        candidate = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not candidate.startswith("-"):
            return candidate


def properties_text(properties: dict[str, str]) -> str:
    return "".join(f"{key}={value}\n" for key, value in properties.items())


@dataclass(frozen=True)
class KafkaServer:
    heap_mb: int = 512
    name: str = "kafka"
    serves: tuple[str, ...] = (KAFKA,)
    ports: tuple[str, ...] = (KAFKA, KAFKA_CONTROLLER)
    marker: bytes = b"kafka.Kafka"

    @property
    def title(self) -> str:
        return f"{artifacts.KAFKA.title} {artifacts.KAFKA.version}"

    def check(self) -> None:
        if artifacts.java() is None:
            raise StackError(
                "Apache Kafka needs Java 17 or newer and no `java` was found (PATH, JAVA_HOME): install "
                "a JDK, or use the stand-in (--kafka-engine standin)"
            )
        reason = artifacts.runnable(artifacts.KAFKA)
        if reason is not None:
            raise StackError(f"Apache Kafka cannot run here: {reason}; use the stand-in (--kafka-engine standin)")

    def directory(self, data_dir: Path) -> Path:
        return data_dir / SERVER_DIR

    def prepare(self, layout: Layout) -> None:
        directory = self.directory(layout.data_dir)
        storage = directory / "data"
        storage.mkdir(parents=True, exist_ok=True)
        properties = broker_properties(
            layout.connect_host, layout.ports[KAFKA], layout.ports[KAFKA_CONTROLLER], str(storage)
        )
        (directory / "server.properties").write_text(properties_text(properties), encoding="utf-8")
        (directory / "log4j2.properties").write_text(LOG4J2, encoding="utf-8")
        if not (storage / "meta.properties").is_file():
            self._format(directory)

    def _format(self, directory: Path) -> None:
        command = [
            *self._java(directory, heap_mb=128),
            "kafka.tools.StorageTool",
            "format",
            "--cluster-id",
            cluster_id(),
            "--config",
            str(directory / "server.properties"),
            "--ignore-formatted",
        ]
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=FORMAT_TIMEOUT_S, check=False)  # noqa: S603
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise StackError(f"formatting Kafka's storage failed: {exc}") from exc
        if result.returncode != 0:
            raise StackError(
                f"formatting Kafka's storage in {directory} failed (exit {result.returncode}):\n"
                f"{(result.stdout + result.stderr).strip()[-2000:]}"
            )

    def _java(self, directory: Path, heap_mb: int) -> list[str]:
        java = artifacts.java()
        if java is None:
            raise StackError("no java found")
        return [
            java,
            f"-Xmx{heap_mb}m",
            f"-Xms{min(heap_mb, 128)}m",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-XX:+ExitOnOutOfMemoryError",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={directory / 'log4j2.properties'}",
            "-cp",
            artifacts.KAFKA.classpath(),
        ]

    def command(self, layout: Layout) -> list[str]:
        directory = self.directory(layout.data_dir)
        return [*self._java(directory, self.heap_mb), "kafka.Kafka", str(directory / "server.properties")]

    def answers(self, layout: Layout, timeout: float) -> bool:
        return kafka_answers(layout.connect_host, layout.ports[KAFKA], timeout)

    def log_file(self, data_dir: Path) -> Path:
        return data_dir / LOG_FILE

    def port_taken(self, log_tail: str) -> bool:
        return "Address already in use" in log_tail
