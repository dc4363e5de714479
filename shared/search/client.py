"""The search clients, built from settings; secrets stay inside SecretStr until this point.

:func:`make_engine` is what services use: Elasticsearch or OpenSearch (``elasticsearch.distribution``)
behind one interface (:mod:`streamstash.search.engine`).

Nothing here logs a secret: :func:`describe` is what services log about their connection (hosts with
any `user:password@` removed, which kind of auth, TLS options) and it never reads a secret's value.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from elasticsearch import AsyncElasticsearch
from elasticsearch.serializer import OrjsonSerializer

from streamstash.config.common import ElasticsearchSettings
from streamstash.search.engine import OPENSEARCH, SearchEngine

if TYPE_CHECKING:
    from opensearchpy import AsyncOpenSearch

log = logging.getLogger(__name__)


def make_engine(settings: ElasticsearchSettings) -> SearchEngine:
    """The engine ``settings.distribution`` names, with its client."""
    if settings.distribution == OPENSEARCH:
        from streamstash.search.opensearch import OpenSearchEngine

        return OpenSearchEngine(make_opensearch_client(settings), settings.hosts or [])
    from streamstash.search.elastic import ElasticsearchEngine

    return ElasticsearchEngine(make_client(settings), settings.hosts or [])


def _require_hosts(settings: ElasticsearchSettings) -> None:
    if not settings.hosts:
        raise ValueError("elasticsearch.hosts is not set and no local stack was started")


def make_opensearch_client(settings: ElasticsearchSettings, **overrides: Any) -> AsyncOpenSearch:
    """opensearch-py's async client: basic auth (the security plugin's), TLS from the URLs' scheme."""
    from opensearchpy import AsyncOpenSearch

    from streamstash.search.opensearch import OrjsonSerializer as OpenSearchOrjson

    _require_hosts(settings)
    if settings.api_key is not None:
        raise ValueError("OpenSearch has no API keys: use elasticsearch.username and password")
    options: dict[str, Any] = {
        "hosts": settings.hosts,
        "timeout": settings.request_timeout_s,
        "verify_certs": settings.verify_certs,
        "retry_on_timeout": False,  # the indexer retries with its own backoff and accounting
        "max_retries": 0,
        "serializer": OpenSearchOrjson(),
    }
    if not settings.verify_certs:
        options["ssl_show_warn"] = False
    if settings.ca_file is not None:
        options["ca_certs"] = str(settings.ca_file)
    if settings.username is not None:
        password = settings.password.get_secret_value() if settings.password else ""
        options["http_auth"] = (settings.username, password)
    options.update(overrides)
    return AsyncOpenSearch(**options)


def make_client(settings: ElasticsearchSettings, **overrides: Any) -> AsyncElasticsearch:
    """The official Elasticsearch async client (it refuses to talk to OpenSearch)."""
    _require_hosts(settings)
    options: dict[str, Any] = {
        "hosts": settings.hosts,
        "request_timeout": settings.request_timeout_s,
        "verify_certs": settings.verify_certs,
        "retry_on_timeout": False,  # the indexer retries with its own backoff and accounting
        "max_retries": 0,
        # Bulk responses hold one item per document; the standard library's json took a tenth of the indexer's CPU.
        "serializer": OrjsonSerializer(),
    }
    if not settings.verify_certs:
        options["ssl_show_warn"] = False  # said once, by describe(), not on every request
    if settings.ca_file is not None:
        options["ca_certs"] = str(settings.ca_file)
    if settings.api_key is not None:
        options["api_key"] = settings.api_key.get_secret_value()
    elif settings.username is not None:
        password = settings.password.get_secret_value() if settings.password else ""
        options["basic_auth"] = (settings.username, password)
    options.update(overrides)
    return AsyncElasticsearch(**options)


def redact_url(url: str) -> str:
    """`https://user:secret@es:9200` -> `https://es:9200`: hosts may carry credentials."""
    try:
        parts = urlsplit(url if "://" in url else f"//{url}")
    except ValueError:
        return "<unparsable host>"
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    redacted = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return redacted if "://" in url else redacted.removeprefix("//")


def describe(settings: ElasticsearchSettings) -> dict[str, Any]:
    """Loggable facts about the connection; never a password or an API key."""
    if settings.api_key is not None:
        auth = "api_key"
    elif settings.username is not None:
        auth = "basic"
    else:
        auth = "none"
    return {
        "distribution": settings.distribution,
        "hosts": [redact_url(host) for host in settings.hosts or []],
        "auth": auth,
        "user": settings.username if auth == "basic" else None,
        "verify_certs": settings.verify_certs,
        "ca_file": str(settings.ca_file) if settings.ca_file else None,
    }


def log_connection(settings: ElasticsearchSettings, service: str) -> None:
    facts = describe(settings)
    log.info("elasticsearch connection", extra={"service": service, **{f"es_{k}": v for k, v in facts.items()}})
    if not settings.verify_certs:
        log.warning(
            "TLS certificate verification is off for the search engine",
            extra={"service": service, "distribution": settings.distribution},
        )
