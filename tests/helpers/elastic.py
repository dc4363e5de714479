"""Reading what Elasticsearch holds, for assertions."""

from __future__ import annotations

from typing import Any

from elasticsearch import Elasticsearch, NotFoundError

from tests.helpers.waiting import wait_until


def count(es: Elasticsearch, index: str) -> int:
    try:
        es.indices.refresh(index=index)
        return int(es.count(index=index)["count"])
    except NotFoundError:
        return 0


def all_documents(es: Elasticsearch, index: str, size: int = 10_000) -> list[dict[str, Any]]:
    es.indices.refresh(index=index)
    hits = es.search(index=index, size=size, query={"match_all": {}})["hits"]["hits"]
    return [{"_id": hit["_id"], **hit["_source"]} for hit in hits]


def wait_for_count(es: Elasticsearch, index: str, expected: int, timeout: float = 90) -> int:
    """Wait until ``index`` holds at least ``expected`` documents; return the count."""
    return wait_until(
        lambda: (n := count(es, index)) >= expected and n,
        timeout=timeout,
        message=f"{index} did not reach {expected} documents",
    )
