"""A pipeline's state seen from outside: Kafka offsets and groups, plus each instance's /metrics if known.

Kafka alone answers instances (members of each service's consumer group), lag per partition and the
DLQ size, so `status` works for any deployment (compose, several hosts). Event counts and failures
come from the services' /metrics endpoints listed in ``<state_dir>/run.json`` (written by
`streamstash run`) or given with ``--metrics service=host:port``.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from streamstash import names
from streamstash.config import PipelineConfig
from streamstash.kafka.clients import consumer_group
from streamstash.ops.offsets import OffsetReader


# Which topics each service consumes (its lag) and produces (its output).
def consumed_topics(config: PipelineConfig) -> dict[str, list[str]]:
    topics = config.kafka.topics
    return {
        names.SERVICE_COLLECTOR: [],
        names.SERVICE_PARSER: [topics.raw],
        names.SERVICE_AGGREGATOR: [topics.parsed, topics.tasks],
        names.SERVICE_INDEXER: [topics.parsed, topics.aggregated],
    }


@dataclass
class ServiceStatus:
    service: str
    instances: int | None
    lag: int = 0
    lag_by_partition: dict[str, int] = field(default_factory=dict)
    events_in: float | None = None
    events_out: float | None = None
    events_failed: float | None = None
    events_dropped: float | None = None
    events_lost: float | None = None
    endpoints: list[str] = field(default_factory=list)


@dataclass
class PipelineStatus:
    taken_at: float
    services: list[ServiceStatus]
    dlq_records: int
    raw_records: int

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)


def endpoints_from_run_state(state_dir: Path) -> dict[str, list[str]]:
    try:
        state = json.loads((state_dir / "run.json").read_text())
    except (OSError, ValueError):
        return {}
    return {service: [f"127.0.0.1:{info['http_port']}"] for service, info in state.items() if info.get("http_port")}


def scrape_totals(endpoint: str, timeout: float = 2.0) -> dict[str, float] | None:
    """Totals of the standard event counters of one instance, or None if it does not answer."""
    try:
        with urllib.request.urlopen(f"http://{endpoint}/metrics", timeout=timeout) as response:
            text = response.read().decode()
    except (urllib.error.URLError, OSError):
        return None
    totals: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        if family.name.startswith("streamstash_events_"):
            kind = family.name.removeprefix("streamstash_events_")
            totals[kind] = sum(sample.value for sample in family.samples if sample.name.endswith("_total"))
    return totals


async def collect_status(config: PipelineConfig, endpoints: dict[str, list[str]]) -> PipelineStatus:
    prefix_groups = {service: consumer_group(config.kafka, service) for service in names.SERVICES}
    services: list[ServiceStatus] = []
    async with OffsetReader(config.kafka) as reader:
        for service, topics in consumed_topics(config).items():
            status = ServiceStatus(service=service, instances=None, endpoints=endpoints.get(service, []))
            if topics:
                status.instances = await reader.group_members(prefix_groups[service])
                for topic in topics:
                    for partition in await reader.lag(prefix_groups[service], topic):
                        status.lag_by_partition[f"{topic}/{partition.partition}"] = partition.lag
                        status.lag += partition.lag
            services.append(status)
        dlq_ends = await reader.end_offsets(config.kafka.topics.dlq)
        dlq_starts = await reader.beginning_offsets(config.kafka.topics.dlq)
        raw_ends = await reader.end_offsets(config.kafka.topics.raw)
    for status in services:
        scraped = [
            totals
            for totals in (
                await asyncio.gather(*(asyncio.to_thread(scrape_totals, endpoint) for endpoint in status.endpoints))
            )
            if totals is not None
        ]
        if scraped:
            if status.instances is None:
                status.instances = len(scraped)
            status.events_in = sum(t.get("received", 0.0) for t in scraped)
            status.events_out = sum(t.get("sent", 0.0) for t in scraped)
            status.events_failed = sum(t.get("failed", 0.0) for t in scraped)
            status.events_dropped = sum(t.get("dropped", 0.0) for t in scraped)
            status.events_lost = sum(t.get("lost", 0.0) for t in scraped)
    return PipelineStatus(
        taken_at=time.time(),
        services=services,
        dlq_records=sum(dlq_ends.values()) - sum(dlq_starts.get(p, 0) for p in dlq_ends),
        raw_records=sum(raw_ends.values()),
    )


def rate(now: float | None, before: float | None, seconds: float) -> float | None:
    if now is None or before is None or seconds <= 0:
        return None
    return max(0.0, (now - before) / seconds)
