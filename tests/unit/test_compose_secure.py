"""docker-compose.secure.yml over docker-compose.yml: a SASL_SSL Kafka that agrees with the local stack's
secured broker (`broker_properties`), the pipeline file and deploy/secure/make-certs.sh.

No Docker here: the two files are merged the way Compose merges an override (mappings key by key,
volumes by their target), and the files make-certs.sh writes are checked with Python's ssl.
"""

from __future__ import annotations

import re
import shutil
import socket
import ssl
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from streamstash.config import load_pipeline
from streamstash.stack.kafka_broker import SASL_MECHANISMS, BrokerSecurity, broker_properties
from tests.unit.test_compose import (
    COMPOSE_FILE,
    LOADS_PIPELINE,
    PIPELINE_FILE,
    ROOT,
    command_words,
    environment,
    volume_specs,
)

SECURE_FILE = ROOT / "docker-compose.secure.yml"
MAKE_CERTS = ROOT / "deploy" / "secure" / "make-certs.sh"
SECRETS_IN_KAFKA = "/etc/kafka/secrets"


def merge_service(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if key == "environment":
            merged[key] = {**environment(base), **environment(override)}
        elif key == "volumes":
            by_target = {spec[1]: volume for volume, spec in zip(base.get(key, []), volume_specs(base), strict=True)}
            by_target.update({spec[1]: v for v, spec in zip(value, volume_specs(override), strict=True)})
            merged[key] = list(by_target.values())
        elif isinstance(value, dict) and isinstance(base.get(key), dict):
            merged[key] = {**base[key], **value}
        else:
            merged[key] = value
    return merged


@pytest.fixture(scope="module")
def override() -> dict[str, Any]:
    document = yaml.safe_load(SECURE_FILE.read_text(encoding="utf-8"))
    assert isinstance(document, dict) and "version" not in document
    return document


@pytest.fixture(scope="module")
def services(override: dict[str, Any]) -> dict[str, dict[str, Any]]:
    base = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))["services"]
    merged = dict(base)
    for name, service in override["services"].items():
        merged[name] = merge_service(base.get(name, {}), service)
    return merged


def kafka_property(variable: str) -> str:
    """The broker setting a KAFKA_* variable of the apache/kafka image stands for (`___` -> `-`, `__` -> `_`)."""
    name = variable.removeprefix("KAFKA_").lower()
    return name.replace("___", "\0").replace("__", "\1").replace("_", ".").replace("\0", "-").replace("\1", "_")


def listener_protocols(protocol_map: str) -> dict[str, str]:
    return dict(item.split(":") for item in protocol_map.split(","))


def test_the_override_adds_only_the_user_job_and_waits_for_it(services: dict[str, Any], override: dict) -> None:
    base = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))["services"]
    assert set(override["services"]) - set(base) == {"kafka-users"}
    users = services["kafka-users"]
    assert users["restart"] == "no" and users["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert users["image"] == services["kafka"]["image"], "the user tool must match the broker's version"
    assert services["topics"]["depends_on"]["kafka-users"]["condition"] == "service_completed_successfully"
    script = " ".join(command_words(users))
    assert "kafka-configs.sh --bootstrap-server kafka:9094" in script
    for mechanism in ("SCRAM-SHA-512", "SCRAM-SHA-256"):
        assert mechanism in script


def test_the_broker_settings_agree_with_the_local_stacks_secured_broker(services: dict[str, Any]) -> None:
    kafka = {kafka_property(key): value for key, value in environment(services["kafka"]).items()}
    local = broker_properties(
        "kafka", 9092, 9093, "/data", BrokerSecurity(Path("k.pem"), Path("ca.pem")), internal_port=9094, mtls_port=9095
    )
    compose_protocols = listener_protocols(kafka["listener.security.protocol.map"])
    local_protocols = listener_protocols(local["listener.security.protocol.map"])
    assert compose_protocols.items() <= local_protocols.items()
    assert kafka["inter.broker.listener.name"] == local["inter.broker.listener.name"] == "INTERNAL"
    assert set(kafka["sasl.enabled.mechanisms"].split(",")) <= set(SASL_MECHANISMS)
    advertised = dict(item.split("://") for item in kafka["advertised.listeners"].split(","))
    assert advertised["SASL_SSL"] == environment(services["parser"])["STREAMSTASH_KAFKA"], "clients must get SASL_SSL"
    assert set(advertised) == {"SASL_SSL", "INTERNAL"}
    internal_port = advertised["INTERNAL"].rsplit(":", 1)[1]
    assert f"localhost:{internal_port}" in " ".join(services["kafka"]["healthcheck"]["test"])
    assert (f"./{MAKE_CERTS.parent.relative_to(ROOT)}/certs", SECRETS_IN_KAFKA, "ro") in volume_specs(services["kafka"])


def test_every_pipeline_service_gets_sasl_ssl_with_the_mounted_ca(services: dict[str, Any]) -> None:
    for name in LOADS_PIPELINE:
        env = {**environment(services[name]), "KAFKA_PASSWORD": "from-the-shell"}
        security = load_pipeline(PIPELINE_FILE, env=env).kafka.security
        assert (security.security_protocol, security.sasl_mechanism) == ("SASL_SSL", "SCRAM-SHA-512"), name
        assert security.password is not None and security.password.get_secret_value() == "from-the-shell"
        mounts = {target: source for source, target, _ in volume_specs(services[name])}
        assert str(security.ca_file) in mounts, f"{name}: the CA file is not mounted"
        assert mounts[str(security.ca_file)].endswith("/certs/ca.pem")
    plain = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))["services"]["parser"]
    assert load_pipeline(PIPELINE_FILE, env=environment(plain)).kafka.security.security_protocol == "PLAINTEXT"


