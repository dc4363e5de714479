"""Bulk writes that read every item's result: retry 429/5xx with backoff, dead-letter 4xx, never lose."""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass, field

import orjson
from elasticsearch import AsyncElasticsearch
from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import ConnectionTimeout
from elasticsearch import ApiError

from streamstash.services.indexer.documents import Action

log = logging.getLogger(__name__)

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
MAX_BACKOFF_S = 30.0


@dataclass(slots=True)
class BulkOutcome:
    indexed: int = 0
    rejected: list[tuple[Action, str]] = field(default_factory=list)  # (action, Elasticsearch's reason)
    retries: int = 0


def encode_bulk_body(actions: list[Action]) -> bytes:
    lines = []
    for action in actions:
        lines.append(orjson.dumps(action.bulk_header()))
        lines.append(orjson.dumps(action.document, default=str))
    return b"\n".join(lines) + b"\n"


def backoff_delay(attempt: int) -> float:
    """Exponential backoff with full jitter, capped."""
    return random.uniform(0, min(MAX_BACKOFF_S, 0.1 * 2**attempt))


class BulkWriter:
    def __init__(self, client: AsyncElasticsearch, on_retry: callable | None = None) -> None:  # type: ignore[valid-type]
        self.client = client
        self.on_retry = on_retry
        self.available = True

    async def write(self, actions: list[Action], stop: asyncio.Event | None = None) -> BulkOutcome:
        """Write until every action is either acknowledged or rejected for good."""
        outcome = BulkOutcome()
        todo = actions
        attempt = 0
        while todo:
            try:
                response = await self.client.bulk(operations=encode_bulk_body(todo))
            except (TransportConnectionError, ConnectionTimeout) as exc:
                self.available = False
                attempt += 1
                outcome.retries += 1
                await self._wait(attempt, f"connection: {exc}", len(todo))
                continue
            except ApiError as exc:
                if exc.meta.status in RETRYABLE_STATUS:
                    attempt += 1
                    outcome.retries += 1
                    await self._wait(attempt, f"status {exc.meta.status}", len(todo))
                    continue
                raise
            self.available = True
            retry: list[Action] = []
            for action, item in zip(todo, response["items"], strict=True):
                result = item.get("index") or next(iter(item.values()))
                status = result.get("status", 500)
                if status < 300:
                    outcome.indexed += 1
                elif status in RETRYABLE_STATUS:
                    retry.append(action)
                else:
                    outcome.rejected.append((action, _reason(result)))
            todo = retry
            if todo:
                attempt += 1
                outcome.retries += 1
                await self._wait(attempt, "items throttled or failed", len(todo))
        return outcome

    async def _wait(self, attempt: int, why: str, documents: int) -> None:
        delay = backoff_delay(attempt)
        log.warning("bulk request will be retried", extra={"attempt": attempt, "reason": why,
                    "documents": documents, "retry_in_s": round(delay, 2)})
        if self.on_retry is not None:
            self.on_retry(documents)
        await asyncio.sleep(delay)


def _reason(result: dict) -> str:
    error = result.get("error")
    if isinstance(error, dict):
        return f"{error.get('type', 'error')}: {error.get('reason', '')}"
    return str(error or f"status {result.get('status')}")
