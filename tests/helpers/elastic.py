"""Reading what Elasticsearch (or OpenSearch) holds, for assertions.

Every call here is one that the Elasticsearch client and opensearch-py's take alike (a request body as
``body=``, query parameters as keywords), so the indexer's tests read either engine through the same code.
"""

from __future__ import annotations

from typing import Any

from elasticsearch import NotFoundError
from opensearchpy.exceptions import NotFoundError as OpenSearchNotFoundError

from tests.helpers.waiting import wait_until

NOT_FOUND = (NotFoundError, OpenSearchNotFoundError)
# elasticsearch.Elasticsearch or opensearchpy.OpenSearch: the calls below are the ones both take alike.
SearchClient = Any


def body(response: Any) -> Any:
    """A response's JSON: the Elasticsearch client wraps it (``.body``), opensearch-py returns it."""
    return getattr(response, "body", response)


def count(es: Any, index: str) -> int:
    try:
        es.indices.refresh(index=index)
        return int(es.count(index=index)["count"])
    except NOT_FOUND:
        return 0


def all_documents(es: Any, index: str, size: int = 10_000) -> list[dict[str, Any]]:
    es.indices.refresh(index=index)
    hits = es.search(index=index, body={"size": size, "query": {"match_all": {}}})["hits"]["hits"]
    return [{"_id": hit["_id"], **hit["_source"]} for hit in hits]


def wait_for_count(es: Any, index: str, expected: int, timeout: float = 90) -> int:
    """Wait until ``index`` holds at least ``expected`` documents; return the count."""
    return wait_until(
        lambda: (n := count(es, index)) >= expected and n,
        timeout=timeout,
        message=f"{index} did not reach {expected} documents",
    )


def document_versions(es: Any, index: str) -> dict[str, int]:
    """Every document id in ``index`` with its version (scroll: more than 10,000 documents)."""
    es.indices.refresh(index=index)
    versions: dict[str, int] = {}
    query = {"size": 5000, "version": True, "_source": False, "query": {"match_all": {}}}
    response = es.search(index=index, scroll="1m", body=query)
    while True:
        hits = response["hits"]["hits"]
        if not hits:
            break
        for hit in hits:
            assert hit["_id"] not in versions, f"id {hit['_id']} returned twice"
            versions[hit["_id"]] = hit["_version"]
        response = es.scroll(scroll_id=response["_scroll_id"], scroll="1m")
    return versions
