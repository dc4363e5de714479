"""Kafka away for a while: the collector buffers (memory, then disk), says so, and loses nothing.

These tests stop Kafka, so they use a private stand-in, never the session's shared one.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka.admin import NewTopic

from streamstash import names
from streamstash.config.common import BatchSettings, KafkaSettings
from streamstash.events.envelope import Event, Source
from streamstash.kafka.clients import make_admin, make_consumer, make_producer
from streamstash.runtime.metrics import ServiceMetrics
from streamstash.services.collector.app import PRODUCER_STOP_TIMEOUT_S
from streamstash.services.collector.checkpoints import CheckpointStore
from streamstash.services.collector.publisher import Publisher
from streamstash.services.collector.recovery import recover, start_producer
from streamstash.services.collector.spill import Spill
from tests.helpers.kafka import read_events
from tests.helpers.metrics import scrape, total
from tests.helpers.pipelines import write_pipeline
from tests.helpers.processes import ServiceProcess
from tests.helpers.waiting import wait_until
from tests.integration.collector.support import (
    StandIn,
    access_lines,
    assert_every_line_exactly_once,
    create_topics,
    private_stand_in,
    raw_events,
    wait_seconds,
    wait_until_checkpointed,
)

pytestmark = pytest.mark.integration

OUTAGE_S = 10


@pytest.fixture(scope="module")
def stand_in(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StandIn]:
    with private_stand_in(tmp_path_factory.mktemp("private-stack")) as running:
        yield running


class Writer(threading.Thread):
    """Appends access-log lines at a steady rate until stopped, like a busy web server."""

    def __init__(self, path: Path, lines_per_second: int) -> None:
        super().__init__(daemon=True)
        self.path = path
        self.rate = lines_per_second
        self.written = 0
        self.halt = threading.Event()

    def run(self) -> None:
        chunk = max(1, self.rate // 20)
        while not self.halt.is_set():
            with open(self.path, "a", encoding="utf-8") as out:
                out.write(access_lines(self.written, chunk))
            self.written += chunk
            self.halt.wait(0.05)


class TcpSender(threading.Thread):
    """Sends numbered lines over one TCP connection at a steady rate, like a syslog forwarder."""

    def __init__(self, port: int, lines_per_second: int) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.rate = lines_per_second
        self.sent = 0
        self.halt = threading.Event()

    def run(self) -> None:
        chunk = max(1, self.rate // 20)
        with socket.create_connection(("127.0.0.1", self.port)) as connection:
            while not self.halt.is_set():
                connection.sendall("".join(f"tcp line {n}\n" for n in range(self.sent, self.sent + chunk)).encode())
                self.sent += chunk
                self.halt.wait(0.05)


def tcp_port(process: ServiceProcess) -> int:
    def find() -> int | None:
        for line in process.log_text().splitlines():
            if '"listening"' in line:
                return int(json.loads(line)["port"])
        return None

    return wait_until(find, timeout=60, message="tcp input never listened")


def ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as response:
            return response.status == 200
    except urllib.error.HTTPError as error:
        return error.code == 200


def test_ten_second_outage_during_a_stream_loses_nothing(stand_in: StandIn, tmp_path: Path, log_dir: Path) -> None:
    log_file = tmp_path / "access.log"
    log_file.touch()
    pipeline = write_pipeline(
        tmp_path,
        {
            "inputs": [
                {"type": "file", "paths": [str(log_file)], "start_position": "beginning", "poll_interval_ms": 50},
                {"type": "tcp", "port": 0, "framing": "newline", "syslog": False},
            ],
            # A small memory buffer: the file input waits on it (the file is its buffer), the TCP
            # lines, which cannot be read again, go to the disk spill.
            "collector": {"batch": {"linger_ms": 20, "max_events": 200}, "buffer_max_events": 1000},
        },
    )
    create_topics(pipeline, stand_in.kafka)
    state = pipeline.config.state_dir
    writer = Writer(log_file, lines_per_second=2_000)
    collector = ServiceProcess("collector", pipeline.path, stand_in.kafka, stand_in.elasticsearch, log_dir)
    sender = TcpSender(tcp_port(collector), lines_per_second=1_000)
    try:
        port = collector.http_port
        writer.start()
        sender.start()
        wait_until(lambda: writer.written > 4_000 and ready(port), timeout=60, message="stream did not start")

        stand_in.stop_kafka()
        outage_started = time.monotonic()
        wait_until(lambda: not ready(port), timeout=OUTAGE_S, message="collector still ready without Kafka")
        wait_until(
            lambda: total(scrape(port), "streamstash_buffer_fill", buffer="spill") > 0,
            timeout=OUTAGE_S,
            message="nothing spilled to disk",
        )
        wait_seconds(max(0.0, OUTAGE_S - (time.monotonic() - outage_started)))
        fill = scrape(port)
        assert 1000 <= total(fill, "streamstash_buffer_fill", buffer="memory") <= 1000 + 2 * 200
        assert len(list((state / "collector" / "spill").glob("*.spill"))) >= 1
        warnings = [
            json.loads(line)
            for line in collector.log_text().splitlines()
            if '"level":"WARNING"' in line and "spill_events" in line
        ]
        assert warnings, "no WARNING with the buffer figures"
        assert {"memory_events", "spill_bytes", "kafka_healthy"} <= set(warnings[-1])
        assert warnings[-1]["kafka_healthy"] is False

        stand_in.start_kafka()
        wait_seconds(2)  # the streams go on after Kafka is back
        writer.halt.set()
        sender.halt.set()
        writer.join()
        sender.join()
        wait_until_checkpointed(state, log_file.stat().st_size, timeout=120)
        wait_until(
            lambda: (
                total(scrape(port), "streamstash_events_sent_total", service="collector")
                >= writer.written + sender.sent
            ),
            timeout=120,
            message="not everything was sent",
        )
        wait_until(lambda: ready(port), timeout=60, message="collector not ready after the outage")
        assert list((state / "collector" / "spill").glob("*.spill")) == []
        sent = total(scrape(port), "streamstash_events_sent_total", service="collector")
    finally:
        writer.halt.set()
        sender.halt.set()
        assert collector.stop() == 0
    assert "kafka reachable again" in collector.log_text()
    events = raw_events(stand_in.kafka, pipeline)
    file_events = [event for event in events if event.source.kind == names.SOURCE_FILE]
    tcp_events = [event for event in events if event.source.kind == names.SOURCE_TCP]
    assert_every_line_exactly_once(file_events, log_file)
    assert sorted(event.message for event in tcp_events) == sorted(f"tcp line {n}" for n in range(sender.sent))
    assert sent == len(events) == writer.written + sender.sent


async def create_topic(kafka: KafkaSettings, topic: str) -> None:
    admin = make_admin(kafka)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 1, 1)])
    finally:
        await admin.close()


def event(number: int) -> Event:
    return Event(message=f"line {number} " + "x" * 400, source=Source(kind=names.SOURCE_STDIN, offset=number))


async def test_spill_is_bounded_then_inputs_wait_and_everything_is_sent_in_order(
    stand_in: StandIn, tmp_path: Path
) -> None:
    topic = f"spill-{tmp_path.name}"
    kafka = KafkaSettings(bootstrap_servers=stand_in.kafka)
    await create_topic(kafka, topic)  # Kafka, like the compose broker, creates no topic on a first produce
    stand_in.stop_kafka()
    try:
        store = CheckpointStore(tmp_path / "checkpoints.json")
        spill = Spill(tmp_path / "spill", max_bytes=1024 * 1024, segment_bytes=128 * 1024)
        publisher = Publisher(
            None,
            topic,
            BatchSettings(max_events=100, linger_ms=10),
            ServiceMetrics("collector"),
            buffer_max_events=1000,
            checkpoints=store,
            spill=spill,
        )
        await publisher.start()
        emitted = 0

        async def produce() -> None:
            nonlocal emitted
            while emitted < 20_000:
                await publisher.emit("stdin:test", event(emitted), None)
                emitted += 1

        producing = asyncio.create_task(produce())
        for _ in range(500):
            if publisher.blocked:
                break
            await asyncio.sleep(0.02)
        assert publisher.blocked, "emit never blocked with memory and spill full"
        blocked_at = emitted
        await asyncio.sleep(0.3)
        assert emitted == blocked_at  # inputs are paused, not dropping
        assert 1024 * 1024 <= spill.bytes_used < 1024 * 1024 + 100 * 1024
        assert publisher.memory_events <= 1000 + 100
        assert not publisher.ready
    finally:
        stand_in.start_kafka()

    scan = await recover(lambda: make_consumer(kafka, group=None, client_id="t"), topic, store)
    producer = await start_producer(lambda: make_producer(kafka, client_id="t", linger_ms=0), topic)
    try:
        await asyncio.gather(*publisher.begin(producer, scan.end_offsets, scan.batch_ids))
        await asyncio.wait_for(producing, 60)
        await publisher.stop()
    finally:
        await producer.stop()
    assert list((tmp_path / "spill").glob("*.spill")) == []
    offsets = [e.source.offset for e in await asyncio.to_thread(read_events, stand_in.kafka, topic, 5)]
    assert offsets == list(range(20_000))


def test_stopped_while_kafka_is_down_the_next_run_sends_the_spill_once(
    stand_in: StandIn, tmp_path: Path, log_dir: Path
) -> None:
    log_file = tmp_path / "access.log"
    log_file.write_text(access_lines(0, 3_000))
    pipeline = write_pipeline(
        tmp_path,
        {
            "inputs": [
                {"type": "file", "paths": [str(log_file)], "start_position": "beginning", "poll_interval_ms": 50},
                {"type": "tcp", "port": 0, "framing": "newline", "syslog": False},
            ],
            "collector": {
                "batch": {"linger_ms": 20, "max_events": 200},
                "buffer_max_events": 1000,
                "drain_timeout_s": 1,
            },
        },
    )
    create_topics(pipeline, stand_in.kafka)
    state = pipeline.config.state_dir
    spill_dir = state / "collector" / "spill"

    def tcp_received(port: int) -> float:
        return total(scrape(port), "streamstash_collector_input_events_total", input=names.SOURCE_TCP)

    first = ServiceProcess(
        "collector", pipeline.path, stand_in.kafka, stand_in.elasticsearch, log_dir, name="collector-1"
    )
    try:
        port = first.http_port
        connection = socket.create_connection(("127.0.0.1", tcp_port(first)))
        try:
            connection.sendall("".join(f"tcp line {n}\n" for n in range(500)).encode())
            wait_until_checkpointed(state, log_file.stat().st_size)
            stand_in.stop_kafka()
            connection.sendall("".join(f"tcp line {n}\n" for n in range(500, 3_500)).encode())
            with open(log_file, "a", encoding="utf-8") as out:
                out.write(access_lines(3_000, 5_000))
            wait_until(lambda: tcp_received(port) == 3_500, timeout=60, message="tcp lines not taken in")
            wait_until(
                lambda: total(scrape(port), "streamstash_buffer_fill", buffer="spill") > 0,
                timeout=60,
                message="nothing spilled",
            )
        finally:
            connection.close()
        stopping = time.monotonic()
        assert first.stop() == 0
        # The stop takes its drain_timeout_s (1 s), not that plus the producer's wait for a Kafka that is away.
        assert time.monotonic() - stopping < PRODUCER_STOP_TIMEOUT_S
    finally:
        first.stop()  # a no-op once stopped; on a failure above it must not outlive the test
        stand_in.start_kafka()
    assert "batches spilled for the next run" in first.log_text()
    assert list(spill_dir.glob("*.spill"))

    second = ServiceProcess(
        "collector", pipeline.path, stand_in.kafka, stand_in.elasticsearch, log_dir, name="collector-2"
    )
    try:
        wait_until_checkpointed(state, log_file.stat().st_size, timeout=120)
        wait_until(lambda: not list(spill_dir.glob("*.spill")), timeout=60, message="spill not sent")
    finally:
        assert second.stop() == 0
    assert "spilled batches left by the previous run, sent first" in second.log_text()
    events = raw_events(stand_in.kafka, pipeline)
    assert_every_line_exactly_once([e for e in events if e.source.kind == names.SOURCE_FILE], log_file)
    assert sorted(e.message for e in events if e.source.kind == names.SOURCE_TCP) == sorted(
        f"tcp line {n}" for n in range(3_500)
    )
