"""streamstash against an Apache Kafka that wants SASL_SSL (SCRAM, PLAIN) or mutual TLS.

The module starts a private local stack whose broker gets a CA, a broker certificate and a SCRAM user
made here (`tests/helpers/certificates.py`, Kafka's own `StorageTool --add-scram`), then runs real service
processes and the CLI against it. The stand-in speaks neither TLS nor SASL, so this needs Apache Kafka.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from elasticsearch import Elasticsearch

from streamstash import names
from streamstash.config.common import KafkaSettings
from streamstash.events.envelope import Batch, Event, Source
from streamstash.kafka.diagnose import PROTOCOL, probe
from streamstash.kafka.topics import ensure_topics
from streamstash.stack.manager import LocalStack, StackAddresses
from tests.conftest import session_engine
from tests.helpers.certificates import CertificateAuthority, broker_security
from tests.helpers.elastic import count, wait_for_count
from tests.helpers.kafka import produce_batches, read_dead_letters, read_events
from tests.helpers.metrics import probe as endpoint
from tests.helpers.pipelines import TestPipeline, write_pipeline
from tests.helpers.processes import ServiceProcess, stop_all
from tests.helpers.waiting import wait_until
from tests.integration.test_end_to_end import TUTORIAL_LOG

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(session_engine() != "apache", reason="the noida-db stand-in speaks neither TLS nor SASL"),
]

README = Path(__file__).resolve().parents[2] / "README.md"
USER = "streamstash"
PASSWORD = "Scram-pw-never-logged-4e7a"
WRONG_PASSWORD = "wrong-pw-never-logged-91c3"
PASSWORD_VARIABLE = "TEST_KAFKA_PASSWORD"


@dataclass(frozen=True)
class SecureStack:
    addresses: StackAddresses
    ca: CertificateAuthority
    other_ca: CertificateAuthority  # signs nothing the broker shows

    @property
    def kafka(self) -> str:
        return self.addresses.kafka  # the SASL_SSL listener

    def security(self, **overrides: Any) -> dict[str, Any]:
        """A pipeline's `kafka.security` for the SASL_SSL listener, the password from the environment."""
        return {
            "security_protocol": "SASL_SSL",
            "sasl_mechanism": "SCRAM-SHA-512",
            "username": USER,
            "password": f"${{{PASSWORD_VARIABLE}}}",
            "ca_file": str(self.ca.cert),
            **overrides,
        }


@pytest.fixture(scope="module")
def secure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureStack]:
    directory = tmp_path_factory.mktemp("secure")
    ca = CertificateAuthority(directory / "ca", "streamstash test CA")
    other = CertificateAuthority(directory / "other-ca", "an unrelated CA")
    stack = LocalStack(
        directory / "stack",
        kafka_engine="apache",
        kafka_heap_mb=256,
        kafka_security=broker_security(ca, {USER: PASSWORD}),
    )
    try:
        yield SecureStack(stack.up(), ca, other)
    finally:
        stack.down()


def readme_security() -> dict[str, Any]:
    """`kafka.security` of the README's "Secure Kafka" pipeline: the end-to-end test runs exactly that."""
    section = README.read_text(encoding="utf-8").split("## Secure Kafka", 1)[1]
    block = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    security = yaml.safe_load(block)["kafka"]["security"]
    assert isinstance(security, dict)
    return security


def settings_of(secure: SecureStack, **security: Any) -> KafkaSettings:
    return KafkaSettings.model_validate(
        {"bootstrap_servers": secure.kafka, "security": secure.security(password=PASSWORD, **security)}
    )


