"""What TLS and SASL cost a streamstash client: the same batches through one secured Apache Kafka, by protocol.

    python bench/kafka_security.py                 # 200 records of 500 access-log events each, per protocol
    python bench/kafka_security.py --records 400 --rounds 3

One local stack with a secured broker (``LocalStack(kafka_security=...)``: a CA and certificates made for
the run) serves three listeners: plaintext (its internal one), SASL_SSL with SCRAM-SHA-512, and SSL with
a client certificate (mutual TLS). For each, with the services' own clients (``make_producer`` /
``make_consumer``, acks=all, idempotence, lz4):

* connect  -- from ``start()`` until the producer is ready: TCP, TLS handshake, SASL exchange, metadata;
* produce  -- the records sent and acknowledged (``send`` each, then ``flush``), events/s;
* consume  -- the same records read back from the start by a fresh consumer, events/s.

Rounds alternate the protocols; the median is printed. Needs Java and Apache Kafka's jars (`make engines`)
and the test extras (``cryptography``, for the certificates).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.helpers.certificates makes the certificates

from streamstash.config.common import KafkaSettings
from streamstash.events.envelope import Batch, Event, Source, encode
from streamstash.kafka.clients import make_consumer, make_producer
from streamstash.kafka.topics import ensure_topics
from streamstash.stack.manager import LocalStack
from tests.helpers.certificates import CertificateAuthority, broker_security

USER, PASSWORD = "bench", "bench-password"


def batch_value(number: int, events: int) -> bytes:
    return encode(
        Batch(
            events=[
                Event(
                    message=f'10.0.{n % 250}.{n % 199} - - [01/May/2024:10:00:{n % 60:02d} +0000] "GET /items/{n} '
                    f'HTTP/1.1" 200 {n % 50_000} "-" "curl/8.4.0"',
                    timestamp="2024-05-01T10:00:00.000Z",
                    source=Source(kind="bench", path="/var/log/access.log", offset=n * 120),
                )
                for n in range(number * events, (number + 1) * events)
            ]
        )
    )


def settings_for(protocol: str, listeners: dict[str, str], ca: CertificateAuthority, topic: str) -> KafkaSettings:
    security: dict[str, Any] = {"security_protocol": protocol}
    if protocol != "PLAINTEXT":
        security["ca_file"] = str(ca.cert)
    if protocol == "SASL_SSL":
        security.update(sasl_mechanism="SCRAM-SHA-512", username=USER, password=PASSWORD)
    if protocol == "SSL":
        client = ca.issue(f"bench-client-{uuid.uuid4().hex[:6]}", client=True)
        security.update(cert_file=str(client.cert), key_file=str(client.key))
    return KafkaSettings.model_validate(
        {
            "bootstrap_servers": listeners[protocol],
            "security": security,
            "partitions": 3,
            "topics": {kind: f"{topic}.{kind}" for kind in ("raw", "parsed", "aggregated", "dlq", "tasks")},
        }
    )


async def one_round(settings: KafkaSettings, values: list[bytes], events: int) -> dict[str, float]:
    await ensure_topics(settings)
    topic = settings.topics.raw
    producer = make_producer(settings, client_id="bench-security")
    started = time.perf_counter()
    await producer.start()
    connected = time.perf_counter()
    try:
        for number, value in enumerate(values):
            await producer.send(topic, value, key=str(number).encode())
        await producer.flush()
        produced = time.perf_counter()
    finally:
        await producer.stop()
    consumer = make_consumer(settings, topic, group=None, client_id="bench-security")
    await consumer.start()
    try:
        read, began = 0, time.perf_counter()
        while read < len(values):
            batches = await consumer.getmany(timeout_ms=1000)
            read += sum(len(records) for records in batches.values())
        consumed = time.perf_counter()
    finally:
        await consumer.stop()
    total = len(values) * events
    return {
        "connect_ms": (connected - started) * 1000,
        "produce_eps": total / (produced - connected),
        "consume_eps": total / (consumed - began),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=200, help="records (batches) per round")
    parser.add_argument("--events", type=int, default=500, help="events per record")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-security-"))
    ca = CertificateAuthority(work / "ca")
    stack = LocalStack(work / "stack", kafka_engine="apache", kafka_security=broker_security(ca, {USER: PASSWORD}))
    addresses = stack.up()
    values = [batch_value(number, args.events) for number in range(args.records)]
    megabytes = sum(map(len, values)) / 1e6
    print(f"{args.records} records x {args.events} events ({megabytes:.1f} MB encoded) per round, {args.rounds} rounds")
    results: dict[str, list[dict[str, float]]] = {"PLAINTEXT": [], "SASL_SSL": [], "SSL": []}
    try:
        for round_number in range(args.rounds):
            for protocol in list(results):
                settings = settings_for(protocol, dict(addresses.kafka_listeners), ca, f"b{uuid.uuid4().hex[:8]}")
                results[protocol].append(asyncio.run(one_round(settings, values, args.events)))
            print(f"round {round_number + 1} done")
    finally:
        stack.down()
    print(f"{'protocol':<22}{'connect ms':>12}{'produce ev/s':>15}{'consume ev/s':>15}")
    for protocol, rounds in results.items():
        label = {"SASL_SSL": "SASL_SSL SCRAM-512", "SSL": "SSL (mutual TLS)"}.get(protocol, protocol)
        median = {key: statistics.median(entry[key] for entry in rounds) for key in rounds[0]}
        print(f"{label:<22}{median['connect_ms']:>12.0f}{median['produce_eps']:>15,.0f}{median['consume_eps']:>15,.0f}")


if __name__ == "__main__":
    main()
