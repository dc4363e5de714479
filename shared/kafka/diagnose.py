"""Why a Kafka client cannot work, in words an operator can act on.

aiokafka reports a failed start as ``KafkaConnectionError("Unable to bootstrap from [...]")`` whatever the
cause: a wrong password, an untrusted certificate and a broker that is down all read the same. The
probe here connects to each bootstrap server the way aiokafka's bootstrap does (same security
arguments, ApiVersions, SASL, then Metadata) and keeps the exception each step raises, so the message
can name the broker, the protocol and mechanism, and what to change. It never includes a password.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass

from aiokafka import errors
from aiokafka.conn import collect_hosts, create_conn
from aiokafka.protocol.metadata import MetadataRequest

from streamstash.config.common import KafkaSettings
from streamstash.kafka.clients import bootstrap
from streamstash.kafka.security import client_security

PROBE_TIMEOUT_MS = 10_000

# What a problem is: whether waiting can mend it (the broker is down or starting) or someone has to
# change the settings or the broker first (credentials, certificates, protocol).
UNREACHABLE = "unreachable"
AUTHENTICATION = "authentication"
TLS = "tls"
PROTOCOL = "protocol"


@dataclass(frozen=True)
class KafkaProblem:
    broker: str  # host:port
    kind: str  # UNREACHABLE, AUTHENTICATION, TLS or PROTOCOL
    message: str  # a whole sentence, naming the broker and how the client connects

    @property
    def transient(self) -> bool:
        return self.kind == UNREACHABLE


async def probe(settings: KafkaSettings, timeout_ms: int = PROBE_TIMEOUT_MS) -> KafkaProblem | None:
    """None once one bootstrap server takes this client (as aiokafka needs only one), else the problem
    with the first one, which is what a one-broker setup has anyway."""
    problems: list[KafkaProblem] = []
    options = client_security(settings)
    for host, port, _family in collect_hosts(bootstrap(settings), randomize=False):
        broker = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        try:
            connection = await create_conn(
                host, port, client_id="streamstash-probe", request_timeout_ms=timeout_ms, **options
            )
        except Exception as exc:  # noqa: BLE001 - every failure is explained, none is raised
            problems.append(explain(settings, broker, exc, "connect"))
            continue
        try:
            await connection.send(MetadataRequest([]))
            return None
        except Exception as exc:  # noqa: BLE001
            problems.append(explain(settings, broker, exc, "metadata"))
        finally:
            connection.close()
    return problems[0] if problems else None


def explain(settings: KafkaSettings, broker: str, exc: BaseException, step: str) -> KafkaProblem:
    """A sentence for what ``exc`` means when a client connects to ``broker`` with ``settings``."""
    security = settings.security
    head = f"kafka {broker} ({security.describe()})"
    if isinstance(exc, errors.SaslAuthenticationFailed):
        detail = str(exc).split(": ", 1)[-1]
        return KafkaProblem(
            broker,
            AUTHENTICATION,
            f"{head}: authentication failed: {detail}; check kafka.security.username and password, and that the "
            f"user exists for {security.sasl_mechanism} on the broker",
        )
    if isinstance(exc, errors.UnsupportedSaslMechanismError):
        return KafkaProblem(
            broker, AUTHENTICATION, f"{head}: the broker does not offer {security.sasl_mechanism}: {exc}"
        )
    if isinstance(exc, errors.IllegalSaslStateError):
        return KafkaProblem(broker, PROTOCOL, f"{head}: the broker did not expect SASL here: {exc}")
    if isinstance(exc, ssl.SSLCertVerificationError):
        reason = exc.verify_message or str(exc)
        if "hostname" in reason.lower() or "ip address mismatch" in reason.lower():
            advice = (
                "the certificate does not name this host: connect by a name it holds (kafka.bootstrap_servers), "
                "or set kafka.security.check_hostname: false"
            )
        elif security.ca_file is None:
            advice = "set kafka.security.ca_file to the CA that signed the broker's certificate"
        else:
            advice = f"kafka.security.ca_file ({security.ca_file}) does not hold the CA that signed it"
        return KafkaProblem(broker, TLS, f"{head}: the broker's TLS certificate is not trusted ({reason}); {advice}")
    if isinstance(exc, ssl.SSLError):
        reason = exc.reason or str(exc)
        advice = (
            "the broker wants a client certificate: set kafka.security.cert_file and key_file"
            if "certificate required" in str(exc).lower() and security.cert_file is None
            else "is this listener TLS (security_protocol SSL or SASL_SSL)?"
        )
        return KafkaProblem(broker, TLS, f"{head}: TLS handshake failed ({reason}); {advice}")
    if isinstance(exc, errors.KafkaConnectionError | ConnectionResetError | asyncio.IncompleteReadError):
        # The broker hung up on a client that speaks another protocol than its listener: plaintext at
        # a TLS listener, TLS without a client certificate where one is required, or no SASL where it
        # is wanted (a SASL listener answers ApiVersions, then closes on Metadata).
        return KafkaProblem(
            broker,
            PROTOCOL,
            f"{head}: the broker closed the connection during the {step} step: does its listener speak "
            f"{security.security_protocol}? (a TLS listener closes on plaintext, a SASL listener on a client "
            "without SASL, a mutual TLS listener on a client without a certificate: kafka.security.cert_file)",
        )
    if isinstance(exc, OSError | TimeoutError | asyncio.TimeoutError | errors.KafkaTimeoutError):
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        return KafkaProblem(broker, UNREACHABLE, f"{head}: not reachable ({reason})")
    return KafkaProblem(broker, UNREACHABLE, f"{head}: {type(exc).__name__}: {exc}")
