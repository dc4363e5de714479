"""`kafka.security`: validation, the one mapping to aiokafka and Faust, the diagnosis, and secrets kept out
of every dump of the settings. In memory; the broker side is in tests/integration/test_secure_kafka.py."""

from __future__ import annotations

import asyncio
import itertools
import logging
import ssl
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiokafka import errors

from streamstash.config import ConfigError, PipelineConfig, parse_pipeline
from streamstash.config.common import KafkaSettings
from streamstash.config.docs import render_reference
from streamstash.kafka import diagnose, topics
from streamstash.kafka.clients import make_admin, make_consumer, make_producer
from streamstash.kafka.diagnose import AUTHENTICATION, PROTOCOL, TLS, UNREACHABLE, KafkaProblem, explain
from streamstash.kafka.security import KafkaSecurityError, client_security, faust_credentials, tls_context
from streamstash.ops.replay import write_config
from streamstash.stack.kafka_broker import BrokerSecurity, broker_properties, scram_arguments
from tests.helpers.certificates import CertificateAuthority

PASSWORD = "kafka-pw-never-shown-7c1"
KEY_PASSWORD = "key-pw-never-shown-2b9"


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> CertificateAuthority:
    return CertificateAuthority(tmp_path_factory.mktemp("ca"))


def kafka(**security: Any) -> KafkaSettings:
    return KafkaSettings.model_validate({"bootstrap_servers": "broker-a:9093", "security": security})


def sasl_ssl(ca: CertificateAuthority, mechanism: str = "SCRAM-SHA-512", **more: Any) -> KafkaSettings:
    return kafka(
        security_protocol="SASL_SSL",
        sasl_mechanism=mechanism,
        username="streamstash",
        password=PASSWORD,
        ca_file=str(ca.cert),
        **more,
    )


# ---- the settings ----


