"""Indexer throughput into Elasticsearch beside the naive baseline, both measured in this run.

    python bench/index.py --documents 20000 [--search opensearch] [--kafka HOST:PORT --elasticsearch URL]

* indexer: the indexer's own loop (``IndexerLoop``: aiokafka consumer -> bulk requests with several in
  flight -> contiguous commits) consuming parsed batches of access-log events from Kafka, timed from
  its start until Elasticsearch acknowledged the last document.
* ceiling: the same documents as pre-encoded 2,000-document ``_bulk`` requests sent straight to
  Elasticsearch (no Kafka, no decoding), as many at once as the indexer may have in flight: what
  Elasticsearch itself takes. (A real engine indexes concurrent requests on several write threads, so one
  request after the other is no ceiling for OpenSearch; the stand-in takes them in turn either way.)
* naive: one HTTP request per document (aiohttp ``PUT /<index>/_doc/<id>`` on a keep-alive session),
  the same documents, sequentially; measured on a sample (``--naive-documents``) since it is slow.

Without --kafka/--elasticsearch (or STREAMSTASH_KAFKA / STREAMSTASH_ELASTICSEARCH) a local stack is
started in a temporary directory and stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from pathlib import Path

import aiohttp
import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from servers import add_server_options, run_on_servers  # bench/, beside this script

from streamstash import names
from streamstash.config import parse_pipeline
from streamstash.events.envelope import Batch, Event, Source, encode, event_id, to_document
from streamstash.kafka.clients import consumer_group, make_consumer, make_producer
from streamstash.kafka.topics import ensure_topics
from streamstash.runtime.metrics import ServiceMetrics
from streamstash.search.client import make_engine
from streamstash.services.indexer.app import HEARTBEAT_INTERVAL_MS, SESSION_TIMEOUT_MS, document_builders
from streamstash.services.indexer.bulk import BulkWriter, RetryPolicy
from streamstash.services.indexer.consumer import DeadLetterSink, IndexerLoop
from streamstash.services.indexer.template import install_template
from streamstash.stack.manager import StackAddresses

RECORD_EVENTS = 500


def make_events(count: int) -> list[Event]:
    events = []
    for line in range(count):
        fields = {
            "clientip": f"83.149.{line % 250}.{line % 13}",
            "ident": "-",
            "auth": "-",
            "verb": "GET",
            "request": f"/presentations/logstash-monitorama-2013/images/kibana-{line}.png",
            "httpversion": "1.1",
            "response": 200,
            "bytes": 203023 + line,
            "referrer": '"http://semicomplete.com/presentations/logstash-monitorama-2013/"',
            "agent": '"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_1) AppleWebKit/537.36"',
        }
        events.append(
            Event(
                message=f'83.149.9.216 - - [04/Jan/2015:05:13:42 +0000] "GET /x/{line} HTTP/1.1" 200',
                timestamp="2015-01-04T05:13:42.000Z",
                fields=fields,
                source=Source(kind=names.SOURCE_FILE, path="/var/log/access.log", offset=line * 200),
                id=event_id(names.TOPIC_RAW, 0, line // RECORD_EVENTS, line % RECORD_EVENTS),
            )
        )
    return events


def pipeline_text(kafka: str, elasticsearch: str, prefix: str, max_in_flight: int, distribution: str) -> str:
    topics = "\n".join(f"    {kind}: {prefix}.{kind}" for kind in ("raw", "parsed", "aggregated", "dlq", "tasks"))
    return (
        f"kafka:\n  bootstrap_servers: {kafka}\n  partitions: 3\n  consumer_group_prefix: {prefix}\n"
        f"  topics:\n{topics}\nelasticsearch:\n  hosts: [{elasticsearch}]\n  distribution: {distribution}\n"
        f"outputs:\n  elasticsearch:\n    index: {prefix}-logs\n    aggregate_index: {prefix}-aggregates\n"
        f"    bulk: {{max_in_flight: {max_in_flight}}}\n"
    )


async def feed(kafka: str, topic: str, events: list[Event]) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka, acks="all", compression_type="lz4", max_request_size=8 << 20, linger_ms=5
    )
    await producer.start()
    try:
        for start in range(0, len(events), RECORD_EVENTS):
            chunk = events[start : start + RECORD_EVENTS]
            await producer.send(topic, encode(Batch(events=chunk)), key=str(start).encode())
        await producer.flush()
    finally:
        await producer.stop()


async def run_indexer(
    kafka: str, elasticsearch: str, documents: int, max_in_flight: int, distribution: str
) -> tuple[float, int]:
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    config = parse_pipeline(pipeline_text(kafka, elasticsearch, prefix, max_in_flight, distribution), env={})
    await ensure_topics(config.kafka)
    await feed(kafka, config.kafka.topics.parsed, make_events(documents))
    output = config.outputs.elasticsearch
    metrics = ServiceMetrics(names.SERVICE_INDEXER)
    client = make_engine(config.elasticsearch)
    await install_template(client, output)
    consumer = make_consumer(
        config.kafka,
        group=consumer_group(config.kafka, names.SERVICE_INDEXER),
        client_id="bench",
        session_timeout_ms=SESSION_TIMEOUT_MS,
        heartbeat_interval_ms=HEARTBEAT_INTERVAL_MS,
    )
    producer = make_producer(config.kafka, client_id="bench-dlq")
    loop = IndexerLoop(
        consumer,
        client,
        DeadLetterSink(producer, config.kafka.topics.dlq),
        document_builders(config),
        None,
        output.bulk,
        metrics,
        lambda observer: BulkWriter(client, RetryPolicy(), observer),
    )
    consumer.subscribe([config.kafka.topics.parsed, config.kafka.topics.aggregated], listener=loop.rebalance_listener())
    await producer.start()
    await consumer.start()
    stop = asyncio.Event()
    sent = metrics.events_sent

    def acknowledged() -> float:
        return sum(
            sample.value for family in sent.collect() for sample in family.samples if sample.name.endswith("_total")
        )

    started = time.perf_counter()
    task = asyncio.create_task(loop.run(stop))
    try:
        while acknowledged() < documents:
            if task.done():
                task.result()
                raise RuntimeError("indexer loop ended early")
            await asyncio.sleep(0.01)
        elapsed = time.perf_counter() - started
    finally:
        stop.set()
        await task
        await consumer.stop()
        await producer.stop()
    await client.close()
    async with aiohttp.ClientSession(base_url=elasticsearch.rstrip("/")) as session:
        stored = await count_then_delete(session, output.index)
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka)
    await admin.start()
    try:
        await admin.delete_topics(config.kafka.topics.all())
    finally:
        await admin.close()
    return elapsed, int(stored)


async def run_naive(elasticsearch: str, documents: int) -> tuple[float, int]:
    index = f"bench{uuid.uuid4().hex[:8]}-naive"
    events = make_events(documents)
    async with aiohttp.ClientSession(base_url=elasticsearch.rstrip("/")) as session:
        started = time.perf_counter()
        for event in events:
            async with session.put(
                f"/{index}/_doc/{event.id}",
                data=orjson.dumps(to_document(event)),
                headers={"content-type": "application/json"},
            ) as response:
                if response.status >= 300:
                    raise RuntimeError(f"naive PUT failed: {response.status} {await response.text()}")
                await response.read()
        elapsed = time.perf_counter() - started
        stored = await count_then_delete(session, index)
    return elapsed, stored


async def count_then_delete(session: aiohttp.ClientSession, index: str) -> int:
    """Documents ``index`` holds once refreshed; then the index goes (the stand-in slows as it holds more)."""
    await session.post(f"/{index}/_refresh")
    async with session.get(f"/{index}/_count") as response:
        stored = (await response.json())["count"]
    await session.delete(f"/{index}")
    return int(stored)


async def run_ceiling(elasticsearch: str, documents: int, per_request: int, in_flight: int = 1) -> tuple[float, int]:
    """Pre-encoded bulk requests, ``in_flight`` at a time, no Kafka: what Elasticsearch itself takes."""
    index = f"bench{uuid.uuid4().hex[:8]}-ceiling"
    bodies = []
    events = make_events(documents)
    for start in range(0, documents, per_request):
        lines = []
        for event in events[start : start + per_request]:
            lines.append(orjson.dumps({"index": {"_index": index, "_id": event.id}}))
            lines.append(orjson.dumps(to_document(event)))
        bodies.append(b"\n".join(lines) + b"\n")
    async with aiohttp.ClientSession(base_url=elasticsearch.rstrip("/")) as session:

        async def send(queue: list[bytes]) -> None:
            while queue:
                body = queue.pop(0)
                headers = {"content-type": "application/x-ndjson"}
                async with session.post("/_bulk", data=body, headers=headers) as response:
                    result = await response.json()
                    if response.status >= 300 or result.get("errors"):
                        raise RuntimeError(f"ceiling bulk failed: {response.status}")

        started = time.perf_counter()
        await asyncio.gather(*(send(bodies) for _ in range(in_flight)))
        elapsed = time.perf_counter() - started
        stored = await count_then_delete(session, index)
    return elapsed, stored


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=int, default=20_000)
    parser.add_argument("--naive-documents", type=int, default=3_000)
    parser.add_argument("--max-in-flight", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    add_server_options(parser)
    run_on_servers(parser.parse_args(), "bench-index-", run)


def run(args: argparse.Namespace, work: Path, addresses: StackAddresses) -> None:
    rates: dict[str, list[float]] = {"indexer": [], "naive": [], "ceiling": []}
    # Rounds interleave the three so that a busy moment on a shared machine hits all of them alike.
    for _ in range(args.rounds):
        naive_s, naive_stored = asyncio.run(run_naive(addresses.elasticsearch, args.naive_documents))
        ceiling_s, ceiling_stored = asyncio.run(
            run_ceiling(addresses.elasticsearch, args.documents, 2000, args.max_in_flight)
        )
        indexer_s, indexer_stored = asyncio.run(
            run_indexer(
                addresses.kafka,
                addresses.elasticsearch,
                args.documents,
                args.max_in_flight,
                addresses.search_distribution,
            )
        )
        if (indexer_stored, ceiling_stored, naive_stored) != (args.documents, args.documents, args.naive_documents):
            sys.exit(f"documents missing: indexer {indexer_stored}, ceiling {ceiling_stored}, naive {naive_stored}")
        rates["naive"].append(args.naive_documents / naive_s)
        rates["ceiling"].append(args.documents / ceiling_s)
        rates["indexer"].append(args.documents / indexer_s)
    indexer_rate, naive_rate, ceiling_rate = (
        statistics.median(rates[name]) for name in ("indexer", "naive", "ceiling")
    )
    print(f"medians of {args.rounds} interleaved rounds ({args.documents} docs; naive {args.naive_documents})")
    print(
        f"indexer (Kafka -> bulk, <= {args.max_in_flight} in flight): {indexer_rate:>9,.0f} docs/s  "
        f"{_spread(rates['indexer'])}"
    )
    print(
        f"ceiling (pre-encoded _bulk, <= {args.max_in_flight} in flight, no Kafka): {ceiling_rate:>9,.0f} docs/s  "
        f"{_spread(rates['ceiling'])}"
    )
    print(f"naive (one PUT per document):              {naive_rate:>9,.0f} docs/s  {_spread(rates['naive'])}")
    print(f"ratio indexer/naive: {indexer_rate / naive_rate:.1f}x; indexer/ceiling: {indexer_rate / ceiling_rate:.0%}")


def _spread(values: list[float]) -> str:
    return "(" + ", ".join(f"{value:,.0f}" for value in values) + ")"


if __name__ == "__main__":
    main()
