"""What the indexer integration tests share: events with ids, feeding, reading back, a cuttable TCP proxy."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import yaml
from aiokafka import AIOKafkaConsumer, TopicPartition

from streamstash import names
from streamstash.config import load_pipeline
from streamstash.events.envelope import Batch, Event, Source, event_id
from streamstash.kafka.topics import ensure_topics
from tests.helpers.elastic import document_versions  # noqa: F401 - where the tests import it from
from tests.helpers.kafka import produce_batches
from tests.helpers.metrics import scrape, total
from tests.helpers.pipelines import TestPipeline, write_pipeline

RAW_TOPIC = "logs.raw"


def access_events(record: int, count: int, start_offset: int = 0, **overrides: Any) -> list[Event]:
    """``count`` parsed access-log events, ids as the parser gives them (raw topic, partition 0, offset ``record``)."""
    events = []
    for position in range(count):
        line = start_offset + position
        fields = {
            "clientip": f"10.0.{line % 250}.{line % 7}",
            "verb": "GET",
            "request": f"/page/{line}",
            "response": 200 + (line % 3),
            "bytes": 1000 + line,
        }
        fields.update(overrides)
        events.append(
            Event(
                message=f"line {line}",
                timestamp="2024-05-01T12:00:00.000Z",
                source=Source(kind=names.SOURCE_FILE, path="/var/log/access.log", offset=line),
                fields=fields,
                id=event_id(RAW_TOPIC, 0, record, position),
            )
        )
    return events


def feed(kafka: str, topic: str, records: list[list[Event]]) -> None:
    produce_batches(kafka, topic, [(f"key-{n}".encode(), Batch(events=events)) for n, events in enumerate(records)])


def feed_documents(kafka: str, topic: str, total_documents: int, per_record: int, first_record: int = 0) -> list[str]:
    """Feed ``total_documents`` events in records of ``per_record``; returns their ids."""
    records = []
    for n in range(total_documents // per_record):
        record = first_record + n
        records.append(access_events(record, per_record, start_offset=record * per_record))
    feed(kafka, topic, records)
    return [event.id for events in records for event in events if event.id]


def indexer_pipeline(
    directory: Path, output: dict[str, Any] | None = None, partitions: int = 3, **sections: Any
) -> TestPipeline:
    """A per-test pipeline whose Elasticsearch output (and bulk settings) are merged with ``output``."""
    pipeline = write_pipeline(directory, sections, partitions=partitions)
    document = yaml.safe_load(pipeline.path.read_text())
    elasticsearch = document["outputs"]["elasticsearch"]
    for key, value in (output or {}).items():
        if isinstance(value, dict) and isinstance(elasticsearch.get(key), dict):
            elasticsearch[key] = {**elasticsearch[key], **value}
        else:
            elasticsearch[key] = value
    pipeline.path.write_text(yaml.safe_dump(document, sort_keys=False))
    pipeline.config = load_pipeline(pipeline.path, env={})
    return pipeline


def create_topics(pipeline: TestPipeline, kafka: str) -> None:
    settings = pipeline.config.kafka.model_copy(update={"bootstrap_servers": kafka})
    asyncio.run(ensure_topics(settings))


def indexer_sample(port: int, name: str, **labels: str) -> float:
    return total(scrape(port), name, service=names.SERVICE_INDEXER, **labels)


def bulk_items(port: int, result: str) -> float:
    return indexer_sample(port, "streamstash_bulk_items_total", result=result)


def committed_offsets(kafka: str, group: str, topic: str, partitions: int) -> dict[int, int]:
    async def read() -> dict[int, int]:
        consumer = AIOKafkaConsumer(bootstrap_servers=kafka, group_id=group, enable_auto_commit=False)
        await consumer.start()
        try:
            result = {}
            for partition in range(partitions):
                result[partition] = await consumer.committed(TopicPartition(topic, partition)) or 0
            return result
        finally:
            await consumer.stop()

    return asyncio.run(read())


def end_offsets(kafka: str, topic: str, partitions: int) -> dict[int, int]:
    async def read() -> dict[int, int]:
        consumer = AIOKafkaConsumer(bootstrap_servers=kafka, group_id=None)
        await consumer.start()
        try:
            tps = [TopicPartition(topic, partition) for partition in range(partitions)]
            ends = await consumer.end_offsets(tps)
            return {tp.partition: offset for tp, offset in ends.items()}
        finally:
            await consumer.stop()

    return asyncio.run(read())


class CuttableProxy:
    """A TCP proxy on its own event loop thread, standing in for the network path to Elasticsearch.

    :meth:`cut` closes the listening socket and aborts every open connection, so the indexer sees
    what it sees when Elasticsearch is stopped (connection refused / reset); :meth:`restore` listens
    again on the same port. The local stand-in serves Kafka and Elasticsearch from one process, so
    stopping only its Elasticsearch is not possible; cutting the path in front of it is the same to
    the indexer and leaves the shared stand-in untouched for tests running beside this one.
    """

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.base_events.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.connections = 0

    def __enter__(self) -> CuttableProxy:
        self._thread.start()
        self._call(self._listen())
        return self

    def __exit__(self, *_exc: object) -> None:
        self._call(self._close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cut(self) -> None:
        self._call(self._close())

    def restore(self) -> None:
        self._call(self._listen())

    def _call(self, coroutine: Any) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        return future.result(10)

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _handle(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        except OSError:
            client_writer.transport.abort()
            return
        self._writers.update((client_writer, upstream_writer))

        async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while chunk := await reader.read(65536):
                    writer.write(chunk)
                    await writer.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                writer.transport.abort()
                self._writers.discard(writer)

        await asyncio.gather(pipe(client_reader, upstream_writer), pipe(upstream_reader, client_writer))


def host_port(url: str) -> tuple[str, int]:
    rest = url.split("://", 1)[-1].rstrip("/")
    host, _, port = rest.rpartition(":")
    return host, int(port)


def chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
