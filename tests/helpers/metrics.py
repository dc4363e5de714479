"""One check for the metrics every service exposes (received, sent, errors, dropped, batch latency, lag)."""

from __future__ import annotations

import contextlib
import json
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from streamstash import names
from streamstash.runtime.metrics import ServiceMetrics
from tests.helpers.waiting import wait_until

REQUIRED_FAMILIES = (
    "streamstash_events_received",
    "streamstash_events_sent",
    "streamstash_events_failed",
    "streamstash_events_dropped",
    "streamstash_events_lost",
    "streamstash_batch_seconds",
)
# Services that consume Kafka topics, so report their lag per assigned partition.
CONSUMER_SERVICES = (names.SERVICE_PARSER, names.SERVICE_AGGREGATOR, names.SERVICE_INDEXER)
LAG = "streamstash_consumer_lag"


def scrape(port: int, host: str = "127.0.0.1") -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=5) as response:
        return parse_samples(response.read().decode())


def parse_samples(text: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        samples.setdefault(f"family:{family.name}", {})  # declared even before its first sample
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def counted(metrics: ServiceMetrics, kind: str, **labels: str) -> float:
    """The total of ``streamstash_events_<kind>`` in an in-process registry, over matching labels."""
    return total(parse_samples(metrics.render().decode()), f"streamstash_events_{kind}_total", **labels)


def total(samples: dict, name: str, **labels: str) -> float:
    return sum(
        value
        for key, value in samples.get(name, {}).items()
        if all((label, wanted) in key for label, wanted in labels.items())
    )


def lag_by_partition(samples: dict, service: str) -> dict[tuple[str, str], float]:
    """(topic, partition) -> records behind, as one instance reports it."""
    return {
        (dict(key)["topic"], dict(key)["partition"]): value
        for key, value in samples.get(LAG, {}).items()
        if ("service", service) in key
    }


def missing_metrics(samples: dict, service: str) -> list[str]:
    """What ``service`` should show once it has handled a batch, and does not."""
    missing = [family for family in REQUIRED_FAMILIES if f"family:{family}" not in samples]
    if total(samples, "streamstash_batch_seconds_count", service=service) <= 0:
        missing.append("streamstash_batch_seconds: no batch timed")
    if service in CONSUMER_SERVICES and not lag_by_partition(samples, service):
        missing.append(f"{LAG}: no partition reported")
    return missing


def assert_service_metrics(
    port: int,
    service: str,
    received: int | None = None,
    sent: int | None = None,
    failed: int | None = None,
    dropped: int | None = None,
    wait_s: float = 20,
) -> dict:
    """Check the standard families exist for ``service`` (batch latency observed, lag per partition for
    consumers; given ``wait_s`` to appear, as lag is sampled periodically) and, where given, their totals."""
    with contextlib.suppress(AssertionError):  # reported below, with what is missing
        wait_until(lambda: not missing_metrics(scrape(port), service), timeout=wait_s)
    samples = scrape(port)
    missing = missing_metrics(samples, service)
    assert not missing, f"{service}: {missing}"
    for name, expected in (("received", received), ("sent", sent), ("failed", failed), ("dropped", dropped)):
        if expected is not None:
            got = total(samples, f"streamstash_events_{name}_total", service=service)
            assert got == expected, f"{service}: events_{name} = {got}, expected {expected}"
    return samples


def probe(port: int, path: str, host: str = "127.0.0.1") -> tuple[int, dict]:
    """Status code and JSON body of /healthz or /readyz (503 is an answer, not an error)."""
    try:
        with urllib.request.urlopen(f"http://{host}:{port}{path}", timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def ready(port: int) -> bool:
    """The service's /readyz answers 200: its consumers are assigned and Kafka is reachable."""
    return probe(port, "/readyz")[0] == 200
