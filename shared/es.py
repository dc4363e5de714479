"""The Elasticsearch client, built from settings; secrets stay inside SecretStr until this point."""

from __future__ import annotations

from typing import Any

from elasticsearch import AsyncElasticsearch

from streamstash.config.common import ElasticsearchSettings


def make_client(settings: ElasticsearchSettings, **overrides: Any) -> AsyncElasticsearch:
    if not settings.hosts:
        raise ValueError("elasticsearch.hosts is not set and no local stack was started")
    options: dict[str, Any] = {
        "hosts": settings.hosts,
        "request_timeout": settings.request_timeout_s,
        "verify_certs": settings.verify_certs,
        "retry_on_timeout": False,  # the indexer retries with its own backoff and accounting
        "max_retries": 0,
    }
    if settings.ca_file is not None:
        options["ca_certs"] = str(settings.ca_file)
    if settings.api_key is not None:
        options["api_key"] = settings.api_key.get_secret_value()
    elif settings.username is not None:
        password = settings.password.get_secret_value() if settings.password else ""
        options["basic_auth"] = (settings.username, password)
    options.update(overrides)
    return AsyncElasticsearch(**options)
