"""The beats input on a loopback socket with a stand-in publisher: acknowledgements follow Kafka's exactly.

The stand-in keeps each event's acknowledgement hook; the test calls them as Kafka would, and reads what the
connection tells the "Beat" (a hand-written lumberjack client here; tests/integration/collector runs Elastic's
go-lumber client against a real collector and Kafka).
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from streamstash.config.collector import BeatsInput as BeatsSettings
from streamstash.events.envelope import Event
from streamstash.runtime.metrics import ServiceMetrics
from streamstash.services.collector.inputs.beats import BeatsInput, content_id
from tests.helpers.lumberjack import data_frame_v1, events_window, json_frame, read_ack, window
from tests.helpers.tls import Certificates, make_certificates

TOPIC = "logs.raw"


class StandInPublisher:
    def __init__(self) -> None:
        self.events: list[tuple[str, Event, Callable[[], None] | None]] = []
        self.arrived = asyncio.Event()

    async def emit(self, key: str, event: Event, ack: Callable[[], None] | None) -> None:
        self.events.append((key, event, ack))
        self.arrived.set()

    async def wait_for(self, count: int) -> None:
        while len(self.events) < count:
            self.arrived.clear()
            await asyncio.wait_for(self.arrived.wait(), 10)

    def acknowledge(self, first: int, last: int) -> None:
        """Kafka took events [first, last) (in emit order, as the publisher guarantees per source)."""
        for _key, _event, ack in self.events[first:last]:
            assert ack is not None
            ack()


@asynccontextmanager
async def running(
    publisher: StandInPublisher, drain_timeout_s: float = 0.5, **settings: Any
) -> AsyncIterator[tuple[BeatsInput, asyncio.Task[None]]]:
    metrics = ServiceMetrics("collector")
    beats = BeatsInput(BeatsSettings(port=0, **settings), metrics, TOPIC, drain_timeout_s)
    task = asyncio.create_task(beats.run(publisher.emit))
    while beats.port is None:
        await asyncio.sleep(0.01)
    try:
        yield beats, task
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def connect(beats: BeatsInput, context: ssl.SSLContext | None = None):  # type: ignore[no-untyped-def]
    assert beats.port is not None
    return await asyncio.open_connection("127.0.0.1", beats.port, ssl=context)


async def ack_of(reader: asyncio.StreamReader) -> int:
    return read_ack(await asyncio.wait_for(reader.readexactly(6), 10))[1]


def beat_event(number: int, **extra: Any) -> dict[str, Any]:
    return {
        "@timestamp": "2024-05-01T10:00:00.123456Z",
        "@metadata": {"beat": "filebeat", "type": "_doc", "version": "8.13.0"},
        "message": f"line {number}",
        "log": {"offset": number * 10, "file": {"path": "/var/log/app.log"}},
        "host": {"name": "web-1"},
        "agent": {"type": "filebeat", "hostname": "web-1"},
        "fields": {"app": "shop"},
        **extra,
    }


async def test_windows_are_acknowledged_as_kafka_takes_their_events() -> None:
    publisher = StandInPublisher()
    async with running(publisher) as (beats, _task):
        reader, writer = await connect(beats)
        writer.write(events_window([beat_event(n) for n in range(1, 6)], compress=True))
        await publisher.wait_for(5)
        publisher.acknowledge(0, 3)
        assert await ack_of(reader) == 3  # partial: the Beat resends only 4 and 5 if we die now
        writer.write(events_window([beat_event(n) for n in range(6, 8)]))  # pipelined second window
        await publisher.wait_for(7)
        publisher.acknowledge(3, 7)
        assert await ack_of(reader) == 5  # window 1, once
        assert await ack_of(reader) == 2  # then window 2
        writer.write(window(0))
        assert await ack_of(reader) == 0  # an empty window is acknowledged at once, as in Logstash
        writer.close()
    keys = {key for key, _event, _ack in publisher.events}
    assert len(keys) == 1, "one connection, one source key: acknowledgements stay in order"


async def test_nothing_is_acknowledged_before_kafka_and_keepalives_say_so() -> None:
    publisher = StandInPublisher()
    async with running(publisher, keepalive_interval=0.05) as (beats, _task):
        reader, writer = await connect(beats)
        writer.write(events_window([beat_event(1), beat_event(2)]))
        await publisher.wait_for(2)
        # Kafka has not acknowledged anything: the keepalive repeats "0", never the window's end.
        assert [await ack_of(reader) for _ in range(3)] == [0, 0, 0]
        publisher.acknowledge(0, 1)
        assert await ack_of(reader) == 1
        publisher.acknowledge(1, 2)
        assert await ack_of(reader) in (1, 2)  # a keepalive may come between
        writer.close()


async def test_beats_events_become_envelopes() -> None:
    publisher = StandInPublisher()
    async with running(publisher, add_fields={"env": "prod"}) as (beats, _task):
        _reader, writer = await connect(beats)
        first = beat_event(1, tags=["beats_input"], **{"@metadata": {"beat": "filebeat", "_id": "given-id"}})
        raw = json.dumps(beat_event(2, **{"@timestamp": "yesterday"})).encode()
        writer.write(window(4) + json_frame(1, first) + json_frame(2, raw) + json_frame(3, b"not json"))
        writer.write(data_frame_v1(4, {"line": "from a forwarder", "file": "/x.log"}))
        await publisher.wait_for(4)
        writer.close()
    events = [event for _key, event, _ack in publisher.events]
    one, two, bad, legacy = events
    assert one.message == "line 1" and one.timestamp == "2024-05-01T10:00:00.123Z"
    assert one.tags == ["beats_input"] and one.id == "given-id"
    assert one.source.kind == "beats" and one.source.peer is not None and one.source.peer.startswith("127.0.0.1:")
    assert one.fields["host"] == {"name": "web-1"} and one.fields["log"]["file"]["path"] == "/var/log/app.log"
    assert one.fields["fields"] == {"app": "shop"} and one.fields["env"] == "prod"
    assert one.fields["@metadata"]["beat"] == "filebeat"
    assert one.fields["@metadata"]["ip_address"] == "127.0.0.1"
    assert one.fields["@metadata"]["input"]["beats"]["host"]["ip"] == "127.0.0.1"
    assert two.id == content_id(raw, {}) and two.tags == ["_timestampparsefailure"]
    assert two.fields["_@timestamp"] == "yesterday"
    assert bad.message == "not json" and bad.tags == ["_jsonparsefailure"]
    assert legacy.message == "from a forwarder" and legacy.fields["file"] == "/x.log"


async def test_a_stop_waits_for_kafka_then_acknowledges_what_it_holds() -> None:
    publisher = StandInPublisher()
    async with running(publisher, drain_timeout_s=10) as (beats, task):
        reader, writer = await connect(beats)
        writer.write(window(4) + b"".join(json_frame(n, beat_event(n)) for n in (1, 2, 3)))  # 4 never comes
        await publisher.wait_for(3)
        task.cancel()  # SIGTERM: the input stops reading and waits for Kafka
        await asyncio.sleep(0.05)
        publisher.acknowledge(0, 3)
        assert await ack_of(reader) == 3  # the Beat sends only event 4 again
        assert await asyncio.wait_for(reader.read(), 10) == b""  # then the connection is closed


async def test_protocol_errors_close_the_connection_and_are_counted() -> None:
    publisher = StandInPublisher()
    async with running(publisher, max_window_size=10) as (beats, _task):
        for garbage in (b"GET / HTTP/1.1\r\n\r\n", window(11), json_frame(1, beat_event(1))):
            reader, writer = await connect(beats)
            writer.write(garbage)
            assert await asyncio.wait_for(reader.read(), 10) == b""
            writer.close()
        metrics = beats.metrics.render().decode()
    assert (
        'streamstash_events_failed_total{reason="beats_protocol_error",service="collector",topic="logs.raw"} 3.0'
        in (metrics)
    )
    assert publisher.events == []


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("tls"))


def client_context(certificates: Certificates, cert: Path | None, key: Path | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(certificates.ca))
    if cert is not None and key is not None:
        context.load_cert_chain(cert, key)
    return context


async def test_mutual_tls(certificates: Certificates) -> None:
    publisher = StandInPublisher()
    tls = {
        "ssl_enabled": True,
        "ssl_certificate": str(certificates.server_cert),
        "ssl_key": str(certificates.server_key),
        "ssl_certificate_authorities": [str(certificates.ca)],
        "ssl_client_authentication": "required",
    }
    async with running(publisher, **tls) as (beats, _task):
        reader, writer = await connect(
            beats, client_context(certificates, certificates.client_cert, certificates.client_key)
        )
        writer.write(events_window([beat_event(1)]))
        await publisher.wait_for(1)
        publisher.acknowledge(0, 1)
        assert await ack_of(reader) == 1
        writer.close()
        for cert, key in ((None, None), (certificates.other_client_cert, certificates.other_client_key)):
            with pytest.raises((ssl.SSLError, ConnectionError, asyncio.IncompleteReadError)):
                reader, writer = await connect(beats, client_context(certificates, cert, key))
                writer.write(events_window([beat_event(2)]))
                await reader.readexactly(6)  # TLS 1.3 reports a refused certificate on the first read
    event = publisher.events[0][1]
    assert event.fields["@metadata"]["tls_peer"] == {"status": "verified", "subject": "commonName=beat-client"}
    assert len(publisher.events) == 1
