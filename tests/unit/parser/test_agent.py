"""The parser's Faust wiring in memory: its agent under `test_context()`, the raw topic as a (never started)
Faust topic so events get their real ids, channels for `logs.parsed` and `logs.dlq`."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from faust.types import AgentT

from streamstash import names
from streamstash.config import parse_pipeline
from streamstash.events.envelope import Batch, Event, Source, decode_batch, decode_dead_letters, encode
from streamstash.kafka.faust_app import raw_topic
from streamstash.runtime.metrics import ServiceMetrics
from streamstash.services.parser.app import Endpoints, wire
from tests.helpers.faust_memory import UNUSED_BROKER, Outbox, memory_app
from tests.helpers.metrics import counted

PIPELINE = """
state_dir: {state}
kafka: {{bootstrap_servers: "{broker}"}}
parser: {{stop_offsets: {{0: 3}}}}
filters:
  - dissect: {{mapping: {{message: "%{{level}} %{{msg}}"}}}}
  - if: '[level] == "DEBUG"'
    drop: {{}}
  - grok: {{match: {{msg: ["user=%{{WORD:user}}"]}}}}
"""


@dataclass
class Wired:
    agent: AgentT
    parsed: Outbox
    dlq: Outbox
    metrics: ServiceMetrics

    def counter(self, kind: str, **labels: str) -> float:
        return counted(self.metrics, kind, **labels)


@pytest.fixture
def wired(tmp_path: Path) -> Iterator[Wired]:
    config = parse_pipeline(PIPELINE.format(state=tmp_path, broker=UNUSED_BROKER), env={})
    with memory_app(config, names.SERVICE_PARSER) as app:
        endpoints = Endpoints(raw=raw_topic(app, "logs.raw", 1), parsed=app.channel(), dlq=app.channel())
        metrics = ServiceMetrics(names.SERVICE_PARSER)
        agent = wire(app, config, endpoints, metrics)
        yield Wired(agent, Outbox(endpoints.parsed), Outbox(endpoints.dlq), metrics)


def raw_record(*lines: str) -> bytes:
    return encode(Batch(events=[Event(message=line, source=Source(kind=names.SOURCE_STDIN)) for line in lines]))


async def test_a_record_is_parsed_dead_lettered_and_dropped_line_by_line(wired: Wired) -> None:
    async with wired.agent.test_context() as agent:
        await agent.put(raw_record("INFO user=alice", "DEBUG noise", "INFO no user here"), key=b"stdin:h", partition=0)
        parsed = await wired.parsed.take()
        letters = await wired.dlq.take()
    assert parsed.key == b"stdin:h" and letters.key == b"stdin:h"  # the source key goes on with its lines
    (event,) = decode_batch(parsed.value).events
    assert event.id == "logs.raw:0:0:0" and event.fields["user"] == "alice"
    (letter,) = decode_dead_letters(letters.value).letters
    assert letter.stage == names.SERVICE_PARSER and letter.origin == "logs.raw:0:0:2"
    assert letter.event.message == "INFO no user here" and names.TAG_GROK_FAILURE in letter.event.tags
    assert wired.counter("received", topic="logs.raw", partition="0") == 3
    assert wired.counter("sent") == 1  # counted from the acknowledgement of logs.parsed
    assert wired.counter("failed", topic="logs.raw", reason=names.REASON_DEAD_LETTER) == 1
    assert wired.counter("dropped", topic="logs.raw", reason=names.REASON_DROP_FILTER) == 1


async def test_an_undecodable_record_is_a_dead_letter_with_all_its_bytes(wired: Wired) -> None:
    garbage = b"\xfe\xff" + b"z" * 5000
    async with wired.agent.test_context() as agent:
        await agent.put(garbage, partition=0)
        (letter,) = decode_dead_letters((await wired.dlq.take()).value).letters
    assert letter.origin == letter.event.id == "logs.raw:0:0"
    assert base64.b64decode(letter.event.raw_b64 or "") == garbage
    assert wired.parsed.empty()


async def test_a_bounded_replay_leaves_records_at_or_past_the_stop_offset_alone(wired: Wired) -> None:
    async with wired.agent.test_context() as agent:
        for number in range(5):  # offsets 0..4; parser.stop_offsets stops partition 0 at 3
            await agent.put(raw_record(f"INFO user=u{number}"), partition=0)
        ids = [decode_batch((await wired.parsed.take()).value).events[0].id for _ in range(3)]
        await agent.put(raw_record("INFO user=late"), partition=0)
    assert ids == ["logs.raw:0:0:0", "logs.raw:0:1:0", "logs.raw:0:2:0"]
    assert wired.parsed.empty()
    assert wired.counter("received") == 3
