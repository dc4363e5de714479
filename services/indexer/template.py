"""The index template streamstash installs: dates as dates, numbers as numbers, strings as keywords."""

from __future__ import annotations

from typing import Any

from elasticsearch import AsyncElasticsearch

from streamstash import names


def index_template(patterns: list[str]) -> dict[str, Any]:
    return {
        "index_patterns": patterns,
        "priority": 200,
        "template": {
            "settings": {"index": {"refresh_interval": "1s"}},
            "mappings": {
                "dynamic_templates": [
                    {
                        "strings_as_keywords": {
                            "match_mapping_type": "string",
                            "mapping": {"type": "keyword", "ignore_above": 1024},
                        }
                    }
                ],
                "properties": {
                    names.FIELD_TIMESTAMP: {"type": "date"},
                    names.FIELD_MESSAGE: {"type": "text"},
                    names.FIELD_TAGS: {"type": "keyword"},
                    "agent": {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 1024}}},
                    "request": {"type": "keyword", "fields": {"text": {"type": "text"}}},
                    "response": {"type": "integer"},
                    "bytes": {"type": "long"},
                    names.FIELD_AGGREGATED: {"type": "boolean"},
                    names.FIELD_COUNT: {"type": "long"},
                    names.FIELD_SOURCE: {
                        "properties": {
                            "kind": {"type": "keyword"},
                            "offset": {"type": "long"},
                            "inode": {"type": "long"},
                            "path": {"type": "keyword"},
                        }
                    },
                },
            },
        },
    }


def template_patterns(*index_templates: str) -> list[str]:
    """`logs-%{+YYYY.MM.dd}` -> `logs-*`: the pattern each index template name falls under."""
    patterns = []
    for text in index_templates:
        head = text.split("%{", 1)[0]
        pattern = f"{head}*" if "%{" in text else text
        if pattern not in patterns:
            patterns.append(pattern.lower())
    return patterns


async def install_template(client: AsyncElasticsearch, patterns: list[str]) -> None:
    await client.indices.put_index_template(name=names.INDEX_TEMPLATE_NAME, **index_template(patterns))
