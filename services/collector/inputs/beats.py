"""The beats input: Filebeat and the other Beats send here as they would to Logstash (lumberjack v2, TLS optional).

Acknowledgement follows Kafka: every event is emitted with a :class:`BeatsAck`, which the publisher calls once
Kafka acknowledged the event's batch; a connection's events share one source key, so those calls come in the
order the events arrived, and the connection tells the Beat the sequence of the last event Kafka holds (a
partial acknowledgement while the window is still on its way, the final one when it is all in). A Beat whose
window is not acknowledged sends it again, to this collector or another one, so nothing that reached the
collector but not Kafka is lost. While a window waits (Kafka slow or away, the memory buffer full: these events
never go to the disk spill, the Beat keeps them), the Beat is told every `keepalive_interval` seconds that the
connection is alive, as Logstash does, so it does not time out and send the window again.

On stop, the input takes no new events, waits (up to the collector's `drain_timeout_s`) for Kafka to take what it
has, acknowledges that much to each Beat and closes: the Beat sends only the rest again. After a crash the Beat
sends again what it had not been told about; those events carry the same content-derived id, so they overwrite
their documents in Elasticsearch instead of doubling them (in `logs.raw` they are there twice).

Events: `message` and `@timestamp` are the envelope's; the Beat's `tags` are its tags; `@metadata` goes to the
`@metadata` field with the sender's address added (`[@metadata][ip_address]` and
`[@metadata][input][beats][host][ip]`, as Logstash sets them) and, with client certificates, the TLS peer;
everything else (`host`, `agent`, `log`, `input`, `ecs`, `fields`, ...) stays as the Beat sent it. The source is
`kind: beats` with the collector's host and the Beat's address as `peer`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import re
import socket
import ssl
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import orjson

from streamstash import names
from streamstash.config.collector import BeatsInput as BeatsSettings
from streamstash.events.envelope import Event, Source, format_timestamp
from streamstash.events.timeformats import format_iso8601, parse_iso8601
from streamstash.runtime.metrics import ServiceMetrics
from streamstash.services.collector.inputs.base import Emit, SenderKeeps
from streamstash.services.collector.inputs.network import peer_name
from streamstash.services.collector.lumberjack import Data, Decoder, ProtocolError, Window, encode_ack

log = logging.getLogger(__name__)

READ_CHUNK = 256 * 1024
CLOSE_TIMEOUT_S = 5.0
# Beats send `@timestamp` in UTC with milliseconds, the envelope's own form: taken as it is, a third of the
# cost of mapping an event saved (anything else is parsed and normalised).
_CANONICAL_STAMP = re.compile(r"\d{4}-[01]\d-[0-3]\dT[0-2]\d:[0-5]\d:[0-6]\d\.\d{3}Z")


class PendingWindow:
    __slots__ = ("acked", "closed", "emitted", "last_acked_sequence", "received", "reported", "size", "version")

    def __init__(self, version: int, size: int) -> None:
        self.version = version
        self.size = size
        self.received = 0  # data frames read
        self.emitted = 0  # of those, taken by the publisher
        self.acked = 0  # of those, acknowledged by Kafka
        self.last_acked_sequence = 0
        self.reported = 0  # the last sequence told to the Beat
        self.closed = size == 0  # every event of the window received (or the sender moved on)

    @property
    def done(self) -> bool:
        return self.closed and self.acked == self.emitted == self.received


class BeatsAck(SenderKeeps):
    """Kafka holds the event ``sequence`` of ``window``: called by the publisher, in order per connection."""

    __slots__ = ("connection", "sequence", "window")

    def __init__(self, connection: Connection, window: PendingWindow, sequence: int) -> None:
        self.connection = connection
        self.window = window
        self.sequence = sequence

    def __call__(self) -> None:
        window = self.window
        window.acked += 1
        window.last_acked_sequence = self.sequence
        self.connection.acknowledged()


def content_id(payload: bytes | dict[str, str], metadata: Any) -> str:
    """The event's id: the Beat's own `[@metadata][_id]` when it sets one, else a hash of what it sent."""
    if isinstance(metadata, dict):
        given = metadata.get("_id")
        if isinstance(given, str) and given:
            return given
    data = payload if isinstance(payload, bytes) else orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)
    return hashlib.blake2b(data, digest_size=16).hexdigest()


class EventMapper:
    """A Beat's event (JSON text or v1 pairs) -> the envelope; never raises."""

    def __init__(self, settings: BeatsSettings, host: str) -> None:
        self.settings = settings
        self.host = host
        self.max_bytes = settings.max_line_bytes
        self.add_fields = dict(settings.add_fields)

    def event(self, frame: Data, peer: str, address: str, received_at: str, tls_peer: dict[str, str] | None) -> Event:
        payload = frame.payload
        tags: list[str] = []
        if isinstance(payload, dict):
            doc: dict[str, Any] = dict(payload)
        else:
            try:
                parsed = orjson.loads(payload)
            except orjson.JSONDecodeError:
                parsed = None
            if isinstance(parsed, dict):
                doc = parsed
            else:  # kept as text rather than lost: the Beat would send it again forever
                doc = {names.FIELD_MESSAGE: payload.decode("utf-8", errors="replace")}
                tags.append(names.TAG_JSON_FAILURE)
        metadata = doc.pop(names.FIELD_METADATA, None)
        metadata = dict(metadata) if isinstance(metadata, dict) else {}
        event_id = content_id(payload, metadata) if self.settings.content_ids else None
        metadata["ip_address"] = address
        metadata.setdefault("input", {}).setdefault("beats", {}).setdefault("host", {})["ip"] = address
        if tls_peer is not None:
            metadata["tls_peer"] = dict(tls_peer)
        message = doc.pop(names.FIELD_MESSAGE, None)
        if message is None:
            message = doc.pop("line", None)  # what logstash-forwarder sent
        if message is not None and not isinstance(message, str):
            doc[names.FIELD_MESSAGE] = message  # structured: a field like any other
            message = None
        if message is not None and len(message) * 4 > self.max_bytes:
            encoded = message.encode("utf-8", errors="replace")
            if len(encoded) > self.max_bytes:
                message = encoded[: self.max_bytes].decode("utf-8", errors="ignore")
                tags.append(names.TAG_TRUNCATED)
        timestamp = received_at
        stamp = doc.pop(names.FIELD_TIMESTAMP, None)
        if isinstance(stamp, str) and _CANONICAL_STAMP.fullmatch(stamp):
            timestamp = stamp
        elif stamp is not None:
            moment = parse_iso8601(stamp) if isinstance(stamp, str) else None
            if moment is None:
                doc[names.FIELD_TIMESTAMP_FAILURE] = stamp
                tags.append(names.TAG_TIMESTAMP_FAILURE)
            else:
                timestamp = format_iso8601(moment)
        beat_tags = doc.pop(names.FIELD_TAGS, None)
        if beat_tags is not None:
            tags[:0] = [str(tag) for tag in (beat_tags if isinstance(beat_tags, list) else [beat_tags])]
        for key, value in self.add_fields.items():
            doc.setdefault(key, value)
        doc[names.FIELD_METADATA] = metadata
        return Event(
            message=message,
            timestamp=timestamp,
            source=Source(kind=names.SOURCE_BEATS, host=self.host, peer=peer),
            tags=tags,
            fields=doc,
            id=event_id,
        )


