"""The indexer loop waits for a request in flight instead of polling Kafka in a tight loop.

When Elasticsearch is slow every request slot is taken, the due request waits and consumption is
paused; a paused consumer's getmany returns at once, so a loop that only polled would spin for as
long as Elasticsearch takes to answer (it took most of the indexer's CPU on the local stand-in).
"""

from __future__ import annotations

import asyncio

from aiokafka import TopicPartition
from aiokafka.structs import ConsumerRecord

from streamstash.config.indexer import BulkSettings
from streamstash.events.envelope import Batch, Event, Source, encode
from streamstash.runtime.metrics import ServiceMetrics
from streamstash.services.indexer.bulk import BulkOutcome
from streamstash.services.indexer.consumer import IndexerLoop
from streamstash.services.indexer.documents import DocumentBuilder, IndexNamer

TOPIC = "logs.parsed"
PARTITION = TopicPartition(TOPIC, 0)
ANSWER_AFTER_S = 1.0


class PausableConsumer:
    """Hands out a few records; once paused, getmany returns at once, as aiokafka's does."""

    def __init__(self, records: list[ConsumerRecord]) -> None:
        self.records = records
        self.paused = False
        self.polls = 0

    async def getmany(self, timeout_ms: int = 0, max_records: int | None = None) -> dict:
        self.polls += 1
        if self.records and not self.paused:
            taken, self.records = self.records[:max_records], self.records[max_records:]
            return {PARTITION: taken}
        await asyncio.sleep(0 if self.paused else timeout_ms / 1000)
        return {}

    def assignment(self) -> set[TopicPartition]:
        return {PARTITION}

    def pause(self, *partitions: TopicPartition) -> None:
        self.paused = True

    def resume(self, *partitions: TopicPartition) -> None:
        self.paused = False

    async def commit(self, offsets: dict) -> None:
        pass

    def highwater(self, partition: TopicPartition) -> int:
        return 20

    async def position(self, partition: TopicPartition) -> int:
        return 0


class SlowWriter:
    """Elasticsearch that takes a second per bulk request."""

    available = True

    def __init__(self) -> None:
        self.requests = 0

    async def write(self, chunk: list) -> BulkOutcome:
        self.requests += 1
        await asyncio.sleep(ANSWER_AFTER_S)
        return BulkOutcome(settled=list(chunk), requests=1)

    async def probe(self) -> bool:
        return True


def records(count: int, events_per_record: int) -> list[ConsumerRecord]:
    made = []
    for offset in range(count):
        events = [
            Event(
                message=f"line {offset}-{n}",
                timestamp="2026-11-21T00:00:00.000Z",
                id=f"logs.raw:0:{offset}:{n}",
                source=Source(kind="file", path="/a.log", offset=n),
            )
            for n in range(events_per_record)
        ]
        value = encode(Batch(events=events))
        made.append(ConsumerRecord(TOPIC, 0, offset, 0, 0, None, value, None, 0, len(value), ()))
    return made


def test_a_loop_with_every_request_slot_taken_waits_instead_of_polling() -> None:
    bulk = BulkSettings(max_docs=10, max_in_flight=1, adaptive_concurrency=False, flush_ms=10, drain_timeout_s=0.1)
    consumer = PausableConsumer(records(20, 10))  # 20 requests' worth, one in flight at a time
    writer = SlowWriter()
    loop = IndexerLoop(
        consumer,
        client=None,
        dead_letters=None,
        builders={TOPIC: DocumentBuilder(IndexNamer("logs", "logs-fallback"))},
        skip=None,
        bulk=bulk,
        metrics=ServiceMetrics("indexer"),
        writer_factory=lambda observer: writer,
    )

    async def run_for(seconds: float) -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(loop.run(stop))
        await asyncio.sleep(seconds)
        assert not task.done(), task.exception()
        stop.set()
        await task

    asyncio.run(run_for(2.5))
    assert consumer.paused, "the setup must back the requests up, or it proves nothing"
    assert writer.requests >= 2
    # Waiting on the request in flight: a few polls per MAX_POLL_WAIT_S, not thousands.
    assert consumer.polls < 60, f"{consumer.polls} polls in 2.5 s while requests were full"
