"""Elastic Common Schema (v8) names for the fields Logstash's classic grok patterns produce.

With ``ecs_compatibility: v8`` the indexer renames fields on their way to Elasticsearch, the way
Logstash's ``ecs_compatibility => v8`` grok patterns name them, so dashboards built on ECS work:

==========================  ==============================
classic field               ECS v8 field
==========================  ==============================
clientip                    source.address
ident                       apache.access.user.identity
auth                        user.name
verb                        http.request.method
request                     url.original
httpversion                 http.version
response                    http.response.status_code
bytes                       http.response.body.bytes
referrer                    http.request.referrer
agent                       user_agent.original
==========================  ==============================

Where a line entered (our ``source`` object) moves to its ECS home too, because ECS reserves
``source`` for the network peer:

==========================  ==============================
source.kind                 input.type
source.host                 host.name
source.path                 log.file.path
source.inode                log.file.inode
source.offset               log.offset
source.peer                 log.source.address
source.stream               stream
source.container_id         container.id
source.container_name       container.name
source.image                container.image.name
source.labels               container.labels
==========================  ==============================

Values already at their ECS name are kept; a classic field is renamed only when the ECS field is
not set yet (an event produced by ECS-aware filters is left alone).
"""

from __future__ import annotations

from typing import Any, Final

from streamstash import names

CLASSIC_TO_ECS: Final[dict[str, str]] = {
    "clientip": "source.address",
    "ident": "apache.access.user.identity",
    "auth": "user.name",
    "verb": "http.request.method",
    "request": "url.original",
    "httpversion": "http.version",
    "response": "http.response.status_code",
    "bytes": "http.response.body.bytes",
    "referrer": "http.request.referrer",
    "agent": "user_agent.original",
}

SOURCE_TO_ECS: Final[dict[str, str]] = {
    "kind": "input.type",
    "host": "host.name",
    "path": "log.file.path",
    "inode": "log.file.inode",
    "offset": "log.offset",
    "peer": "log.source.address",
    "stream": "stream",
    "container_id": "container.id",
    "container_name": "container.name",
    "image": "container.image.name",
    "labels": "container.labels",
}

# Logstash's grok leaves `-` for an absent value in some patterns (auth, ident, bytes); ECS leaves it out.
_ABSENT = "-"


def to_ecs(document: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``document`` with classic names moved to their ECS v8 paths (nested objects)."""
    result = dict(document)
    origin = result.pop(names.FIELD_SOURCE, None)
    for classic, ecs_path in CLASSIC_TO_ECS.items():
        if classic not in result or isinstance(result[classic], dict):
            continue  # an object is already ECS's (a Beat's `agent`), not the classic text
        value = result.pop(classic)
        if value == _ABSENT or value is None:
            continue
        if classic == "agent" and isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]  # classic COMBINEDAPACHELOG keeps the quotes; ECS's pattern does not
        _set_if_absent(result, ecs_path, value)
    if isinstance(origin, dict):
        for key, value in origin.items():
            target = SOURCE_TO_ECS.get(key)
            if target is not None:
                _set_if_absent(result, target, value)
    return result


def _set_if_absent(document: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    node = document
    for part in parents:
        child = node.get(part)
        if not isinstance(child, dict):
            if child is not None:
                return  # a scalar already sits where an object is needed; keep what the event has
            child = {}
            node[part] = child
        node = child
    node.setdefault(leaf, value)


def ecs_mappings() -> dict[str, Any]:
    """Template `properties` for the ECS fields :func:`to_ecs` produces."""
    keyword = {"type": "keyword", "ignore_above": 1024}
    return {
        "source": {"properties": {"address": keyword}},
        "user": {"properties": {"name": keyword}},
        "apache": {"properties": {"access": {"properties": {"user": {"properties": {"identity": keyword}}}}}},
        "http": {
            "properties": {
                "version": keyword,
                "request": {"properties": {"method": keyword, "referrer": keyword}},
                "response": {
                    "properties": {"status_code": {"type": "long"}, "body": {"properties": {"bytes": {"type": "long"}}}}
                },
            }
        },
        "url": {"properties": {"original": {**keyword, "fields": {"text": {"type": "text"}}}}},
        "user_agent": {"properties": {"original": {**keyword, "fields": {"text": {"type": "text"}}}}},
        "input": {"properties": {"type": keyword}},
        "host": {"properties": {"name": keyword}},
        "log": {
            "properties": {
                "offset": {"type": "long"},
                "file": {"properties": {"path": keyword, "inode": keyword}},  # ECS: inode is a keyword
                "source": {"properties": {"address": keyword}},
            }
        },
        "container": {"properties": {"id": keyword, "name": keyword, "image": {"properties": {"name": keyword}}}},
    }
