"""Apache Kafka in the local stack: one JVM that is broker and KRaft controller at once, on free ports.

Its jars come from Maven Central (``artifacts.KAFKA``). Its storage is formatted once, with a cluster id
generated here, under ``<data_dir>/kafka/data``, so a restart keeps the topics, the offsets and the
ports. The heap is bounded (``stack.kafka_heap_mb``) and the broker logs to ``<data_dir>/kafka.log``.

:func:`broker_properties` is the one place the broker's settings are written down; docker-compose.yml
sets the same ones (``tests/unit/test_compose.py`` compares them).

With :class:`BrokerSecurity` the client port speaks SASL_SSL (SCRAM-SHA-256, SCRAM-SHA-512 and PLAIN),
a second port SSL with client certificates required (mutual TLS), both from PEM files; the users are
created by Kafka's own ``StorageTool format --add-scram`` before the first start (and for PLAIN listed
in the listener's JAAS config). Inter-broker traffic and the stack's readiness probe then use a
plaintext listener of their own on the same loopback host, which is never advertised to clients.
"""

from __future__ import annotations

import base64
import os
import subprocess
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streamstash.stack import artifacts
from streamstash.stack.errors import StackError
from streamstash.stack.probes import kafka_answers
from streamstash.stack.servers import KAFKA, KAFKA_CONTROLLER, KAFKA_INTERNAL, KAFKA_MTLS, Layout

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


SCRAM_MECHANISMS = ("SCRAM-SHA-256", "SCRAM-SHA-512")
SASL_MECHANISMS = (*SCRAM_MECHANISMS, "PLAIN")


@dataclass(frozen=True)
class BrokerSecurity:
    """A secured broker: what the certificates are and which users exist.

    ``keystore`` holds the broker's PKCS#8 private key (unencrypted) and its certificate chain, PEM;
    ``truststore`` the CA certificates (PEM) client certificates are checked against on the mutual
    TLS port. ``users`` (name -> password) may log in with each of ``SASL_MECHANISMS``.
    """

    keystore: Path
    truststore: Path
    users: Mapping[str, str] = field(default_factory=dict)

    def to_state(self) -> dict[str, Any]:
        return {"keystore": str(self.keystore), "truststore": str(self.truststore), "users": dict(self.users)}

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> BrokerSecurity:
        return cls(Path(state["keystore"]), Path(state["truststore"]), dict(state.get("users", {})))


def broker_properties(
    host: str,
    port: int,
    controller_port: int,
    log_dirs: str,
    security: BrokerSecurity | None = None,
    internal_port: int | None = None,
    mtls_port: int | None = None,
) -> dict[str, str]:
    """The settings of a single-node KRaft cluster: broker and controller in one process, replication
    factor 1 for the internal topics, no auto-created topics (streamstash creates its own).

    With ``security``: SASL_SSL on ``port``, SSL with required client certificates on ``mtls_port``, and
    the plaintext ``INTERNAL`` listener on ``internal_port`` for inter-broker traffic and probes."""
    if security is None:
        listeners = {"PLAINTEXT": ("PLAINTEXT", port)}
        inter_broker = "PLAINTEXT"
    else:
        if internal_port is None or mtls_port is None:
            raise ValueError("a secured broker needs an internal and a mutual TLS port")
        listeners = {
            "SASL_SSL": ("SASL_SSL", port),
            "SSL": ("SSL", mtls_port),
            "INTERNAL": ("PLAINTEXT", internal_port),
        }
        inter_broker = "INTERNAL"
    properties = {
        "process.roles": "broker,controller",
        "node.id": str(NODE_ID),
        "controller.quorum.voters": f"{NODE_ID}@{host}:{controller_port}",
        "listeners": ",".join(
            [
                *(f"{name}://{host}:{number}" for name, (_, number) in listeners.items()),
                f"CONTROLLER://{host}:{controller_port}",
            ]
        ),
        "advertised.listeners": ",".join(f"{name}://{host}:{number}" for name, (_, number) in listeners.items()),
        "listener.security.protocol.map": ",".join(
            [*(f"{name}:{protocol}" for name, (protocol, _) in listeners.items()), "CONTROLLER:PLAINTEXT"]
        ),
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": inter_broker,
        "num.partitions": "6",
        "default.replication.factor": "1",
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        "auto.create.topics.enable": "false",
        # Kafka's default, 128 MiB, is one array allocated at start-up: in the tests' small heaps it could
        # not always be placed (a 256 MiB broker died of OutOfMemoryError in RECOVERY; at 160 MiB always).
        # 32 MiB holds about 1.4 million keys per cleaning pass of the compacted changelogs.
        "log.cleaner.dedupe.buffer.size": str(32 * 1024 * 1024),
        # After a kill -9 the one controller, started again, gives the dead broker's registration a fresh
        # session, and refuses the new one (DUPLICATE_BROKER_REGISTRATION) until that session expires: 9 s
        # by default (apache/kafka#19454 spares clean stops only). With 4 s a restart after kill -9 took 7.2 s
        # here instead of 12.2 s.
        "broker.session.timeout.ms": "4000",
        "broker.heartbeat.interval.ms": "1000",
        "log.dirs": log_dirs,
    }
    if security is not None:
        properties.update(security_properties(security))
    return properties