def secure_pipeline(
    tmp_path: Path,
    secure: SecureStack | None,
    body: dict[str, Any],
    security: dict[str, Any] | None = None,
    **more: Any,
) -> TestPipeline:
    """A test pipeline whose `kafka.security` (with `${VAR}`s, added after `write_pipeline` validated it without
    them) is ``security``, or the SASL_SSL one of ``secure`` with ``more``."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    pipeline = write_pipeline(tmp_path, body)
    tree = yaml.safe_load(pipeline.path.read_text())
    assert security is not None or secure is not None
    tree["kafka"]["security"] = security if security is not None else secure.security(**more)  # type: ignore[union-attr]
    pipeline.path.write_text(yaml.safe_dump(tree, sort_keys=False))
    return pipeline


def service(name: str, pipeline: TestPipeline, secure: SecureStack, log_dir: Path, password: str) -> ServiceProcess:
    return ServiceProcess(
        name,
        pipeline.path,
        secure.kafka,
        secure.addresses.elasticsearch,
        log_dir,
        extra_env={PASSWORD_VARIABLE: password},
    )


def streamstash(
    *arguments: str, password: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    variables = {**(env or {}), **({PASSWORD_VARIABLE: password} if password is not None else {})}
    return subprocess.run(
        [sys.executable, "-m", "streamstash.services.cli", *arguments],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **variables},
        check=False,
    )


def test_tutorial_pipeline_over_sasl_ssl_and_no_secret_in_any_log(
    secure: SecureStack, tmp_path: Path, log_dir: Path
) -> None:
    log_file = tmp_path / "access.log"
    shutil.copy(TUTORIAL_LOG, log_file)
    pipeline = secure_pipeline(
        tmp_path,
        None,
        {
            "inputs": [{"type": "file", "paths": [str(log_file)], "start_position": "beginning"}],
            "filters": [
                {"grok": {"match": {"message": ["%{COMBINEDAPACHELOG}"]}}},
                {"date": {"match": ["timestamp", "dd/MMM/yyyy:HH:mm:ss Z"]}},
            ],
            "aggregations": [
                {
                    "name": "per_status",
                    "task_id": "%{response}",
                    "metrics": {"count": {"type": "count"}},
                    "flush": {"every": 49},
                    "index_events": True,
                }
            ],
            # DEBUG: streamstash's own debug lines are searched below too (client libraries stay at WARNING).
            "logging": {"level": "DEBUG"},
        },
        security=readme_security(),
    )
    es = Elasticsearch(secure.addresses.elasticsearch, request_timeout=30)
    readme_variables = {"KAFKA_USERNAME": USER, "KAFKA_PASSWORD": PASSWORD, "KAFKA_CA_FILE": str(secure.ca.cert)}
    services = [
        ServiceProcess(
            name, pipeline.path, secure.kafka, secure.addresses.elasticsearch, log_dir, extra_env=readme_variables
        )
        for name in ("collector", "parser", "aggregator", "indexer")
    ]
    try:
        wait_for_count(es, pipeline.index, 100, timeout=180)
        wait_for_count(es, pipeline.aggregate_index, 2, timeout=60)
        status = streamstash(
            "status", "--config", str(pipeline.path), "--kafka", secure.kafka, "--json", env=readme_variables
        )
    finally:
        stop_all(services)
    assert count(es, pipeline.index) == 100
    letters = read_dead_letters(settings_of(secure), pipeline.topics.dlq, expected=1)
    assert "grok" in letters[0].reason
    assert status.returncode == 0, status.stderr
    snapshot = json.loads(status.stdout)
    assert snapshot["raw_records"] >= 1
    assert PASSWORD not in status.stdout + status.stderr
    for process in services:
        text = process.log_text()
        assert "serving metrics and health" in text, process.name
        assert PASSWORD not in text, f"{process.name} logged the Kafka password"
    es.close()


def test_a_wrong_password_is_explained_retried_with_backoff_and_not_ready(
    secure: SecureStack, tmp_path: Path, log_dir: Path
) -> None:
    pipeline = secure_pipeline(tmp_path, secure, {})
    indexer = service(names.SERVICE_INDEXER, pipeline, secure, log_dir, WRONG_PASSWORD)
    try:

        def refusals() -> list[dict[str, Any]] | None:
            found = [
                json.loads(line)
                for line in indexer.log_text().splitlines()
                if line.startswith("{") and "kafka refuses this client" in line
            ]
            return found if len(found) >= 3 else None

        logged = wait_until(refusals, timeout=90, message="the indexer did not log three refusals")
        port = indexer.http_port
        assert endpoint(port, "/readyz")[0] == 503
        assert endpoint(port, "/healthz")[0] == 200
        assert indexer.alive(), "a refused password must not crash the service"
    finally:
        indexer.stop()
    first = logged[0]
    assert first["level"] == "ERROR" and first["broker"] == secure.kafka and first["problem"] == "authentication"
    assert first["error"].startswith(
        f"kafka {secure.kafka} (SASL_SSL, SCRAM-SHA-512 as '{USER}'): authentication failed"
    )
    assert "invalid credentials" in first["error"]
    delays = [entry["retry_in_s"] for entry in logged]
    assert delays[-1] > delays[0], f"no backoff: {delays}"
    text = indexer.log_text()
    assert WRONG_PASSWORD not in text and PASSWORD not in text


def test_an_untrusted_broker_certificate_and_a_refused_password_read_clearly_in_the_cli(
    secure: SecureStack, tmp_path: Path
) -> None:
    untrusted = secure_pipeline(tmp_path / "untrusted", secure, {}, ca_file=str(secure.other_ca.cert))
    result = streamstash("topics", "--config", str(untrusted.path), "--kafka", secure.kafka, password=PASSWORD)
    assert result.returncode == 1
    assert f"kafka {secure.kafka} (SASL_SSL, SCRAM-SHA-512 as '{USER}')" in result.stderr
    assert "TLS certificate is not trusted" in result.stderr and str(secure.other_ca.cert) in result.stderr
    refused = secure_pipeline(tmp_path / "refused", secure, {})
    result = streamstash(
        "status", "--config", str(refused.path), "--kafka", secure.kafka, "--json", password=WRONG_PASSWORD
    )
    assert result.returncode == 1 and "authentication failed" in result.stderr
    assert WRONG_PASSWORD not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256"])
def test_each_sasl_mechanism_creates_topics_and_carries_records(
    secure: SecureStack, tmp_path: Path, mechanism: str
) -> None:
    pipeline = write_pipeline(tmp_path, {})
    settings = settings_of(secure, sasl_mechanism=mechanism).model_copy(update={"topics": pipeline.topics})
    assert asyncio.run(probe(settings)) is None
    assert set(asyncio.run(ensure_topics(settings))) == set(pipeline.topics.all())
    event = Event(message=f"over {mechanism}", timestamp="2024-01-01T00:00:00.000Z", source=Source(kind="test"))
    produce_batches(settings, pipeline.topics.parsed, [(b"k", Batch(events=[event]))])
    assert [got.message for got in read_events(settings, pipeline.topics.parsed)] == [f"over {mechanism}"]


def test_mutual_tls_listener_takes_a_client_certificate_and_explains_its_absence(
    secure: SecureStack, tmp_path: Path
) -> None:
    pipeline = write_pipeline(tmp_path, {})
    client = secure.ca.issue("streamstash-client", client=True, password="client-key-pw")
    mutual = KafkaSettings.model_validate(
        {
            "bootstrap_servers": secure.addresses.kafka_listeners["SSL"],
            "topics": pipeline.topics.model_dump(),
            "security": {
                "security_protocol": "SSL",
                "ca_file": str(secure.ca.cert),
                "cert_file": str(client.cert),
                "key_file": str(client.key),
                "key_password": "client-key-pw",
            },
        }
    )
    assert asyncio.run(probe(mutual)) is None
    assert asyncio.run(ensure_topics(mutual))
    without_certificate = mutual.model_copy(
        update={
            "security": mutual.security.model_copy(update={"cert_file": None, "key_file": None, "key_password": None})
        }
    )
    problem = asyncio.run(probe(without_certificate))
    assert problem is not None and problem.kind in (PROTOCOL, "tls")
    assert "cert_file" in problem.message and secure.addresses.kafka_listeners["SSL"] in problem.message
    plaintext = KafkaSettings(bootstrap_servers=secure.kafka)
    problem = asyncio.run(probe(plaintext))
    assert problem is not None and "does its listener speak PLAINTEXT" in problem.message
