"""The indexer's own metrics, beside the standard ones every service has (same registry, same endpoint)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from streamstash.runtime.metrics import ServiceMetrics

BULK_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class IndexerMetrics:
    """Bulk requests (latency, errors), per-item results, the concurrency limit and back-pressure."""

    def __init__(self, service: ServiceMetrics) -> None:
        self.service = service
        registry = service.registry
        name = service.service
        self.bulk_seconds = Histogram(
            "streamstash_bulk_request_seconds",
            "Latency of one answered bulk request.",
            ["service"],
            buckets=BULK_LATENCY_BUCKETS,
            registry=registry,
        ).labels(name)
        self.bulk_requests = Counter(
            "streamstash_bulk_requests", "Bulk requests answered by Elasticsearch.", ["service"], registry=registry
        ).labels(name)
        self._bulk_errors = Counter(
            "streamstash_bulk_errors",
            "Bulk requests that failed as a whole (connection, 429, 5xx, ...); each is retried.",
            ["service", "kind"],
            registry=registry,
        )
        self._bulk_items = Counter(
            "streamstash_bulk_items",
            "Bulk items by result: created, updated (a replay overwrote the same id), "
            "already_indexed (409 on create), retry, rejected.",
            ["service", "result"],
            registry=registry,
        )
        self.in_flight_limit = Gauge(
            "streamstash_bulk_in_flight_limit",
            "Bulk requests allowed in flight (adaptive concurrency).",
            ["service"],
            registry=registry,
        ).labels(name)
        self.in_flight = Gauge(
            "streamstash_bulk_in_flight", "Bulk requests in flight.", ["service"], registry=registry
        ).labels(name)
        self.paused = Gauge(
            "streamstash_consumer_paused",
            "1 while consumption is paused (bulk slots full or Elasticsearch away).",
            ["service"],
            registry=registry,
        ).labels(name)
        self.elasticsearch_up = Gauge(
            "streamstash_elasticsearch_up",
            "1 while the last request to Elasticsearch was answered.",
            ["service"],
            registry=registry,
        ).labels(name)
        self.unsettled_records = Gauge(
            "streamstash_unsettled_records", "Records read but not yet committable.", ["service"], registry=registry
        ).labels(name)

    def bulk_error(self, kind: str) -> None:
        self._bulk_errors.labels(self.service.service, kind).inc()

    def items(self, result: str, count: int) -> None:
        if count:
            self._bulk_items.labels(self.service.service, result).inc(count)
