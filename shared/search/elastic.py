"""Elasticsearch behind :class:`~streamstash.search.engine.SearchEngine`, through the official async client."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from elastic_transport import TransportError
from elasticsearch import ApiError, AsyncElasticsearch, UnsupportedProductError

from streamstash.search.engine import (
    ELASTICSEARCH,
    SearchApiError,
    SearchConnectionError,
    WrongProductError,
    wrong_product_message,
)

T = TypeVar("T")
NOT_FOUND = 404


class ElasticsearchEngine:
    distribution = ELASTICSEARCH

    def __init__(self, client: AsyncElasticsearch, hosts: Sequence[str] = ()) -> None:
        self.client = client
        self.hosts = list(hosts)

    async def _call(self, request: Callable[[], Awaitable[T]]) -> T:
        try:
            return await request()
        except UnsupportedProductError as exc:
            # The client's product check: the answer lacked `X-Elastic-Product: Elasticsearch`.
            raise WrongProductError(
                wrong_product_message(self.hosts, ELASTICSEARCH, "another product (no X-Elastic-Product header)")
            ) from exc
        except ApiError as exc:
            raise SearchApiError(exc.meta.status, str(exc)) from exc
        except TransportError as exc:
            raise SearchConnectionError(str(exc)) from exc

    async def verify(self) -> dict[str, Any]:
        response = await self._call(self.client.info)
        return dict(response.body.get("version") or {})

    async def bulk(self, body: bytes, filter_path: Sequence[str]) -> dict[str, Any]:
        # Pre-encoded NDJSON goes out as it is; the client's type names only lists of actions.
        response = await self._call(
            lambda: self.client.bulk(operations=body, filter_path=list(filter_path))  # type: ignore[arg-type]
        )
        return dict(response.body)

    async def put_index_template(self, name: str, body: dict[str, Any], legacy: bool = False) -> None:
        indices = self.client.indices
        put = indices.put_template if legacy else indices.put_index_template
        # body=, not **body: a template's `_meta` is no keyword argument of the client.
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
        return sorted(response.body)

    async def update_aliases(self, actions: list[dict[str, Any]]) -> None:
        await self._call(lambda: self.client.indices.update_aliases(actions=actions))

    async def close(self) -> None:
        await self.client.close()
