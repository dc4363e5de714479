"""The security arguments of every Kafka client, from ``kafka.security``: built here once, for aiokafka,
and mapped here for Faust (which hands them on to the same aiokafka clients).

:func:`client_security` is the only place that reads the passwords; what it returns goes straight into
aiokafka's constructors and is never logged. The TLS context is made once per process and per setting
(reading the PEM files again for each of the dozens of clients a service makes would be wasted work);
a rotated certificate takes a restart.
"""

from __future__ import annotations

import functools
import ssl
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiokafka.helpers import create_ssl_context

from streamstash.config.common import KafkaSettings
from streamstash.config.security import KafkaSecurity

if TYPE_CHECKING:
    from faust.types.auth import CredentialsT


class KafkaSecurityError(ValueError):
    """``kafka.security`` names files that cannot be used: a configuration error, not a Kafka outage."""


def client_security(settings: KafkaSettings) -> dict[str, Any]:
    """aiokafka's ``security_protocol``, ``ssl_context`` and ``sasl_*`` arguments (any client class)."""
    security = settings.security
    options: dict[str, Any] = {"security_protocol": security.security_protocol}
    if security.uses_tls:
        options["ssl_context"] = tls_context(security)
    if security.uses_sasl:
        assert security.password is not None  # the settings' validator saw to it
        options["sasl_mechanism"] = security.sasl_mechanism
        options["sasl_plain_username"] = security.username
        options["sasl_plain_password"] = security.password.get_secret_value()
    return options


def faust_credentials(settings: KafkaSettings) -> CredentialsT | None:
    """Faust's ``broker_credentials`` for the same arguments: Faust's aiokafka driver turns them back into
    exactly these (``faust.transport.drivers.aiokafka.credentials_to_aiokafka_auth``)."""
    from faust.auth import SASLCredentials, SSLCredentials  # only the Faust services load Faust

    options = client_security(settings)
    protocol = options["security_protocol"]
    if protocol == "PLAINTEXT":
        return None
    if protocol == "SSL":
        return SSLCredentials(options["ssl_context"])
    # SASLCredentials says SASL_SSL when it is given a context, SASL_PLAINTEXT without one.
    return SASLCredentials(
        username=options["sasl_plain_username"],
        password=options["sasl_plain_password"],
        ssl_context=options.get("ssl_context"),
        mechanism=options["sasl_mechanism"],
    )


def tls_context(security: KafkaSecurity) -> ssl.SSLContext:
    password = security.key_password.get_secret_value() if security.key_password is not None else None
    return _tls_context(security.ca_file, security.cert_file, security.key_file, password, security.check_hostname)


@functools.lru_cache(maxsize=8)
def _tls_context(
    ca_file: Path | None, cert_file: Path | None, key_file: Path | None, key_password: str | None, check_hostname: bool
) -> ssl.SSLContext:
    for key, path in (("ca_file", ca_file), ("cert_file", cert_file), ("key_file", key_file)):
        if path is not None and not path.is_file():
            raise KafkaSecurityError(f"kafka.security.{key} {path}: no such file")
    try:
        context = create_ssl_context(
            cafile=str(ca_file) if ca_file else None,
            certfile=str(cert_file) if cert_file else None,
            keyfile=str(key_file) if key_file else None,
            password=key_password,
        )
    except (ssl.SSLError, OSError) as exc:
        raise KafkaSecurityError(
            f"kafka.security: cannot use the TLS files (ca_file {ca_file}, cert_file {cert_file}, "
            f"key_file {key_file}): {exc}"
        ) from exc
    # Verifying the chain stays on either way; only the name check goes (Kafka's empty
    # ssl.endpoint.identification.algorithm does the same).
    context.check_hostname = check_hostname
    return context


def check_security(settings: KafkaSettings) -> None:
    """Raise :class:`KafkaSecurityError` now if the TLS files are unusable, before any client is made."""
    client_security(settings)
