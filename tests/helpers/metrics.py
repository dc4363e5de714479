"""One check for the metrics every service exposes (received, sent, errors, dropped)."""

from __future__ import annotations

import urllib.request

from prometheus_client.parser import text_string_to_metric_families

REQUIRED_FAMILIES = ("streamstash_events_received", "streamstash_events_sent", "streamstash_events_failed",
                     "streamstash_events_dropped")


def scrape(port: int, host: str = "127.0.0.1") -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=5) as response:  # noqa: S310
        text = response.read().decode()
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        samples.setdefault(f"family:{family.name}", {})  # declared even before its first sample
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def total(samples: dict, name: str, **labels: str) -> float:
    return sum(value for key, value in samples.get(name, {}).items()
               if all((label, wanted) in key for label, wanted in labels.items()))


def assert_service_metrics(port: int, service: str, received: int | None = None, sent: int | None = None,
                           failed: int | None = None, dropped: int | None = None) -> dict:
    """Check the standard families exist for ``service`` and, where given, their totals."""
    samples = scrape(port)
    for family in REQUIRED_FAMILIES:
        assert f"family:{family}" in samples, f"{service}: {family} missing"
    for name, expected in (("received", received), ("sent", sent), ("failed", failed), ("dropped", dropped)):
        if expected is not None:
            got = total(samples, f"streamstash_events_{name}_total", service=service)
            assert got == expected, f"{service}: events_{name} = {got}, expected {expected}"
    return samples
