"""The TCP input with `tls`: syslog over TLS (RFC 5425) from Python's ssl and from `openssl s_client`,
mutual TLS, and plaintext or uncertified senders refused, on real loopback sockets."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import ssl
from pathlib import Path

import pytest

from streamstash import names
from streamstash.config.collector import TcpInput as TcpSettings
from streamstash.config.security import TlsListener
from streamstash.services.collector.inputs.network import TcpInput
from streamstash.services.collector.inputs.tls import TlsSettingsError
from tests.helpers.certificates import CertificateAuthority, Issued
from tests.unit.collector.test_network_inputs import Collected, started, stop, wait_for

RFC5424 = b'<165>1 2003-10-11T22:14:15.003Z host1 app 77 ID1 [meta k="v"] over tls'
RFC3164 = b"<34>Oct 11 22:14:15 mymachine su: second\nline in one frame"
TLS_LOGGER = "streamstash.services.collector.inputs.tls"


def octet_counted(*messages: bytes) -> bytes:
    return b"".join(str(len(message)).encode() + b" " + message for message in messages)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    directory = tmp_path_factory.mktemp("pki")
    servers = CertificateAuthority(directory / "servers", "syslog servers CA")
    senders = CertificateAuthority(directory / "senders", "syslog senders CA")
    strangers = CertificateAuthority(directory / "strangers", "someone else's CA")
    return {
        "servers": servers,
        "senders": senders,
        "server": servers.issue("syslog-server"),
        "sender": senders.issue("web01", client=True),
        "stranger": strangers.issue("intruder", client=True),
    }


def tls_input(pki: dict[str, object], mutual: bool = False) -> TcpInput:
    server = pki["server"]
    assert isinstance(server, Issued)
    senders = pki["senders"]
    assert isinstance(senders, CertificateAuthority)
    listener = TlsListener(cert_file=server.cert, key_file=server.key, client_ca_file=senders.cert if mutual else None)
    return TcpInput(TcpSettings(port=0, tls=listener))


def client_context(pki: dict[str, object], certificate: str | None = None) -> ssl.SSLContext:
    servers = pki["servers"]
    assert isinstance(servers, CertificateAuthority)
    context = ssl.create_default_context(cafile=servers.cert)
    if certificate is not None:
        issued = pki[certificate]
        assert isinstance(issued, Issued)
        context.load_cert_chain(issued.cert, issued.key)
    return context


async def send_over_tls(port: int, context: ssl.SSLContext, payload: bytes) -> None:
    _, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context, server_hostname="127.0.0.1")
    writer.write(payload)
    await writer.drain()
    writer.close()
    await writer.wait_closed()


async def test_octet_counted_syslog_over_tls_from_python(pki: dict[str, object]) -> None:
    collected = Collected()
    source = tls_input(pki)
    task = await started(source, collected)
    try:
        await send_over_tls(source.port, client_context(pki), octet_counted(RFC5424, RFC3164))
        await wait_for(lambda: len(collected.items) == 2)
    finally:
        await stop(task)
    first, second = (event for _, event in collected.items)
    assert first.message == "over tls" and first.timestamp == "2003-10-11T22:14:15.003Z"
    assert first.fields[names.FIELD_SYSLOG]["structured_data"] == {"meta": {"k": "v"}}
    assert second.message == "second\nline in one frame"  # octet counting keeps the newline inside the frame
    assert first.source.kind == names.SOURCE_TCP and first.source.peer.startswith("127.0.0.1:")


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
async def test_openssl_s_client_as_the_sender(pki: dict[str, object], tmp_path: Path) -> None:
    servers, sender = pki["servers"], pki["sender"]
    assert isinstance(servers, CertificateAuthority) and isinstance(sender, Issued)
    collected = Collected()
    source = tls_input(pki, mutual=True)
    task = await started(source, collected)
    try:
        process = await asyncio.create_subprocess_exec(
            *("openssl", "s_client", "-connect", f"127.0.0.1:{source.port}", "-CAfile", str(servers.cert)),
            *("-verify_return_error", "-verify_ip", "127.0.0.1", "-cert", str(sender.cert), "-key", str(sender.key)),
            *("-quiet", "-no_ign_eof"),  # -quiet alone would keep the connection open after stdin ends
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        _, errors = await asyncio.wait_for(process.communicate(octet_counted(RFC5424, RFC3164)), 30)
        assert process.returncode == 0, errors.decode()
        await wait_for(lambda: len(collected.items) == 2)
    finally:
        await stop(task)
    assert [event.message for _, event in collected.items] == ["over tls", "second\nline in one frame"]


async def test_a_plaintext_sender_is_refused_and_tls_senders_still_served(
    pki: dict[str, object], caplog: pytest.LogCaptureFixture
) -> None:
    collected = Collected()
    source = tls_input(pki)
    task = await started(source, collected)
    try:
        with caplog.at_level(logging.WARNING, logger=TLS_LOGGER):
            reader, writer = await asyncio.open_connection("127.0.0.1", source.port)
            writer.write(b"<13>Feb  5 17:32:18 web01 app: in the clear\n" + octet_counted(RFC5424))
            await writer.drain()
            await asyncio.wait_for(reader.read(), 10)  # the input hangs up (after a TLS alert, if any)
            writer.close()
            await wait_for(lambda: any("tls handshake failed" in r.getMessage() for r in caplog.records))
        refused = next(r for r in caplog.records if "tls handshake failed" in r.getMessage())
        assert "not TLS" in refused.error  # type: ignore[attr-defined]
        await send_over_tls(source.port, client_context(pki), octet_counted(RFC5424))
        await wait_for(lambda: len(collected.items) == 1)
    finally:
        await stop(task)
    assert [event.message for _, event in collected.items] == ["over tls"]


@pytest.mark.parametrize("certificate", [None, "stranger"])
async def test_mutual_tls_refuses_senders_without_a_trusted_certificate(
    pki: dict[str, object], caplog: pytest.LogCaptureFixture, certificate: str | None
) -> None:
    collected = Collected()
    source = tls_input(pki, mutual=True)
    task = await started(source, collected)
    try:
        with caplog.at_level(logging.WARNING, logger=TLS_LOGGER):
            # TLS 1.2 fails the client's handshake; TLS 1.3 lets it write, then the server hangs up.
            with contextlib.suppress(ssl.SSLError, ConnectionError):
                await send_over_tls(source.port, client_context(pki, certificate), octet_counted(RFC5424))
            await wait_for(lambda: any("tls handshake failed" in r.getMessage() for r in caplog.records))
        await send_over_tls(source.port, client_context(pki, "sender"), octet_counted(RFC3164))
        await wait_for(lambda: len(collected.items) == 1)
    finally:
        await stop(task)
    assert [event.message for _, event in collected.items] == ["second\nline in one frame"]
    refused = next(r for r in caplog.records if "tls handshake failed" in r.getMessage())
    expected = "no client certificate" if certificate is None else "client certificate rejected"
    assert expected in refused.error  # type: ignore[attr-defined]


def test_unusable_certificate_files_name_the_input_and_the_file(pki: dict[str, object], tmp_path: Path) -> None:
    server = pki["server"]
    assert isinstance(server, Issued)
    missing = tmp_path / "missing-key.pem"
    with pytest.raises(TlsSettingsError, match=r"inputs\[tcp 127\.0\.0\.1:0\]\.tls: .*missing-key\.pem"):
        TcpInput(TcpSettings(port=0, tls=TlsListener(cert_file=server.cert, key_file=missing)))
    wrong_key = pki["sender"]
    assert isinstance(wrong_key, Issued)
    with pytest.raises(TlsSettingsError, match=r"KEY_VALUES_MISMATCH|key values mismatch"):
        TcpInput(TcpSettings(port=0, tls=TlsListener(cert_file=server.cert, key_file=wrong_key.key)))
