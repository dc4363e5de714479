from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from streamstash.events.envelope import Event, Source
from streamstash.services.indexer.bulk import (
    BulkWriter,
    ItemResult,
    RetryPolicy,
    classify_item,
    error_reason,
    is_retryable_status,
)
from streamstash.services.indexer.documents import OP_CREATE, OP_INDEX, Action, DocumentBuilder, IndexNamer

MAPPING_ERROR = {
    "status": 400,
    "error": {
        "type": "document_parsing_exception",
        "reason": "[1:13] failed to parse field [response] of type [integer] in document with id 'b'",
        "caused_by": {"type": "illegal_argument_exception", "reason": 'For input string: "abc"'},
    },
}
CONFLICT = {
    "status": 409,
    "error": {"type": "version_conflict_engine_exception", "reason": "[a]: version conflict, document already exists"},
}


@pytest.mark.parametrize(
    ("op_type", "result", "expected"),
    [
        (OP_INDEX, {"status": 201, "result": "created"}, ItemResult.CREATED),
        (OP_INDEX, {"status": 200, "result": "updated"}, ItemResult.UPDATED),
        (OP_CREATE, {"status": 201, "result": "created"}, ItemResult.CREATED),
        (OP_CREATE, CONFLICT, ItemResult.ALREADY_INDEXED),
        (OP_INDEX, CONFLICT, ItemResult.REJECTED),  # `index` never conflicts unless versions are in play
        (OP_INDEX, {"status": 429, "error": {"type": "es_rejected_execution_exception"}}, ItemResult.RETRY),
        (OP_INDEX, {"status": 503, "error": {"type": "unavailable_shards_exception"}}, ItemResult.RETRY),
        (OP_INDEX, {"status": 500, "error": {"type": "internal"}}, ItemResult.RETRY),
        (OP_INDEX, MAPPING_ERROR, ItemResult.REJECTED),
        (OP_INDEX, {"status": 404, "error": {"type": "index_not_found_exception"}}, ItemResult.REJECTED),
        (OP_CREATE, {"status": 409, "error": {"type": "other_conflict"}}, ItemResult.REJECTED),
    ],
)
def test_classify_item(op_type: str, result: dict, expected: ItemResult) -> None:
    assert classify_item(op_type, result)[0] is expected


def test_rejections_carry_elasticsearch_reason_and_cause() -> None:
    kind, reason = classify_item(OP_INDEX, MAPPING_ERROR)
    assert kind is ItemResult.REJECTED
    assert reason is not None
    assert reason.startswith("document_parsing_exception: [1:13] failed to parse field [response]")
    assert 'caused by illegal_argument_exception: For input string: "abc"' in reason


def test_successes_carry_no_reason() -> None:
    assert classify_item(OP_CREATE, CONFLICT)[1] is None
    assert classify_item(OP_INDEX, {"status": 201, "result": "created"})[1] is None


def test_error_reason_of_a_bare_error() -> None:
    assert error_reason({"status": 400, "error": "broken"}) == "broken"
    assert error_reason({"status": 400}) == "status 400"


@pytest.mark.parametrize(
    ("status", "retryable"),
    [(429, True), (500, True), (502, True), (503, True), (504, True), (400, False), (404, False), (409, False)],
)
def test_retryable_statuses(status: int, retryable: bool) -> None:
    assert is_retryable_status(status) is retryable


def test_backoff_is_exponential_with_full_jitter_and_capped() -> None:
    policy = RetryPolicy(initial_s=0.1, max_s=2.0)
    for attempt, ceiling in ((1, 0.1), (2, 0.2), (3, 0.4), (5, 1.6), (6, 2.0), (30, 2.0)):
        delays = [policy.delay(attempt) for _ in range(300)]
        assert all(0 <= delay <= ceiling for delay in delays)
        assert max(delays) > ceiling * 0.8  # full jitter spans the whole range
        assert min(delays) < ceiling * 0.2


class AnsweringEngine:
    """Answers each bulk request with the next list of item results."""

    def __init__(self, *answers: list[dict[str, Any]]) -> None:
        self.answers = list(answers)
        self.bodies: list[bytes] = []

    async def bulk(self, body: bytes, filter_path: Sequence[str]) -> dict[str, Any]:
        self.bodies.append(body)
        return {"items": self.answers.pop(0)}


def actions(op_type: str, count: int) -> list[Action]:
    builder = DocumentBuilder(IndexNamer("i", "f"), op_type=op_type)
    return [builder.action_for(Event(message="m", source=Source(kind="file"), id=f"id-{n}")) for n in range(count)]


async def test_a_requests_items_are_settled_counted_retried_and_rejected_as_classified() -> None:
    todo = actions(OP_CREATE, 7)
    first = [
        {"create": {"status": 201, "result": "created"}},
        {"create": {"status": 200, "result": "updated"}},
        {"create": CONFLICT},
        {"create": {"status": 429, "error": {"type": "es_rejected_execution_exception"}}},
        {"create": MAPPING_ERROR},
        {"create": {"status": "201", "result": "created"}},  # not an int: read as classify_item reads it
        {"create": {"status": 201, "result": "created"}},
    ]
    engine = AnsweringEngine(first, [{"create": {"status": 201, "result": "created"}}])
    outcome = await BulkWriter(engine, RetryPolicy(initial_s=0, max_s=0)).write(todo)  # type: ignore[arg-type]
    assert [action.id for action in outcome.settled] == ["id-0", "id-1", "id-2", "id-5", "id-6", "id-3"]
    assert [action.id for action, _ in outcome.rejected] == ["id-4"]
    assert outcome.results == {
        ItemResult.CREATED: 4,
        ItemResult.UPDATED: 1,
        ItemResult.ALREADY_INDEXED: 1,
        ItemResult.RETRY: 1,
        ItemResult.REJECTED: 1,
    }
    assert engine.bodies[1] == todo[3].body and todo[3].retries == 1