def security_properties(security: BrokerSecurity) -> dict[str, str]:
    """TLS from PEM files on both secured listeners, SASL on SASL_SSL, client certificates on SSL."""
    plain_users = " ".join(f'user_{name}="{_jaas_quoted(password)}"' for name, password in security.users.items())
    properties = {
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": str(security.keystore),
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": str(security.truststore),
        "listener.name.ssl.ssl.client.auth": "required",
        "sasl.enabled.mechanisms": ",".join(SASL_MECHANISMS),
        "listener.name.sasl_ssl.plain.sasl.jaas.config": (
            f"org.apache.kafka.common.security.plain.PlainLoginModule required {plain_users};"
        ),
    }
    for mechanism in SCRAM_MECHANISMS:
        properties[f"listener.name.sasl_ssl.{mechanism.lower()}.sasl.jaas.config"] = (
            "org.apache.kafka.common.security.scram.ScramLoginModule required;"
        )
    return properties


def scram_arguments(security: BrokerSecurity) -> list[str]:
    """``StorageTool format`` arguments creating every user for each SCRAM mechanism."""
    arguments = []
    for name, password in security.users.items():
        for mechanism in SCRAM_MECHANISMS:
            arguments += ["--add-scram", f'{mechanism}=[name={name},password="{_jaas_quoted(password)}"]']
    return arguments


def _jaas_quoted(value: str) -> str:
    if any(char in value for char in '"\\\n'):
        raise ValueError("a local stack user's password may not hold quotes, backslashes or newlines")
    return value


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
    security: BrokerSecurity | None = None
    name: str = "kafka"
    serves: tuple[str, ...] = (KAFKA,)
    marker: bytes = b"kafka.Kafka"

    @property
    def ports(self) -> tuple[str, ...]:
        if self.security is None:
            return (KAFKA, KAFKA_CONTROLLER)
        return (KAFKA, KAFKA_CONTROLLER, KAFKA_INTERNAL, KAFKA_MTLS)

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
            layout.connect_host,
            layout.ports[KAFKA],
            layout.ports[KAFKA_CONTROLLER],
            str(storage),
            self.security,
            layout.ports.get(KAFKA_INTERNAL),
            layout.ports.get(KAFKA_MTLS),
        )
        config = directory / "server.properties"
        config.write_text(properties_text(properties), encoding="utf-8")
        os.chmod(config, 0o600)  # PLAIN users' passwords
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
            *(scram_arguments(self.security) if self.security is not None else []),
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
        probed = KAFKA if self.security is None else KAFKA_INTERNAL  # the probe speaks plaintext only
        return kafka_answers(layout.connect_host, layout.ports[probed], timeout)

    def log_file(self, data_dir: Path) -> Path:
        return data_dir / LOG_FILE

    def port_taken(self, log_tail: str) -> bool:
        return "Address already in use" in log_tail
