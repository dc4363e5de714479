"""Hostile lines through the real collector, parser and indexer: each becomes a tagged document or a dead
letter with a reason, and no service dies."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from streamstash import names
from tests.helpers.elastic import all_documents, wait_for_count
from tests.helpers.kafka import read_dead_letters
from tests.helpers.pipelines import write_pipeline
from tests.helpers.processes import start_services, stop_all

pytestmark = pytest.mark.integration

GOOD = b'83.149.9.216 - - [04/Jan/2015:05:13:42 +0000] "GET /a HTTP/1.1" 200 12 "-" "curl/8"'
HOSTILE = {
    "invalid_utf8": GOOD.replace(b"/a", b"/\xff\xfe\xc3("),
    "nul_bytes": GOOD.replace(b"curl/8", b"cu\x00rl"),
    "ansi_escapes": GOOD.replace(b"curl/8", b"\x1b[31mred\x1b[0m"),
    "huge_line": GOOD.replace(b"/a", b"/" + b"x" * (5 * 1024 * 1024)),
    "backtracking": b"a" * 5000 + b"!",
    "not_a_log_line": b'{"deeply": ' * 2000 + b"1" + b"}" * 2000,
}


def test_hostile_lines_are_tagged_or_dead_lettered(servers, es: Elasticsearch, tmp_path: Path, log_dir: Path) -> None:
    log_file = tmp_path / "hostile.log"
    log_file.write_bytes(b"\n".join([GOOD, *HOSTILE.values(), GOOD]) + b"\n")
    pipeline = write_pipeline(
        tmp_path,
        {
            "inputs": [
                {"type": "file", "paths": [str(log_file)], "start_position": "beginning", "max_line_bytes": 1024 * 1024}
            ],
            "filters": [
                # The second pattern backtracks badly on long runs of "a" without a match: the time budget cuts it.
                {"grok": {"match": {"message": ["%{COMBINEDAPACHELOG}", "^(a|aa)+$"]}, "timeout_ms": 200}},
            ],
        },
    )
    services = start_services(
        ["collector", "parser", "indexer"], pipeline.path, servers.kafka, servers.elasticsearch, log_dir
    )
    try:
        # GOOD x2, invalid_utf8, nul_bytes, ansi_escapes parse; huge_line is truncated (tagged) then fails the
        # pattern (its closing quote was cut), backtracking times out, not_a_log_line does not match.
        wait_for_count(es, pipeline.index, 5, timeout=120)
        letters = read_dead_letters(servers.kafka, pipeline.topics.dlq, expected=3, timeout=60)
        assert all(process.alive() for process in services), "a service died on hostile input"
    finally:
        stop_all(services)

    documents = all_documents(es, pipeline.index)
    by_agent = {doc["agent"]: doc for doc in documents}
    assert '"cu\x00rl"' in by_agent and '"\x1b[31mred\x1b[0m"' in by_agent
    invalid = next(doc for doc in documents if names.TAG_INVALID_UTF8 in doc.get("tags", []))
    assert "\ufffd" in invalid["request"]
    assert base64.b64decode(invalid["raw_b64"]) == HOSTILE["invalid_utf8"]

    reasons = {letter.event.message[:20]: (letter.reason, letter.event.tags) for letter in letters}
    huge = next(value for key, value in reasons.items() if key.startswith("83.149"))
    assert names.TAG_TRUNCATED in huge[1]
    backtracking = reasons["a" * 20]
    assert names.TAG_GROK_TIMEOUT in backtracking[1] and "ms" in backtracking[0]
    assert any(key.startswith('{"deeply"') for key in reasons)
