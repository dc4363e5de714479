"""The aggregator's metrics beyond the standard ones, and how a record's outcome is counted."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

from streamstash import names
from streamstash.aggregation.processor import RecordOutcome
from streamstash.runtime.metrics import ServiceMetrics


class AggregatorMetrics:
    def __init__(self, metrics: ServiceMetrics) -> None:
        self.metrics = metrics
        self.late_events = Counter(
            "streamstash_aggregator_late_events",
            "Events behind the watermark: not dropped, emitted in aggregates tagged _aggregate_late.",
            ["topic"],
            registry=metrics.registry,
        )
        self.owned_partitions = Gauge(
            "streamstash_aggregator_owned_partitions",
            "Partitions of logs.tasks (and so of the task table) this instance owns.",
            registry=metrics.registry,
        )

    def count_outcome(self, topic: str, partition: int, received: int, outcome: RecordOutcome) -> None:
        if received:
            self.metrics.received(topic, partition, received)
        if outcome.duplicates:
            self.metrics.dropped(topic, names.REASON_DUPLICATE_DELIVERY, outcome.duplicates)
        if outcome.late:
            self.late_events.labels(topic).inc(outcome.late)
