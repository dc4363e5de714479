"""The index template streamstash installs: dates as dates, numbers as numbers, strings as keywords.

Strings are `keyword` (exact values: aggregations, filters) unless they are prose (`message`, the
user agent, the request), which are `text` with a keyword or text sub-field. Fields Logstash's
classic patterns produce as numbers are mapped as numbers so a string there is a mapping error
(it goes to the DLQ with Elasticsearch's reason) rather than silently turning the field into text.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from typing import Any

from elasticsearch import AsyncElasticsearch

from streamstash import names
from streamstash.config.indexer import ElasticsearchOutput
from streamstash.services.indexer.bulk import RetryPolicy
from streamstash.services.indexer.ecs import ecs_mappings

log = logging.getLogger(__name__)

TEMPLATE_PRIORITY = 200
KEYWORD = {"type": "keyword", "ignore_above": 1024}


def classic_mappings() -> dict[str, Any]:
    return {
        "clientip": KEYWORD,
        "verb": KEYWORD,
        "agent": {"type": "text", "fields": {"keyword": KEYWORD}},
        "request": {"type": "keyword", "fields": {"text": {"type": "text"}}},
        "response": {"type": "integer"},
        "bytes": {"type": "long"},
        names.FIELD_SOURCE: {
            "properties": {
                "kind": KEYWORD,
                "host": KEYWORD,
                "path": KEYWORD,
                "offset": {"type": "long"},
                "inode": {"type": "long"},
            }
        },
    }


def index_template(patterns: list[str], ecs: bool = False, data_stream: bool = False) -> dict[str, Any]:
    properties: dict[str, Any] = {
        names.FIELD_TIMESTAMP: {"type": "date"},
        names.FIELD_MESSAGE: {"type": "text"},
        names.FIELD_TAGS: KEYWORD,
        names.FIELD_AGGREGATED: {"type": "boolean"},
        names.FIELD_COUNT: {"type": "long"},
    }
    properties.update(ecs_mappings() if ecs else classic_mappings())
    body: dict[str, Any] = {
        "index_patterns": patterns,
        "priority": TEMPLATE_PRIORITY,
        "template": {
            "settings": {"index": {"refresh_interval": "1s"}},
            "mappings": {
                "dynamic_templates": [
                    {"strings_as_keywords": {"match_mapping_type": "string", "mapping": KEYWORD}},
                ],
                "properties": properties,
            },
        },
        "meta": {"managed_by": "streamstash", "ecs_compatibility": "v8" if ecs else "disabled"},
    }
    if data_stream:
        body["data_stream"] = {}
    return body


def template_patterns(*index_templates: str) -> list[str]:
    """`logs-%{+YYYY.MM.dd}` -> `logs-*`: the pattern each index template name falls under."""
    patterns: list[str] = []
    for text in index_templates:
        head = text.split("%{", 1)[0]
        pattern = (f"{head}*" if "%{" in text else text).lower()
        if pattern not in patterns:
            patterns.append(pattern)
    return [pattern for pattern in patterns if not any(_covers(other, pattern) for other in patterns)]


def _covers(wildcard: str, pattern: str) -> bool:
    """`logs-*` covers `logs-aggregated-*`: listing both would only repeat it."""
    return wildcard != pattern and wildcard.endswith("*") and pattern.startswith(wildcard[:-1])


def template_name(output: ElasticsearchOutput) -> str:
    """The configured name, else one derived from the index prefix so that pipelines writing to
    different indices (and tests running side by side) never overwrite each other's template."""
    if output.template_name:
        return output.template_name
    head = output.index.split("%{", 1)[0].lower()
    slug = re.sub(r"[^a-z0-9]+", "-", head).strip("-")
    return f"{names.INDEX_TEMPLATE_NAME}-{slug}" if slug else names.INDEX_TEMPLATE_NAME


def template_for(output: ElasticsearchOutput) -> tuple[str, dict[str, Any]]:
    patterns = template_patterns(output.index, output.aggregate_index)
    return template_name(output), index_template(
        patterns, ecs=output.ecs_compatibility == "v8", data_stream=output.data_stream
    )


async def install_template(client: AsyncElasticsearch, output: ElasticsearchOutput) -> str:
    name, body = template_for(output)
    await client.indices.put_index_template(name=name, **body)
    return name


async def install_template_when_reachable(
    client: AsyncElasticsearch, output: ElasticsearchOutput, retry: RetryPolicy, stop: asyncio.Event
) -> None:
    """The template must exist before the first document creates an index, so wait for it."""
    if not output.install_template:
        return
    attempt = 0
    while not stop.is_set():
        try:
            name = await install_template(client, output)
            log.info("index template installed", extra={"template": name, "ecs": output.ecs_compatibility})
            return
        except Exception as exc:  # noqa: BLE001 - any failure here means "not yet"; keep trying
            attempt += 1
            log.warning("cannot install index template yet", extra={"attempt": attempt, "error": repr(exc)[:300]})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), retry.delay(attempt))
