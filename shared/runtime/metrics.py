"""The metrics every service exposes (Vector's component spec: received, sent, errors, dropped), and losses.

The labels mean the same in every service. ``topic`` is always a Kafka topic and ``partition`` one of
its partitions:

* ``received``: where the events were read from. The collector reads no topic: there it is the topic and
  partition the events are bound for (``logs.raw``, the partition of their source).
* ``sent``: where they were written and acknowledged. The indexer writes to Elasticsearch: there it is
  the topic and partition they were read from.
* ``failed``, ``dropped``, ``lost``: the topic they were read from (the collector: bound for), and a
  ``reason`` from ``names.REASON_*``.

``dropped`` counts what the pipeline leaves out on purpose (a `drop` filter, a duplicate delivery, an
event an aggregation consumed); ``lost`` counts what was meant to go on and never will, and should stay 0.
"""

from __future__ import annotations

import contextlib

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.context_managers import Timer

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class ServiceMetrics:
    """One registry per process; label sets are the same in every service."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.registry = CollectorRegistry()
        self.events_received = Counter(
            "streamstash_events_received",
            "Events taken in.",
            ["service", "topic", "partition"],
            registry=self.registry,
        )
        self.events_sent = Counter(
            "streamstash_events_sent",
            "Events handed on and acknowledged.",
            ["service", "topic", "partition"],
            registry=self.registry,
        )
        self.events_failed = Counter(
            "streamstash_events_failed",
            "Events that failed (sent to the DLQ or retried).",
            ["service", "topic", "reason"],
            registry=self.registry,
        )
        self.events_dropped = Counter(
            "streamstash_events_dropped",
            "Events left out on purpose (a `drop` filter, a duplicate delivery, consumed by an aggregation).",
            ["service", "topic", "reason"],
            registry=self.registry,
        )
        self.events_lost = Counter(
            "streamstash_events_lost",
            "Events lost: meant to go on, and never will (UDP with full buffers, refused by Kafka); should be 0.",
            ["service", "topic", "reason"],
            registry=self.registry,
        )
        self.batch_seconds = Histogram(
            "streamstash_batch_seconds",
            "Time to handle one batch (stage: publish = send to Kafka ack, parse, "
            "aggregate, index = bulk request(s) until settled).",
            ["service", "stage"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.consumer_lag = Gauge(
            "streamstash_consumer_lag",
            "Records of an assigned partition not handled yet (end offset minus the "
            "committed offset or position); only the partitions this instance owns.",
            ["service", "topic", "partition"],
            registry=self.registry,
        )
        self.consumer_rereads = Counter(
            "streamstash_consumer_rereads",
            "Times a partition was read again from a record no agent acknowledged while later ones were "
            "(reason: unacknowledged_head).",
            ["service", "topic", "reason"],
            registry=self.registry,
        )
        self.buffer_fill = Gauge(
            "streamstash_buffer_fill",
            "Events waiting in the service's own buffers.",
            ["service", "buffer"],
            registry=self.registry,
        )

    def received(self, topic: str, partition: int | str, count: int) -> None:
        self.events_received.labels(self.service, topic, str(partition)).inc(count)

    def sent(self, topic: str, partition: int | str, count: int) -> None:
        self.events_sent.labels(self.service, topic, str(partition)).inc(count)

    def failed(self, topic: str, reason: str, count: int = 1) -> None:
        self.events_failed.labels(self.service, topic, reason).inc(count)

    def dropped(self, topic: str, reason: str, count: int = 1) -> None:
        self.events_dropped.labels(self.service, topic, reason).inc(count)

    def lost(self, topic: str, reason: str, count: int = 1) -> None:
        self.events_lost.labels(self.service, topic, reason).inc(count)

    def reread(self, topic: str, reason: str, count: int = 1) -> None:
        self.consumer_rereads.labels(self.service, topic, reason).inc(count)

    def lag(self, topic: str, partition: int | str, records: int) -> None:
        self.consumer_lag.labels(self.service, topic, str(partition)).set(records)

    def forget_lag(self, topic: str, partition: int | str) -> None:
        """A partition no longer ours: its lag is another instance's to report."""
        with contextlib.suppress(KeyError):
            self.consumer_lag.remove(self.service, topic, str(partition))

    def time_batch(self, stage: str) -> Timer:
        return self.batch_seconds.labels(self.service, stage).time()

    def observe_batch(self, stage: str, seconds: float) -> None:
        self.batch_seconds.labels(self.service, stage).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
