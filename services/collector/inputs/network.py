"""UDP and TCP line listeners: syslog senders, log4net's UdpAppender, `nc`.

UDP: one datagram may hold several lines (each becomes an event). UDP cannot push back, so
datagrams wait in a bounded queue while the collector's buffers are full; beyond it they are
lost and counted as ``streamstash_events_lost{reason="buffer_full"}`` (one per line).

TCP: each connection is read only as fast as the publisher takes its lines, so a full buffer
pushes back on the sender through TCP flow control. Framing is per connection (``framing.py``).
With ``tls`` every connection must complete a TLS handshake first (``tls.py``; syslog over TLS,
RFC 5425, whose octet counting ``framing: auto`` recognises); one that does not is closed.

Both recognise syslog (``syslog.py``) when ``syslog`` is on, set ``source.peer`` to the sender's
``ip:port`` and use it in the source key, so batches and multiline groups never mix senders.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Awaitable

from streamstash import names
from streamstash.config.collector import TcpInput as TcpSettings
from streamstash.config.collector import UdpInput as UdpSettings
from streamstash.events.envelope import Event, Source, format_timestamp
from streamstash.runtime.metrics import ServiceMetrics
from streamstash.services.collector.framing import FrameSplitter
from streamstash.services.collector.inputs.base import Emit
from streamstash.services.collector.inputs.tls import TlsServer, server_context, start_tls_server
from streamstash.services.collector.lines import decode_line
from streamstash.services.collector.multiline import LineSink, line_sink
from streamstash.services.collector.syslog import parse_syslog

log = logging.getLogger(__name__)

READ_CHUNK = 64 * 1024
UDP_RECEIVE_BUFFER = 4 * 1024 * 1024


def peer_name(address: object) -> str:
    if isinstance(address, tuple) and len(address) >= 2:
        host, port = address[0], address[1]
        return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"
    return str(address)


class LineEvents:
    """Events from network lines: decoding, syslog recognition, the source; shared by UDP and TCP."""

    def __init__(self, kind: str, settings: UdpSettings | TcpSettings) -> None:
        self.kind = kind
        self.settings = settings
        self.host = socket.gethostname()

    def event(self, raw: bytes, peer: str, received_at: str, extra_tags: list[str] | None = None) -> Event:
        decoded = decode_line(raw, self.settings.max_line_bytes)
        tags = decoded.tags
        if extra_tags:
            tags = [*extra_tags, *(tag for tag in tags if tag not in extra_tags)]
        message = decoded.message
        fields = dict(self.settings.add_fields)
        timestamp = received_at
        if self.settings.syslog:
            syslog = parse_syslog(message)
            if syslog is not None:
                message = syslog.message
                fields.update(syslog.fields)
                tags.extend(syslog.tags)
                timestamp = syslog.timestamp or received_at
        return Event(
            message=message,
            timestamp=timestamp,
            source=Source(kind=self.kind, host=self.host, peer=peer),
            tags=tags,
            fields=fields,
            raw_b64=decoded.raw_b64,
        )


def split_datagram(data: bytes) -> list[bytes]:
    lines = data.split(b"\n")
    if len(lines) > 1 and not lines[-1]:
        lines.pop()  # the newline ending the last line
    return lines


class UdpInput:
    name = names.SOURCE_UDP

    def __init__(self, settings: UdpSettings, metrics: ServiceMetrics, topic: str) -> None:
        self.settings = settings
        self.metrics = metrics
        self.topic = topic
        self.events = LineEvents(names.SOURCE_UDP, settings)
        self.queue: asyncio.Queue[tuple[bytes, str]] = asyncio.Queue(maxsize=settings.queue_datagrams)
        self.port: int | None = None

    async def run(self, emit: Emit) -> None:
        loop = asyncio.get_running_loop()
        transport, _protocol = await loop.create_datagram_endpoint(
            lambda: _DatagramReceiver(self), local_addr=(self.settings.host, self.settings.port)
        )
        sock = transport.get_extra_info("socket")
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, UDP_RECEIVE_BUFFER)
        self.port = sock.getsockname()[1]
        log.info("listening", extra={"input": self.name, "host": self.settings.host, "port": self.port})
        prefix = f"{names.SOURCE_UDP}:{self.events.host}:{self.port}:"
        try:
            async with line_sink(self.settings.multiline, emit) as sink:
                while True:
                    data, peer = await self.queue.get()
                    received_at = format_timestamp(time.time())
                    key = prefix + peer
                    for line in split_datagram(data):
                        await sink.emit(key, self.events.event(line, peer, received_at), None)
        finally:
            transport.close()

    def received(self, data: bytes, address: object) -> None:
        try:
            self.queue.put_nowait((data, peer_name(address)))
        except asyncio.QueueFull:
            self.metrics.lost(self.topic, names.REASON_BUFFER_FULL, len(split_datagram(data)))


class _DatagramReceiver(asyncio.DatagramProtocol):
    def __init__(self, owner: UdpInput) -> None:
        self.owner = owner

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.owner.received(data, addr)

    def error_received(self, exc: Exception) -> None:
        log.warning("udp receive error", extra={"input": names.SOURCE_UDP, "error": str(exc)})


class TcpInput:
    name = names.SOURCE_TCP

    def __init__(self, settings: TcpSettings) -> None:
        self.settings = settings
        self.events = LineEvents(names.SOURCE_TCP, settings)
        self.port: int | None = None
        self._connections: set[asyncio.Task[None]] = set()
        where = f"inputs[tcp {settings.host}:{settings.port}]"
        self.tls = server_context(settings.tls, where) if settings.tls is not None else None

    async def run(self, emit: Emit) -> None:
        async with line_sink(self.settings.multiline, emit) as sink:

            def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> Awaitable[None]:
                return self._accept(reader, writer, sink)

            tls = self.settings.tls
            server: asyncio.Server | TlsServer
            if self.tls is not None and tls is not None:
                server = await start_tls_server(
                    accept, self.settings.host, self.settings.port, self.tls, tls.handshake_timeout_s, self.name
                )
            else:
                server = await asyncio.start_server(accept, self.settings.host, self.settings.port)
            self.port = server.sockets[0].getsockname()[1]
            log.info(
                "listening",
                extra={
                    "input": self.name,
                    "host": self.settings.host,
                    "port": self.port,
                    "framing": self.settings.framing,
                    "tls": self.tls is not None,
                },
            )
            try:
                async with server:
                    await server.serve_forever()
            finally:
                for task in list(self._connections):
                    task.cancel()
                await asyncio.gather(*self._connections, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, sink: LineSink) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            await self._serve(reader, writer, sink)
        finally:
            self._connections.discard(task)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, sink: LineSink) -> None:
        peer = peer_name(writer.get_extra_info("peername"))
        key = f"{names.SOURCE_TCP}:{self.events.host}:{self.port}:{peer}"
        splitter = FrameSplitter(self.settings.framing, self.settings.max_line_bytes)
        try:
            while True:
                chunk = await reader.read(READ_CHUNK)
                frames = splitter.feed(chunk) if chunk else splitter.finish()
                if frames:
                    received_at = format_timestamp(time.time())
                    for frame in frames:
                        await sink.emit(key, self.events.event(frame.data, peer, received_at, frame.tags), None)
                if not chunk:
                    return
        except (ConnectionError, OSError) as exc:
            log.info("tcp connection lost", extra={"input": self.name, "peer": peer, "error": str(exc)})
        finally:
            with contextlib.suppress(Exception):
                await sink.flush(key)
            writer.close()