class Connection:
    """One Beat's connection: frames in, events out, acknowledgements back in order."""

    def __init__(
        self,
        owner: BeatsInput,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        emit: Emit,
    ) -> None:
        self.owner = owner
        self.reader = reader
        self.writer = writer
        self.emit = emit
        address = writer.get_extra_info("peername")
        self.peer = peer_name(address)
        self.address = str(address[0]) if isinstance(address, tuple) else self.peer
        self.key = f"{names.SOURCE_BEATS}:{owner.host}:{owner.port}:{self.peer}"
        self.windows: deque[PendingWindow] = deque()
        self.decoder = Decoder(owner.settings.max_frame_bytes)
        self.tls_peer = self._tls_peer()
        self.last_write = time.monotonic()
        self.last_read = time.monotonic()
        self._flush_scheduled = False
        self.settled = asyncio.Event()  # nothing emitted waits for Kafka
        self.settled.set()

    def _tls_peer(self) -> dict[str, str] | None:
        if self.owner.settings.ssl_client_authentication == "none":
            return None
        certificate = self.writer.get_extra_info("peercert")
        if not certificate:
            return {"status": "unverified"}
        subject = ",".join(f"{key}={value}" for rdn in certificate.get("subject", ()) for key, value in rdn)
        return {"status": "verified", "subject": subject}

    # ---- reading -------------------------------------------------------------------------------------

    async def read(self) -> None:
        settings = self.owner.settings
        while True:
            chunk = await self.reader.read(READ_CHUNK)
            if not chunk:
                if self.decoder.pending_bytes:
                    log.info("beat closed the connection inside a frame", extra={"peer": self.peer})
                return
            self.last_read = time.monotonic()
            self.decoder.feed(chunk)
            received_at = format_timestamp(time.time())
            for frame in self.decoder.frames():
                if type(frame) is Window:
                    if frame.size > settings.max_window_size:
                        raise ProtocolError(f"window of {frame.size} events exceeds max_window_size")
                    if self.windows and not self.windows[-1].closed:
                        self.windows[-1].closed = True  # the sender moved on: a short window, as Logstash takes it
                    self.windows.append(PendingWindow(frame.version, frame.size))
                    if frame.size == 0:
                        self._schedule_flush()
                    continue
                assert type(frame) is Data
                window = self.windows[-1] if self.windows else None
                if window is None or window.closed:
                    raise ProtocolError("data frame outside a window")
                window.received += 1
                if window.received >= window.size:
                    window.closed = True
                self.settled.clear()
                event = self.owner.mapper.event(frame, self.peer, self.address, received_at, self.tls_peer)
                await self.emit(self.key, event, BeatsAck(self, window, frame.sequence))
                window.emitted += 1  # after: an emit cancelled by a stop took nothing to acknowledge
                if window.closed and self.owner.flush is not None:
                    self.owner.flush(self.key)

    # ---- acknowledging -------------------------------------------------------------------------------

    def acknowledged(self) -> None:
        self._schedule_flush()

    def _schedule_flush(self) -> None:
        # One write per loop turn however many events a Kafka acknowledgement covered.
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self.flush_acks)

    def flush_acks(self) -> None:
        self._flush_scheduled = False
        out = bytearray()
        windows = self.windows
        while windows:
            head = windows[0]
            if head.done:
                # The final acknowledgement of a window, exactly once: a second one would be read by the Beat as
                # the acknowledgement of its next window.
                out += encode_ack(head.version, head.last_acked_sequence)
                windows.popleft()
                continue
            if head.last_acked_sequence != head.reported:
                head.reported = head.last_acked_sequence
                out += encode_ack(head.version, head.last_acked_sequence)
            break
        if not any(window.emitted != window.acked for window in windows):
            self.settled.set()
        if out:
            self._write(bytes(out))

    def keepalive(self) -> None:
        """Tell a Beat whose window waits that it is being handled (the same partial acknowledgement again)."""
        if self.windows and time.monotonic() - self.last_write >= self.owner.settings.keepalive_interval:
            head = self.windows[0]
            if not head.done:
                self._write(encode_ack(head.version, head.last_acked_sequence))

    def idle_for(self) -> float:
        if self.windows:
            return 0.0
        return time.monotonic() - max(self.last_read, self.last_write)

    def _write(self, data: bytes) -> None:
        if self.writer.is_closing():
            return
        self.last_write = time.monotonic()
        try:
            self.writer.write(data)
        except (ConnectionError, OSError, RuntimeError) as exc:
            log.info("acknowledgement not delivered", extra={"peer": self.peer, "error": str(exc)})


