"""Per-event cost of the enrichment filters (geoip, useragent, translate, csv, fingerprint, urldecode, syslog_pri).

    python bench/filters.py                  # 100,000 events per filter, best of 3
    python bench/filters.py --events 20000 --distinct 5000

Each filter runs on working dicts shaped like the parser's, with `--distinct` different values (addresses, user
agents, keys) drawn with a skew (a few values are most of the traffic, as in real logs), so the caches see a
realistic hit rate; `--distinct 0` makes every value new (the uncached cost). The geoip database is written by
the test helper (a few networks): lookups in a real GeoLite2 City file cost about the same (a memory-mapped
tree walk). Prints µs per event; the parser's budget for a whole chain is tens of µs per line.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from streamstash.config.parser import FilterEntry
from streamstash.filters.registry import build_filter
from tests.helpers.geoip import write_city_database

AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.4389.90 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 15_{v} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "Mozilla/5.0 (X11; Linux x86_64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0",
    "curl/7.{v}.0",
]


def skewed(count: int, distinct: int, make: Callable[[int], str]) -> list[str]:
    rng = random.Random(7)
    if distinct == 0:
        return [make(n) for n in range(count)]
    return [make(min(int(rng.paretovariate(1.2)) - 1, distinct - 1)) for _ in range(count)]


def cases(events: int, distinct: int, directory: Path) -> dict[str, tuple[dict[str, Any], Callable[[int], dict]]]:
    database = write_city_database(directory / "City.mmdb")
    addresses = skewed(
        events, distinct, lambda n: f"81.2.69.{n % 256}" if n % 3 else f"10.{n // 256 % 256}.{n % 256}.1"
    )
    agents = skewed(events, distinct, lambda n: AGENTS[n % 4].format(v=n // 4))
    keys = skewed(events, distinct, lambda n: str(n % 600))
    dictionary = {str(code): f"status {code}" for code in range(100, 600)}
    return {
        "geoip": ({"source": "clientip", "database": str(database)}, lambda n: {"clientip": addresses[n]}),
        "useragent": ({"source": "agent", "target": "ua"}, lambda n: {"agent": agents[n]}),
        "translate (exact)": ({"source": "code", "dictionary": dictionary}, lambda n: {"code": keys[n]}),
        "translate (regex)": (
            {"source": "code", "regex": True, "dictionary": {rf"^{d}\d\d$": f"{d}xx" for d in range(1, 6)}},
            lambda n: {"code": keys[n]},
        ),
        "csv": (
            {"columns": ["time", "user", "action", "bytes", "ok"], "convert": {"bytes": "integer"}},
            lambda n: {"message": f'2024-05-01T10:00:00Z,user{n % 97},"login, web",{n},true'},
        ),
        "fingerprint (SHA256)": ({"method": "SHA256", "source": ["message"]}, lambda n: {"message": f"line {n}"}),
        "fingerprint (MURMUR3)": ({"method": "MURMUR3", "source": ["message"]}, lambda n: {"message": f"line {n}"}),
        "urldecode": ({"field": "request"}, lambda n: {"request": f"/search?q=caf%C3%A9+{n}&x=a%20b"}),
        "syslog_pri": ({}, lambda n: {"syslog_pri": str(n % 192)}),
    }


def measure(kind: str, settings: dict[str, Any], make: Callable[[int], dict], events: int, repeat: int) -> float:
    entry = FilterEntry.model_validate({kind.split(" ", maxsplit=1)[0]: settings})
    best = float("inf")
    for _ in range(repeat):
        the_filter = build_filter(entry.kind, entry.settings)  # fresh caches each round
        docs = [{**make(n), "tags": []} for n in range(events)]
        started = time.perf_counter()
        for doc in docs:
            the_filter.apply(doc)
        best = min(best, time.perf_counter() - started)
    return best / events * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--distinct", type=int, default=2000, help="different values per filter (0: all new)")
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        for name, (settings, make) in cases(options.events, options.distinct, Path(directory)).items():
            micros = measure(name, settings, make, options.events, options.repeat)
            print(f"{name:24} {micros:7.2f} µs/event")


if __name__ == "__main__":
    main()
