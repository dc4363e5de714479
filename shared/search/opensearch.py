"""OpenSearch behind :class:`~streamstash.search.engine.SearchEngine`, through opensearch-py's async client.

opensearch-py raises ``TransportError`` for an HTTP error status (``status_code`` an int) and its subclass
``ConnectionError`` (``status_code`` "N/A") when no answer came; both are mapped to this package's errors.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import orjson
from opensearchpy import AsyncOpenSearch
from opensearchpy.exceptions import ConnectionError as OpenSearchConnectionError
from opensearchpy.exceptions import TransportError
from opensearchpy.serializer import JSONSerializer

from streamstash.search.engine import (
    OPENSEARCH,
    SearchApiError,
    SearchConnectionError,
    WrongProductError,
    wrong_product_message,
)

T = TypeVar("T")
NOT_FOUND = 404


class OrjsonSerializer(JSONSerializer):
    """Bulk responses hold one item per document: the standard library's json is the slow part of reading them."""

    def loads(self, s: str | bytes) -> Any:
        return orjson.loads(s)

    def dumps(self, data: Any) -> Any:
        if isinstance(data, str | bytes):
            return data
        return orjson.dumps(data, default=self.default).decode()


class OpenSearchEngine:
    distribution = OPENSEARCH

    def __init__(self, client: AsyncOpenSearch, hosts: Sequence[str] = ()) -> None:
        self.client = client
        self.hosts = list(hosts)

    async def _call(self, request: Callable[[], Awaitable[T]]) -> T:
        try:
            return await request()
        except OpenSearchConnectionError as exc:
            raise SearchConnectionError(str(exc)) from exc
        except TransportError as exc:
            status = exc.status_code
            if not isinstance(status, int):
                raise SearchConnectionError(str(exc)) from exc
            raise SearchApiError(status, str(exc)) from exc

    async def verify(self) -> dict[str, Any]:
        info = await self._call(self.client.info)
        version = dict(info.get("version") or {})
        found = str(version.get("distribution") or "elasticsearch")  # Elasticsearch names no distribution
        if found != OPENSEARCH:
            raise WrongProductError(wrong_product_message(self.hosts, OPENSEARCH, found))
        return version

    async def bulk(self, body: bytes, filter_path: Sequence[str]) -> dict[str, Any]:
        response = await self._call(lambda: self.client.bulk(body=body, params={"filter_path": ",".join(filter_path)}))
        return dict(response)

    async def put_index_template(self, name: str, body: dict[str, Any], legacy: bool = False) -> None:
        indices = self.client.indices
        put = indices.put_template if legacy else indices.put_index_template
        await self._call(lambda: put(name=name, body=body))

    async def template_exists(self, name: str, legacy: bool = False) -> bool:
        indices = self.client.indices
        exists = indices.exists_template if legacy else indices.exists_index_template
        return bool(await self._call(lambda: exists(name=name)))

    async def ping(self) -> bool:
        try:
            return bool(await self.client.ping())
        except Exception:  # noqa: BLE001 - ping reports most failures as False; anything else is "down" too
            return False

    async def alias_indices(self, alias: str) -> list[str]:
        try:
            response = await self._call(lambda: self.client.indices.get_alias(name=alias))
        except SearchApiError as exc:
            if exc.status == NOT_FOUND:
                return []
            raise
        return sorted(response)

    async def update_aliases(self, actions: list[dict[str, Any]]) -> None:
        await self._call(lambda: self.client.indices.update_aliases(body={"actions": actions}))

    async def close(self) -> None:
        await self.client.close()
