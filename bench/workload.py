"""The workload the benches share: Apache combined-format access lines, and the grok pattern that reads them."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from streamstash.config import PipelineConfig
from streamstash.config.common import BatchSettings
from streamstash.events.envelope import Batch, Event, Source, encode
from streamstash.events.inputfields import input_fields_for
from streamstash.filters import FilterChain
from streamstash.services.parser.logic import RecordParser

# COMBINEDAPACHELOG with the two numeric fields typed (bytes stays `(?:NUMBER|-)`, as in Logstash).
GROK_PATTERN = (
    r"%{IPORHOST:clientip} %{HTTPDUSER:ident} %{USER:auth} \[%{HTTPDATE:timestamp}\] "
    r'"(?:%{WORD:verb} %{NOTSPACE:request}(?: HTTP/%{NUMBER:httpversion})?|%{DATA:rawrequest})" '
    r"%{NUMBER:response:int} (?:%{NUMBER:bytes:int}|-) %{QS:referrer} %{QS:agent}"
)

# The parser's chain issue 16's targets name: grok COMBINEDAPACHELOG, mutate convert and date.
ACCESS_FILTERS: list[dict[str, Any]] = [
    {"grok": {"match": {"message": ["%{COMBINEDAPACHELOG}"]}}},
    {"mutate": {"convert": {"response": "integer", "bytes": "integer"}}},
    {"date": {"match": ["timestamp", "dd/MMM/yyyy:HH:mm:ss Z"]}},
]

VERBS = ["GET"] * 20 + ["POST"] * 4 + ["HEAD", "PUT", "DELETE", "OPTIONS"]
STATUSES = [200] * 30 + [304] * 5 + [301, 302, 404, 404, 403, 500, 503, 206, 204]
NO_BODY = {204, 304}
SEGMENTS = [
    "api",
    "v1",
    "v2",
    "users",
    "orders",
    "images",
    "static",
    "css",
    "js",
    "search",
    "blog",
    "2015",
    "presentations",
    "logstash-monitorama-2013",
    "kibana",
    "reset.css",
    "app.js",
    "favicon.ico",
    "feed",
]
EXTENSIONS = ["", "", ".html", ".png", ".jpg", ".js", ".css", ".json", ".xml"]
AGENTS = [
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_1) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/32.0.1700.77 Safari/537.36"
    ),
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.1 Mobile/15E148 Safari/604.1"
    ),
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "curl/8.4.0",
    "python-requests/2.31.0",
    "-",
]
REFERRERS = [
    "-",
    "-",
    "https://www.google.com/",
    "http://semicomplete.com/presentations/logstash-monitorama-2013/",
    "https://example.org/blog/2015/01/04/index.html",
    "https://duckduckgo.com/?q=logstash+grok",
]
HOSTS = ["crawl-66-249-73-135.googlebot.com", "proxy.example.net", "host-12.dsl.example.com"]
USERS = ["-"] * 30 + ["alice", "bob", "svc-backup"]


def generate_lines(count: int, seed: int = 42) -> list[str]:
    """`count` realistic combined-format lines; about 6% have `-` bytes, some hostnames and IPv6 clients."""
    rng = random.Random(seed)
    start = datetime(2015, 1, 4, 5, 13, 42, tzinfo=UTC)
    lines = []
    for index in range(count):
        roll = rng.random()
        if roll < 0.03:
            client = rng.choice(HOSTS)
        elif roll < 0.05:
            client = f"2001:db8::{rng.randrange(1, 0xFFFF):x}"
        else:
            client = f"{rng.randrange(1, 224)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        when = start + timedelta(seconds=index // 3 + rng.randrange(3))
        path = "/" + "/".join(rng.choice(SEGMENTS) for _ in range(rng.randrange(1, 5))) + rng.choice(EXTENSIONS)
        if rng.random() < 0.2:
            path += f"?page={rng.randrange(1, 50)}&sort={rng.choice(['asc', 'desc'])}"
        status = rng.choice(STATUSES)
        size = "-" if status in NO_BODY or rng.random() < 0.02 else str(rng.randrange(0, 500_000))
        version = rng.choice(["1.1", "1.1", "1.1", "1.0", "2.0"])
        lines.append(
            f"{client} - {rng.choice(USERS)} [{when.strftime('%d/%b/%Y:%H:%M:%S')} +0000] "
            f'"{rng.choice(VERBS)} {path} HTTP/{version}" {status} {size} '
            f'"{rng.choice(REFERRERS)}" "{rng.choice(AGENTS)}"'
        )
    return lines


RECORD_EVENTS = BatchSettings().max_events  # events per Kafka record, as the collector batches them by default


def parsed_values(
    config: PipelineConfig, lines: list[str], path: str = "/var/log/access.log", first_offset: int = 0
) -> list[bytes]:
    """`logs.parsed` record values as the parser writes them: ``lines`` of the file ``path``, RECORD_EVENTS to
    a `logs.raw` record from offset ``first_offset`` on, through ``config``'s filters."""
    parser = RecordParser(FilterChain(config.filters), input_fields_for(config))
    source = Source(kind="file", host="bench-host", path=path, offset=0)
    values = []
    for number, start in enumerate(range(0, len(lines), RECORD_EVENTS)):
        raw = Batch(events=[Event(message=line, source=source) for line in lines[start : start + RECORD_EVENTS]])
        values.append(
            encode(Batch(events=parser.parse_record(encode(raw), "logs.raw", 0, first_offset + number).parsed))
        )
    return values
