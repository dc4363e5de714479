"""TLS and authentication settings: how clients reach a secured Kafka, and the TCP input's TLS.

Passwords are ``SecretStr``: they print as ``**********`` in every dump of the settings (``model_dump``,
``repr``, error messages), and only :mod:`streamstash.kafka.security` (and the TCP input, for its key)
ever read the value.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from streamstash.config.base import StrictModel

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
TLS_PROTOCOLS = ("SSL", "SASL_SSL")
SASL_PROTOCOLS = ("SASL_PLAINTEXT", "SASL_SSL")


class KafkaSecurity(StrictModel):
    """How every Kafka client of streamstash authenticates and encrypts (Kafka's `security.protocol`, `sasl.*`, `ssl.*`)."""

    security_protocol: SecurityProtocol = Field(
        "PLAINTEXT",
        description="PLAINTEXT, SSL (TLS; with `cert_file`/`key_file` mutual TLS), SASL_PLAINTEXT (SASL without "
        "TLS: the password crosses the network in the clear with PLAIN) or SASL_SSL (SASL over TLS, what managed "
        "Kafka services ask for).",
        examples=["SASL_SSL"],
    )
    sasl_mechanism: SaslMechanism | None = Field(
        None,
        description="With SASL_*: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (required there).",
        examples=["SCRAM-SHA-512"],
    )
    username: str | None = Field(None, description="With SASL_*: the SASL user.", examples=["streamstash"])
    password: SecretStr | None = Field(
        None,
        description="With SASL_*: the SASL password; write `${VAR}` and keep it out of the file. Never logged.",
        examples=["${KAFKA_PASSWORD}"],
    )
    ca_file: Path | None = Field(
        None,
        description="With SSL/SASL_SSL: PEM file of the CA(s) that signed the brokers' certificates; unset: the "
        "system's CAs.",
        examples=["/etc/streamstash/kafka-ca.pem"],
    )
    cert_file: Path | None = Field(
        None,
        description="With SSL/SASL_SSL: this client's certificate (PEM, chain after it) for mutual TLS.",
        examples=["/etc/streamstash/client.pem"],
    )
    key_file: Path | None = Field(
        None, description="The private key of `cert_file` (PEM).", examples=["/etc/streamstash/client-key.pem"]
    )
    key_password: SecretStr | None = Field(
        None, description="Password of an encrypted `key_file`. Never logged.", examples=["${KAFKA_KEY_PASSWORD}"]
    )
    check_hostname: bool = Field(
        True,
        description="Check that each broker's certificate names the host connected to (Kafka's "
        "`ssl.endpoint.identification.algorithm=https`); turn off only for brokers whose certificates lack it.",
        examples=[False],
    )

    @field_validator(
        "sasl_mechanism", "username", "password", "ca_file", "cert_file", "key_file", "key_password", mode="before"
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        """`${KAFKA_USERNAME:-}` with the variable unset means "not set", so one file serves both setups."""
        return None if value == "" else value

    @model_validator(mode="after")
    def _consistent(self) -> KafkaSecurity:
        protocol = self.security_protocol
        if protocol in SASL_PROTOCOLS:
            missing = [name for name in ("sasl_mechanism", "username", "password") if getattr(self, name) is None]
            if missing:
                raise ValueError(f"security_protocol {protocol} needs {', '.join(missing)}")
        elif self.sasl_mechanism or self.username or self.password:
            raise ValueError(f"sasl_mechanism, username and password need a SASL_* security_protocol, not {protocol}")
        if protocol not in TLS_PROTOCOLS:
            given = [name for name in ("ca_file", "cert_file", "key_file") if getattr(self, name) is not None]
            if given:
                raise ValueError(f"{', '.join(given)} need security_protocol SSL or SASL_SSL, not {protocol}")
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together (mutual TLS)")
        if self.key_password is not None and self.key_file is None:
            raise ValueError("key_password without key_file")
        return self

    @property
    def uses_tls(self) -> bool:
        return self.security_protocol in TLS_PROTOCOLS

    @property
    def uses_sasl(self) -> bool:
        return self.security_protocol in SASL_PROTOCOLS

    def describe(self) -> str:
        """What a log line or an error message may say about it: never a password."""
        parts: list[str] = [self.security_protocol]
        if self.uses_sasl:
            parts.append(f"{self.sasl_mechanism} as {self.username!r}")
        if self.cert_file is not None:
            parts.append("client certificate")
        return ", ".join(parts)


class TlsListener(StrictModel):
    """TLS of a listening input (syslog over TLS, RFC 5425); with `client_ca_file` senders must show a certificate."""

    cert_file: Path = Field(
        description="The server certificate (PEM; intermediate certificates after it).",
        examples=["/etc/streamstash/syslog.pem"],
    )
    key_file: Path = Field(description="Its private key (PEM).", examples=["/etc/streamstash/syslog-key.pem"])
    key_password: SecretStr | None = Field(
        None, description="Password of an encrypted `key_file`. Never logged.", examples=["${SYSLOG_KEY_PASSWORD}"]
    )
    client_ca_file: Path | None = Field(
        None,
        description="CA(s) that sign the senders' certificates (PEM): set, every sender must present one (mutual TLS).",
        examples=["/etc/streamstash/senders-ca.pem"],
    )
    min_version: Literal["TLSv1.2", "TLSv1.3"] = Field(
        "TLSv1.2",
        description="Oldest TLS version accepted (RFC 5425 senders speak 1.2 or newer).",
        examples=["TLSv1.3"],
    )
    handshake_timeout_s: float = Field(
        10.0, gt=0, le=300, description="A sender that has not finished its handshake by then is dropped.", examples=[5]
    )
