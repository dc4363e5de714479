"""The search engine as the indexer and `replay` see it: one small interface, two clients behind it.

Elasticsearch is served by the official ``elasticsearch`` client (:mod:`streamstash.search.elastic`),
OpenSearch by ``opensearch-py`` (:mod:`streamstash.search.opensearch`): the official client refuses to
talk to anything that does not answer as Elasticsearch (its product check), and each client raises its
own exceptions. Everything above this module (bulk retries and the DLQ, templates, aliases) is written
once against :class:`SearchEngine` and the two errors below.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

ELASTICSEARCH = "elasticsearch"
OPENSEARCH = "opensearch"
DISTRIBUTIONS = (ELASTICSEARCH, OPENSEARCH)
PRODUCT_NAMES = {ELASTICSEARCH: "Elasticsearch", OPENSEARCH: "OpenSearch"}


class SearchError(Exception):
    """A request the search engine did not carry out."""


class SearchApiError(SearchError):
    """The engine answered with an HTTP error status (429, 5xx, 4xx)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class SearchConnectionError(SearchError):
    """No answer: connection refused or reset, timeout, TLS failure."""


class WrongProductError(SearchError):
    """The hosts run another product than ``elasticsearch.distribution`` says: no retry can help."""


class SearchEngine(Protocol):
    """What streamstash asks of Elasticsearch or OpenSearch."""

    distribution: str

    async def verify(self) -> dict[str, Any]:
        """``GET /``: raises WrongProductError if the hosts run the other product; their version facts."""

    async def bulk(self, body: bytes, filter_path: Sequence[str]) -> dict[str, Any]:
        """``POST /_bulk`` with an NDJSON body; the response's (filtered) body."""

    async def put_index_template(self, name: str, body: dict[str, Any], legacy: bool = False) -> None:
        """``PUT /_index_template/<name>`` (composable templates: Elasticsearch 7.8+, every OpenSearch), or with
        ``legacy`` ``PUT /_template/<name>`` (the legacy templates of Logstash's template files)."""

    async def template_exists(self, name: str, legacy: bool = False) -> bool:
        """Whether a composable (``legacy``: legacy) template of that name exists."""

    async def ping(self) -> bool:
        """True if the engine answers ``HEAD /``; never raises."""

    async def alias_indices(self, alias: str) -> list[str]:
        """The indices ``alias`` points at; empty if there is no such alias."""

    async def update_aliases(self, actions: list[dict[str, Any]]) -> None:
        """``POST /_aliases``: the actions apply atomically."""

    async def close(self) -> None: ...


def wrong_product_message(hosts: Sequence[str], expected: str, found: str) -> str:
    other = OPENSEARCH if expected == ELASTICSEARCH else ELASTICSEARCH
    return (
        f"{', '.join(hosts)} answered as {found}, not {PRODUCT_NAMES[expected]}: set "
        f"`elasticsearch.distribution: {other}` (or --elasticsearch-distribution {other}) if it runs "
        f"{PRODUCT_NAMES[other]}"
    )
