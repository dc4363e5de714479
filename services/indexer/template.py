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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from streamstash import names
from streamstash.config.indexer import ElasticsearchOutput
from streamstash.search.engine import SearchEngine, WrongProductError
from streamstash.services.indexer.bulk import RetryPolicy
from streamstash.services.indexer.ecs import ecs_mappings

log = logging.getLogger(__name__)

TEMPLATE_PRIORITY = 200
KEYWORD = {"type": "keyword", "ignore_above": 1024}
AGENT_TEXT = {"type": "text", "fields": {"keyword": KEYWORD}}


def classic_mappings() -> dict[str, Any]:
    return {
        "clientip": KEYWORD,
        "verb": KEYWORD,
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
                    # The apache user agent is prose; only as text, so that a Beat's `agent` object maps too.
                    {"agent_as_text": {"path_match": "agent", "match_mapping_type": "string", "mapping": AGENT_TEXT}},
                    {"strings_as_keywords": {"match_mapping_type": "string", "mapping": KEYWORD}},
                ],
                "properties": properties,
            },
        },
        "_meta": {"managed_by": "streamstash", "ecs_compatibility": "v8" if ecs else "disabled"},
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
    patterns = template_patterns(*(output.template_patterns or []), output.aggregate_index)
    if not output.template_patterns:
        patterns = template_patterns(output.index, output.aggregate_index)
    body = index_template(patterns, ecs=output.ecs_compatibility == "v8", data_stream=output.data_stream)
    if output.ilm_policy:
        body["template"]["settings"]["index"]["lifecycle"] = {"name": output.ilm_policy}
    return template_name(output), body


def refused_by_opensearch(output: ElasticsearchOutput) -> str | None:
    """What in ``output`` only Elasticsearch has, said the way an operator fixes it; None if nothing."""
    if output.ilm_policy:
        return (
            "outputs.elasticsearch.ilm_policy names an Elasticsearch ILM policy (index.lifecycle.name), a setting "
            "OpenSearch refuses in a template: leave it unset and attach an Index State Management policy on the "
            "OpenSearch side (its ism_template matches the indices)"
        )
    return None


class TemplateFileError(ValueError):
    """A `template_file` that cannot be installed: a configuration error, not a reason to retry."""


@dataclass(frozen=True)
class TemplateToInstall:
    name: str
    body: dict[str, Any]
    legacy: bool  # `PUT _template` (Logstash's legacy template files) rather than `PUT _index_template`


def template_to_install(output: ElasticsearchOutput) -> TemplateToInstall:
    """The user's `template_file` if there is one (composable when it has `template`, else legacy), else
    streamstash's own template."""
    if not output.template_file:
        name, body = template_for(output)
        return TemplateToInstall(name, body, legacy=False)
    path = Path(output.template_file)
    try:
        body = orjson.loads(path.read_bytes())
    except OSError as exc:
        raise TemplateFileError(f"template_file {path}: cannot read it: {exc.strerror or exc}") from exc
    except orjson.JSONDecodeError as exc:
        raise TemplateFileError(f"template_file {path}: not JSON: {exc}") from exc
    if not isinstance(body, dict) or not ("index_patterns" in body or "template" in body):
        raise TemplateFileError(f"template_file {path}: not an index template (no index_patterns)")
    return TemplateToInstall(template_name(output), body, legacy="template" not in body)


async def install_template(engine: SearchEngine, output: ElasticsearchOutput) -> str:
    wanted = template_to_install(output)
    if not output.template_overwrite and await engine.template_exists(wanted.name, legacy=wanted.legacy):
        return wanted.name
    await engine.put_index_template(wanted.name, wanted.body, legacy=wanted.legacy)
    return wanted.name


async def install_template_when_reachable(
    engine: SearchEngine, output: ElasticsearchOutput, retry: RetryPolicy, stop: asyncio.Event
) -> None:
    """The template must exist before the first document creates an index, so wait for it. The engine's
    product is checked first: pointed at the other product, the indexer stops with what to set instead of
    retrying (or dead-lettering) for ever."""
    if output.install_template:
        template_to_install(output)  # a template_file that cannot be read stops here, with its reason
    verified = False
    attempt = 0
    while not stop.is_set():
        try:
            if not verified:
                version = await engine.verify()
                verified = True
                log.info(
                    "search engine answers",
                    extra={"distribution": engine.distribution, "version": version.get("number")},
                )
            if not output.install_template:
                return
            name = await install_template(engine, output)
            log.info("index template installed", extra={"template": name, "ecs": output.ecs_compatibility})
            return
        except WrongProductError:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure here means "not yet"; keep trying
            attempt += 1
            log.warning("cannot install index template yet", extra={"attempt": attempt, "error": repr(exc)[:300]})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), retry.delay(attempt))