@pytest.mark.parametrize(
    ("security", "fragment"),
    [
        ({"security_protocol": "SASL_SSL", "username": "u", "password": "p"}, "needs sasl_mechanism"),
        ({"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "PLAIN"}, "needs username, password"),
        ({"security_protocol": "PLAINTEXT", "username": "u"}, "need a SASL_* security_protocol"),
        (
            {
                "security_protocol": "SASL_PLAINTEXT",
                "sasl_mechanism": "PLAIN",
                "username": "u",
                "password": "p",
                "ca_file": "/ca.pem",
            },
            "ca_file need security_protocol SSL or SASL_SSL",
        ),
        ({"security_protocol": "SSL", "cert_file": "/c.pem"}, "cert_file and key_file go together"),
        ({"security_protocol": "SASL_SSL", "sasl_mechanism": "GSSAPI", "username": "u", "password": "p"}, "PLAIN"),
        ({"security_protocol": "TLS"}, "SASL_SSL"),
    ],
)
def test_inconsistent_security_is_a_readable_config_error(security: dict[str, str], fragment: str) -> None:
    text = yaml.safe_dump({"kafka": {"security": security}})
    with pytest.raises(ConfigError, match=r"kafka\.security") as raised:
        parse_pipeline(text)
    assert fragment in str(raised.value)
    assert "\n  - kafka.security" in str(raised.value)


def test_the_password_comes_from_the_environment_and_never_shows(ca: CertificateAuthority) -> None:
    text = yaml.safe_dump(
        {
            "kafka": {
                "bootstrap_servers": "b:9093",
                "security": {
                    "security_protocol": "SASL_SSL",
                    "sasl_mechanism": "SCRAM-SHA-256",
                    "username": "streamstash",
                    "password": "${KAFKA_PASSWORD}",
                    "ca_file": str(ca.cert),
                },
            }
        }
    )
    config = parse_pipeline(text, env={"KAFKA_PASSWORD": PASSWORD})
    assert config.kafka.security.password is not None
    assert config.kafka.security.password.get_secret_value() == PASSWORD
    for dump in (repr(config), str(config.model_dump()), config.model_dump_json(), config.kafka.security.describe()):
        assert PASSWORD not in dump
    assert config.kafka.security.describe() == "SASL_SSL, SCRAM-SHA-256 as 'streamstash'"
    # A validation error elsewhere in the same file does not echo the password either.
    broken = text.replace("bootstrap_servers: b:9093", "bootstrap_servers: b:9093\n  partitions: lots")
    with pytest.raises(ConfigError) as raised:
        parse_pipeline(broken, env={"KAFKA_PASSWORD": PASSWORD})
    assert PASSWORD not in str(raised.value)


def test_the_reference_documents_the_section_with_placeholders_only() -> None:
    reference = render_reference()
    assert "#### `kafka.security`" in reference and "#### `inputs[] (type: tcp).tls`" in reference
    assert '`"${KAFKA_PASSWORD}"`' in reference


def test_replay_passes_the_kafka_secrets_to_its_services_through_the_environment(
    ca: CertificateAuthority, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = ca.issue("replay-client", client=True, password=KEY_PASSWORD)
    settings = sasl_ssl(ca, cert_file=str(client.cert), key_file=str(client.key), key_password=KEY_PASSWORD)
    config = PipelineConfig(kafka=settings)
    for variable in ("STREAMSTASH_REPLAY_KAFKA_PASSWORD", "STREAMSTASH_REPLAY_KAFKA_KEY_PASSWORD"):
        monkeypatch.delenv(variable, raising=False)
    path = write_config(config, tmp_path / "replay.yml")
    written = path.read_text()
    assert PASSWORD not in written and KEY_PASSWORD not in written
    reloaded = parse_pipeline(written)  # with the variables write_config set in this process
    assert reloaded.kafka.security.password is not None and reloaded.kafka.security.key_password is not None
    assert reloaded.kafka.security.password.get_secret_value() == PASSWORD
    assert reloaded.kafka.security.key_password.get_secret_value() == KEY_PASSWORD
    assert client_security(reloaded.kafka)["sasl_plain_password"] == PASSWORD


# ---- one mapping for aiokafka and Faust ----


def test_plaintext_adds_nothing_but_the_protocol() -> None:
    assert client_security(kafka()) == {"security_protocol": "PLAINTEXT"}
    assert faust_credentials(kafka()) is None


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_sasl_ssl_arguments_and_faust_maps_them_back_to_the_same(ca: CertificateAuthority, mechanism: str) -> None:
    from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

    settings = sasl_ssl(ca, mechanism)
    options = client_security(settings)
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == mechanism
    assert (options["sasl_plain_username"], options["sasl_plain_password"]) == ("streamstash", PASSWORD)
    assert isinstance(options["ssl_context"], ssl.SSLContext) and options["ssl_context"].check_hostname
    # What Faust's aiokafka driver builds from the credentials is exactly what the other clients get.
    assert dict(credentials_to_aiokafka_auth(faust_credentials(settings))) == options
    assert PASSWORD not in repr(faust_credentials(settings))


def test_sasl_plaintext_and_ssl_map_for_faust_too(ca: CertificateAuthority) -> None:
    from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

    plain = kafka(security_protocol="SASL_PLAINTEXT", sasl_mechanism="PLAIN", username="u", password=PASSWORD)
    client = ca.issue("mtls-client", client=True)
    mutual = kafka(security_protocol="SSL", ca_file=str(ca.cert), cert_file=str(client.cert), key_file=str(client.key))
    for settings in (plain, mutual):
        mapped = credentials_to_aiokafka_auth(faust_credentials(settings))
        # ssl_context=None is aiokafka's default: the same client either way.
        assert {key: value for key, value in mapped.items() if value is not None} == client_security(settings)
    assert "ssl_context" not in client_security(plain)


def test_every_client_factory_carries_the_security(ca: CertificateAuthority) -> None:
    settings = sasl_ssl(ca)

    async def build() -> list[Any]:
        return [
            make_producer(settings, "p").client,
            make_consumer(settings, group=None, client_id="c")._client,
            make_admin(settings)._client,
        ]

    for client in asyncio.run(build()):
        assert client._security_protocol == "SASL_SSL"
        assert client._sasl_mechanism == "SCRAM-SHA-512"
        assert client._ssl_context is client_security(settings)["ssl_context"]


def test_hostname_check_can_be_turned_off_but_the_chain_is_still_verified(ca: CertificateAuthority) -> None:
    context = tls_context(sasl_ssl(ca, check_hostname=False).security)
    assert context.check_hostname is False and context.verify_mode == ssl.CERT_REQUIRED


def test_unusable_tls_files_are_a_config_error_naming_the_key(ca: CertificateAuthority, tmp_path: Path) -> None:
    with pytest.raises(KafkaSecurityError, match=r"kafka\.security\.ca_file .*nowhere\.pem: no such file"):
        client_security(kafka(security_protocol="SSL", ca_file=str(tmp_path / "nowhere.pem")))
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate")
    with pytest.raises(KafkaSecurityError, match=r"cannot use the TLS files"):
        client_security(kafka(security_protocol="SSL", ca_file=str(garbage)))
    client = ca.issue("locked", client=True, password=KEY_PASSWORD)
    with pytest.raises(KafkaSecurityError) as raised:
        client_security(
            kafka(
                security_protocol="SSL",
                cert_file=str(client.cert),
                key_file=str(client.key),
                key_password="wrong-key-pw-31",
            )
        )
    assert "key_file" in str(raised.value) and "wrong-key-pw-31" not in str(raised.value)


# ---- the diagnosis ----


def test_a_refused_password_names_broker_mechanism_and_user_but_not_the_password(ca: CertificateAuthority) -> None:
    exc = errors.SaslAuthenticationFailed(
        "Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512"
    )
    problem = explain(sasl_ssl(ca), "broker-a:9093", exc, "connect")
    assert problem.kind == AUTHENTICATION and not problem.transient
    assert problem.message.startswith("kafka broker-a:9093 (SASL_SSL, SCRAM-SHA-512 as 'streamstash'): authentication")
    assert "invalid credentials" in problem.message and PASSWORD not in problem.message


def test_an_untrusted_certificate_says_which_ca_file_failed(ca: CertificateAuthority) -> None:
    exc = ssl.SSLCertVerificationError(1, "certificate verify failed")
    exc.verify_message = "unable to get local issuer certificate"
    problem = explain(sasl_ssl(ca), "broker-a:9093", exc, "connect")
    assert problem.kind == TLS
    assert "not trusted (unable to get local issuer certificate)" in problem.message
    assert str(ca.cert) in problem.message
    exc.verify_message = "Hostname mismatch, certificate is not valid for 'broker-a'."
    assert "check_hostname: false" in explain(sasl_ssl(ca), "broker-a:9093", exc, "connect").message


def test_a_closed_connection_and_a_refused_one_read_differently(ca: CertificateAuthority) -> None:
    closed = explain(kafka(), "broker-a:9093", errors.KafkaConnectionError("Connection at broker-a:9093 closed"), "x")
    assert closed.kind == PROTOCOL and "does its listener speak PLAINTEXT" in closed.message
    refused = explain(kafka(), "broker-a:9093", ConnectionRefusedError(111, "Connection refused"), "connect")
    assert refused.kind == UNREACHABLE and refused.transient
    assert refused.message == "kafka broker-a:9093 (PLAINTEXT): not reachable (Connection refused)"


async def test_the_probe_of_a_closed_port_says_unreachable(ca: CertificateAuthority) -> None:
    import socket

    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        port = placeholder.getsockname()[1]
    problem = await diagnose.probe(kafka().model_copy(update={"bootstrap_servers": f"127.0.0.1:{port}"}))
    assert problem is not None and problem.kind == UNREACHABLE and f"127.0.0.1:{port}" in problem.message


async def test_waiting_for_a_refusing_broker_backs_off_further_than_for_a_down_one(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, ca: CertificateAuthority
) -> None:
    answers = [KafkaProblem("broker-a:9093", AUTHENTICATION, "kafka broker-a:9093 (...): authentication failed")] * 8
    answers.append(None)
    slept: list[float] = []
    created: list[bool] = []

    async def probe(_settings: KafkaSettings) -> KafkaProblem | None:
        return answers.pop(0)

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    async def ensure(_settings: KafkaSettings, _extra: object = None) -> list[str]:
        created.append(True)
        return []

    monkeypatch.setattr(topics, "probe", probe)
    monkeypatch.setattr(topics, "ensure_topics", ensure)
    monkeypatch.setattr(topics.asyncio, "sleep", sleep)
    with caplog.at_level(logging.WARNING, logger=topics.__name__):
        await topics.wait_for_topics(sasl_ssl(ca), max_delay_s=10, misconfigured_max_delay_s=60)
    assert created == [True] and len(slept) == 8
    assert slept[-1] > 10  # past the cap of a broker that is down: jittered, but at least half of 60 s
    assert all(later >= earlier / 2 for earlier, later in itertools.pairwise(slept))
    records = [record for record in caplog.records if record.name == topics.__name__]
    assert {record.levelno for record in records} == {logging.ERROR}
    assert all(record.problem == AUTHENTICATION and record.broker == "broker-a:9093" for record in records)  # type: ignore[attr-defined]


# ---- the local stack's secured broker ----


def test_a_secured_broker_listens_sasl_ssl_and_mutual_tls_and_keeps_plaintext_internal(tmp_path: Path) -> None:
    security = BrokerSecurity(tmp_path / "keystore.pem", tmp_path / "ca.pem", {"alice": "alice-pw"})
    properties = broker_properties("127.0.0.1", 9093, 9094, "/data", security, internal_port=9095, mtls_port=9096)
    assert properties["listeners"] == (
        "SASL_SSL://127.0.0.1:9093,SSL://127.0.0.1:9096,INTERNAL://127.0.0.1:9095,CONTROLLER://127.0.0.1:9094"
    )
    assert properties["listener.security.protocol.map"] == (
        "SASL_SSL:SASL_SSL,SSL:SSL,INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT"
    )
    assert properties["inter.broker.listener.name"] == "INTERNAL"
    assert properties["listener.name.ssl.ssl.client.auth"] == "required"
    assert properties["ssl.keystore.type"] == "PEM" and properties["ssl.keystore.location"].endswith("keystore.pem")
    assert 'user_alice="alice-pw"' in properties["listener.name.sasl_ssl.plain.sasl.jaas.config"]
    assert scram_arguments(security) == [
        "--add-scram",
        'SCRAM-SHA-256=[name=alice,password="alice-pw"]',
        "--add-scram",
        'SCRAM-SHA-512=[name=alice,password="alice-pw"]',
    ]
    with pytest.raises(ValueError, match="quotes"):
        scram_arguments(BrokerSecurity(security.keystore, security.truststore, {"bob": 'say "hi"'}))
    assert broker_properties("127.0.0.1", 9092, 9093, "/data")["listeners"] == (
        "PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093"
    )
