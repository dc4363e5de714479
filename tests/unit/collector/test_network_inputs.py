"""UDP and TCP listeners on real loopback sockets, emitting into a list."""

from __future__ import annotations

import asyncio
import socket

from streamstash import names
from streamstash.config.collector import MultilineSettings
from streamstash.config.collector import TcpInput as TcpSettings
from streamstash.config.collector import UdpInput as UdpSettings
from streamstash.events.envelope import Event
from streamstash.runtime.metrics import ServiceMetrics
from streamstash.services.collector.inputs.network import TcpInput, UdpInput
from tests.helpers.metrics import counted


class Collected:
    def __init__(self) -> None:
        self.items: list[tuple[str, Event]] = []
        self.gate = asyncio.Event()
        self.gate.set()

    async def emit(self, key: str, event: Event, ack) -> None:
        await self.gate.wait()
        self.items.append((key, event))


async def wait_for(condition, timeout: float = 10.0) -> None:
    for _ in range(int(timeout / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not met in time")


async def started(source: UdpInput | TcpInput, collected: Collected) -> asyncio.Task:
    task = asyncio.create_task(source.run(collected.emit))
    await wait_for(lambda: source.port is not None)
    return task


async def stop(task: asyncio.Task) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_udp_datagram_with_several_lines_and_syslog() -> None:
    collected = Collected()
    source = UdpInput(UdpSettings(port=0, add_fields={"env": "test"}), ServiceMetrics("collector"), "raw")
    task = await started(source, collected)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sender.sendto(b"first line\nsecond line\n", ("127.0.0.1", source.port))
        sender.sendto(b"<13>Feb  5 17:32:18 web01 app[9]: from syslog", ("127.0.0.1", source.port))
        await wait_for(lambda: len(collected.items) == 3)
    finally:
        await stop(task)
        peer = f"127.0.0.1:{sender.getsockname()[1]}"
        sender.close()
    messages = [event.message for _, event in collected.items]
    assert messages == ["first line", "second line", "from syslog"]
    syslog = collected.items[2][1].fields
    assert syslog["env"] == "test" and syslog[names.FIELD_SYSLOG]["program"] == "app"
    assert {event.source.peer for _, event in collected.items} == {peer}
    assert all(event.source.kind == names.SOURCE_UDP for _, event in collected.items)


async def test_udp_counts_lines_dropped_while_the_buffers_are_full() -> None:
    collected = Collected()
    collected.gate.clear()  # the publisher's buffers are full: emit does not return
    metrics = ServiceMetrics("collector")
    source = UdpInput(UdpSettings(port=0, queue_datagrams=2), metrics, "raw")
    task = await started(source, collected)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        for number in range(10):
            sender.sendto(f"a{number}\nb{number}\n".encode(), ("127.0.0.1", source.port))

        # One datagram is taken (its emit blocks), two wait in the queue, seven are lost: 14 lines, a loss
        # (`lost`), not a drop the pipeline asked for (`dropped`).
        await wait_for(lambda: counted(metrics, "lost", reason=names.REASON_BUFFER_FULL) == 14)
        assert counted(metrics, "dropped") == 0
        collected.gate.set()
        await wait_for(lambda: len(collected.items) == 6)
    finally:
        await stop(task)
        sender.close()


async def test_tcp_newline_lines_and_multiline_per_connection() -> None:
    collected = Collected()
    settings = TcpSettings(
        port=0, framing="newline", syslog=False, multiline=MultilineSettings(pattern=r"^\s", timeout_ms=200)
    )
    source = TcpInput(settings)
    task = await started(source, collected)
    try:
        _, first = await asyncio.open_connection("127.0.0.1", source.port)
        _, second = await asyncio.open_connection("127.0.0.1", source.port)
        first.write(b"A head\n")
        second.write(b"B head\n")
        await first.drain()
        await second.drain()
        await asyncio.sleep(0.05)
        first.write(b"  A more\nA next\n")
        second.write(b"  B more\n")
        await first.drain()
        await second.drain()
        first.close()
        second.close()
        await wait_for(lambda: len(collected.items) == 3)
    finally:
        await stop(task)
    assert sorted(event.message for _, event in collected.items) == ["A head\n  A more", "A next", "B head\n  B more"]
    assert len({event.source.peer for _, event in collected.items}) == 2


async def test_tcp_octet_counting_auto_detected_with_syslog_5424() -> None:
    collected = Collected()
    source = TcpInput(TcpSettings(port=0))
    task = await started(source, collected)
    messages = [
        b'<165>1 2003-10-11T22:14:15.003Z host1 app 77 ID1 [meta k="v"] multi\nline body',
        b"<34>Oct 11 22:14:15 mymachine su: plain bsd",
    ]
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", source.port)
        writer.write(b"".join(str(len(m)).encode() + b" " + m for m in messages))
        await writer.drain()
        writer.close()
        await wait_for(lambda: len(collected.items) == 2)
    finally:
        await stop(task)
    first, second = (event for _, event in collected.items)
    assert first.message == "multi\nline body"
    assert first.timestamp == "2003-10-11T22:14:15.003Z"
    assert first.fields[names.FIELD_SYSLOG]["structured_data"] == {"meta": {"k": "v"}}
    assert (first.fields[names.FIELD_SYSLOG]["pid"], first.fields[names.FIELD_SYSLOG]["msgid"]) == ("77", "ID1")
    assert second.message == "plain bsd" and second.fields[names.FIELD_SYSLOG]["host"] == "mymachine"