class BeatsInput:
    name = names.SOURCE_BEATS

    def __init__(self, settings: BeatsSettings, metrics: ServiceMetrics, topic: str, drain_timeout_s: float) -> None:
        self.settings = settings
        self.metrics = metrics
        self.topic = topic
        self.drain_timeout_s = drain_timeout_s
        self.host = socket.gethostname()
        self.mapper = EventMapper(settings, self.host)
        self.port: int | None = None
        self.connections: dict[Connection, asyncio.Task[None]] = {}
        self.stopping = False  # connections stay open to take their last acknowledgements
        # The publisher's, set by the collector: seal a source's batch at once when a window is all in.
        self.flush: Callable[[str], None] | None = None
        metrics.failed(topic, names.REASON_BEATS_PROTOCOL_ERROR, 0)

    def ssl_context(self) -> ssl.SSLContext | None:
        settings = self.settings
        if not settings.ssl_enabled:
            return None
        assert settings.ssl_certificate is not None and settings.ssl_key is not None
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        versions = sorted(settings.ssl_supported_protocols)
        context.minimum_version = ssl.TLSVersion.TLSv1_2 if versions[0] == "TLSv1.2" else ssl.TLSVersion.TLSv1_3
        context.maximum_version = ssl.TLSVersion.TLSv1_3 if versions[-1] == "TLSv1.3" else ssl.TLSVersion.TLSv1_2
        passphrase = settings.ssl_key_passphrase.get_secret_value() if settings.ssl_key_passphrase else None
        context.load_cert_chain(settings.ssl_certificate, settings.ssl_key, password=passphrase)
        if settings.ssl_cipher_suites:
            context.set_ciphers(":".join(settings.ssl_cipher_suites))
        if settings.ssl_client_authentication != "none":
            for authority in settings.ssl_certificate_authorities:
                context.load_verify_locations(cafile=str(authority))
            context.verify_mode = (
                ssl.CERT_REQUIRED if settings.ssl_client_authentication == "required" else ssl.CERT_OPTIONAL
            )
        return context

    async def run(self, emit: Emit) -> None:
        settings = self.settings
        server = await asyncio.start_server(
            lambda reader, writer: self._accept(reader, writer, emit),
            settings.host,
            settings.port,
            ssl=self.ssl_context(),
            ssl_handshake_timeout=settings.ssl_handshake_timeout if settings.ssl_enabled else None,
        )
        self.port = server.sockets[0].getsockname()[1]
        log.info(
            "listening",
            extra={"input": self.name, "host": settings.host, "port": self.port, "tls": settings.ssl_enabled},
        )
        housekeeping = asyncio.create_task(self._housekeeping(), name="beats-keepalive")
        try:
            # Not serve_forever(): cancelled, it waits for every connection to close (Python 3.12+), and ours
            # close only after their last acknowledgements, below.
            await asyncio.Event().wait()
        finally:
            server.close()  # no new connections
            housekeeping.cancel()
            await self._finish()
            await server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, emit: Emit) -> None:
        connection = Connection(self, reader, writer, emit)
        task = asyncio.current_task()
        assert task is not None
        self.connections[connection] = task
        log.debug("beat connected", extra={"input": self.name, "peer": connection.peer})
        try:
            await connection.read()
        except asyncio.CancelledError:
            # Cancelled by a stop or the idle timeout: this task's end. Ending it cancelled would make Python 3.11's
            # stream callback log a traceback (CPython gh-113538, fixed in 3.12).
            pass
        except ProtocolError as exc:
            self.metrics.failed(self.topic, names.REASON_BEATS_PROTOCOL_ERROR)
            log.warning("beat broke the protocol, closing", extra={"peer": connection.peer, "error": str(exc)})
        except (ConnectionError, OSError, ssl.SSLError) as exc:
            log.info("beat connection lost", extra={"peer": connection.peer, "error": str(exc)})
        finally:
            if not self.stopping:
                self.connections.pop(connection, None)
                with contextlib.suppress(Exception):
                    connection.writer.close()

    async def _housekeeping(self) -> None:
        interval = min(self.settings.keepalive_interval, self.settings.client_inactivity_timeout) / 2
        while True:
            await asyncio.sleep(interval)
            for connection, task in list(self.connections.items()):
                connection.keepalive()
                if connection.idle_for() > self.settings.client_inactivity_timeout:
                    log.info("closing an idle beat connection", extra={"peer": connection.peer})
                    task.cancel()

    async def _finish(self) -> None:
        """Stop reading, give Kafka up to the drain timeout for what was taken, acknowledge it, close."""
        self.stopping = True
        connections = dict(self.connections)
        for task in connections.values():
            task.cancel()
        await asyncio.gather(*connections.values(), return_exceptions=True)
        waiting = [asyncio.ensure_future(connection.settled.wait()) for connection in connections]
        if waiting:
            _done, late = await asyncio.wait(waiting, timeout=self.drain_timeout_s)
            for future in late:
                future.cancel()
        for connection in connections:
            connection.flush_acks()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(
                asyncio.gather(*(connection.writer.drain() for connection in connections), return_exceptions=True),
                CLOSE_TIMEOUT_S,
            )
        for connection in connections:
            with contextlib.suppress(Exception):
                connection.writer.close()
        unacknowledged = sum(
            window.emitted - window.acked for connection in connections for window in connection.windows
        )
        log.info(
            "beats input stopped",
            extra={"connections": len(connections), "left_to_the_beats": unacknowledged},
        )
