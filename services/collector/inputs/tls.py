"""TLS for listening inputs (syslog over TLS, RFC 5425): the server context, and the per-connection handshake.

The input accepts sockets itself and completes each handshake with ``loop.connect_accepted_socket``
instead of handing asyncio a context at ``start_server``: there a failed handshake (a plaintext sender,
an untrusted or missing client certificate) is dropped without a word (``_accept_connection2`` reports
it only in debug mode), here it is logged with the peer. Upgrading an accepted plain connection with
``StreamWriter.start_tls`` would race: a ClientHello that arrived first lands in the plain reader.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from collections.abc import Awaitable, Callable
from typing import Any, Self

from streamstash.config.security import TlsListener

log = logging.getLogger(__name__)

STREAM_LIMIT = 2**16  # asyncio's default StreamReader limit, as start_server uses
VERSIONS = {"TLSv1.2": ssl.TLSVersion.TLSv1_2, "TLSv1.3": ssl.TLSVersion.TLSv1_3}


class TlsSettingsError(ValueError):
    """The input's certificate, key or client CA cannot be used."""


def server_context(settings: TlsListener, where: str) -> ssl.SSLContext:
    """The context of a TLS listener; ``where`` names the input in error messages."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = VERSIONS[settings.min_version]
    password = settings.key_password.get_secret_value() if settings.key_password is not None else None
    try:
        context.load_cert_chain(settings.cert_file, settings.key_file, password)
        if settings.client_ca_file is not None:
            context.load_verify_locations(cafile=settings.client_ca_file)
            context.verify_mode = ssl.CERT_REQUIRED
    except (OSError, ssl.SSLError) as exc:
        raise TlsSettingsError(
            f"{where}.tls: cannot use cert_file {settings.cert_file}, key_file {settings.key_file}"
            + (f", client_ca_file {settings.client_ca_file}" if settings.client_ca_file else "")
            + f": {exc}"
        ) from exc
    return context


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class TlsServer:
    """``asyncio.start_server`` for TLS, with handshake failures logged: ``sockets``, ``serve_forever``,
    ``async with``. Each accepted socket gets its handshake (``loop.connect_accepted_socket``) in a task of
    its own, so a slow sender never holds up the others; ``handler`` sees only connections that passed."""

    def __init__(
        self, handler: Handler, sock: socket.socket, context: ssl.SSLContext, timeout_s: float, input_name: str
    ) -> None:
        self.handler = handler
        self.sockets = [sock]
        self.context = context
        self.timeout_s = timeout_s
        self.input_name = input_name
        self._tasks: set[asyncio.Task[None]] = set()

    async def serve_forever(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            connection, address = await loop.sock_accept(self.sockets[0])
            task = asyncio.create_task(self._handshake(connection, address), name=f"{self.input_name}:tls")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _handshake(self, connection: socket.socket, address: Any) -> None:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=STREAM_LIMIT)
        protocol = asyncio.StreamReaderProtocol(reader)
        try:
            transport, _ = await loop.connect_accepted_socket(
                lambda: protocol, connection, ssl=self.context, ssl_handshake_timeout=self.timeout_s
            )
        except (ssl.SSLError, ConnectionError, OSError, TimeoutError) as exc:
            connection.close()
            log.warning(
                "tls handshake failed, connection closed",
                extra={"input": self.input_name, "peer": _peer(address), "error": describe_handshake_error(exc)},
            )
            return
        writer = asyncio.StreamWriter(transport, protocol, reader, loop)
        log.debug("tls connection", extra={"input": self.input_name, "peer": _peer(address), **session_fields(writer)})
        await self.handler(reader, writer)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self.sockets[0].close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


async def start_tls_server(
    handler: Handler, host: str, port: int, context: ssl.SSLContext, timeout_s: float, input_name: str
) -> TlsServer:
    """Listen on ``host:port`` (the first address it resolves to) for TLS connections."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, _type, _proto, _name, address = infos[0]
    sock = socket.create_server(address[:2], family=family)
    sock.setblocking(False)
    return TlsServer(handler, sock, context, timeout_s, input_name)


def _peer(address: Any) -> str:
    if isinstance(address, tuple) and len(address) >= 2:
        host, port = address[0], address[1]
        return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"
    return str(address)


def describe_handshake_error(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"client certificate rejected: {exc.verify_message or exc}"
    if isinstance(exc, ssl.SSLError):
        reason = exc.reason or str(exc)
        if reason in ("WRONG_VERSION_NUMBER", "HTTP_REQUEST", "UNKNOWN_PROTOCOL"):
            return f"not TLS: the sender speaks plaintext ({reason})"
        if reason in ("PEER_DID_NOT_RETURN_A_CERTIFICATE", "TLSV13_ALERT_CERTIFICATE_REQUIRED"):
            return f"no client certificate: the sender presented none, and this input requires one ({reason})"
        return reason
    if isinstance(exc, TimeoutError):
        return "handshake timed out"
    return repr(exc)


def session_fields(writer: asyncio.StreamWriter) -> dict[str, Any]:
    ssl_object = writer.get_extra_info("ssl_object")
    if ssl_object is None:
        return {}
    certificate = ssl_object.getpeercert() or {}
    subject = ", ".join("=".join(pair) for rdn in certificate.get("subject", ()) for pair in rdn)
    return {"tls_version": ssl_object.version(), "cipher": (ssl_object.cipher() or ("",))[0], "client": subject}