def test_compose_variables_are_escaped_and_the_password_is_required() -> None:
    text = "\n".join(line.split("#", 1)[0] for line in SECURE_FILE.read_text(encoding="utf-8").splitlines())
    for match in re.finditer(r"\$(?!\$)(\{[A-Za-z_][A-Za-z0-9_]*(:?[-?+][^}]*)?\}|[A-Za-z_])?", text):
        if match.start() > 0 and text[match.start() - 1] == "$":
            continue
        assert match.group(1), f"unescaped $ at offset {match.start()}: {text[match.start() : match.start() + 30]!r}"
    assert "${KAFKA_PASSWORD:?" in text  # `up` stops at once without it instead of starting a broker nobody can use


@pytest.mark.skipif(shutil.which("openssl") is None, reason="make-certs.sh needs openssl")
def test_make_certs_writes_what_the_broker_reads_and_clients_trust(services: dict[str, Any], tmp_path: Path) -> None:
    result = subprocess.run(
        ["sh", str(MAKE_CERTS), str(tmp_path)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    env = environment(services["kafka"])
    for variable in ("KAFKA_SSL_KEYSTORE_FILENAME", "KAFKA_SSL_KEYSTORE_CREDENTIALS", "KAFKA_SSL_KEY_CREDENTIALS"):
        assert (tmp_path / env[variable]).is_file(), variable
    jaas = env["KAFKA_OPTS"].split("java.security.auth.login.config=")[1].split()[0]
    assert jaas.startswith(SECRETS_IN_KAFKA + "/")
    assert "ScramLoginModule required" in (tmp_path / Path(jaas).name).read_text()
    password = (tmp_path / env["KAFKA_SSL_KEYSTORE_CREDENTIALS"]).read_text().strip()
    key, certificate, _chain = pkcs12.load_key_and_certificates(
        (tmp_path / env["KAFKA_SSL_KEYSTORE_FILENAME"]).read_bytes(), password.encode()
    )
    assert key is not None and certificate is not None
    key_file, cert_file = tmp_path / "check-key.pem", tmp_path / "check-cert.pem"
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    # A client that trusts ca.pem and checks the name `kafka` (what the services connect to) accepts the broker.
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert_file, key_file)
    client_context = ssl.create_default_context(cafile=tmp_path / "ca.pem")
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        def serve() -> None:
            connection, _ = listener.accept()
            with server_context.wrap_socket(connection, server_side=True) as tls:
                tls.recv(1)

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        with (
            socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
            client_context.wrap_socket(raw, server_hostname="kafka") as tls,
        ):
            assert tls.getpeercert()["subject"] == ((("commonName", "kafka"),),)
            tls.sendall(b"x")
        thread.join(10)
