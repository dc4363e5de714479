"""The fields a Logstash input sets on its events (`host`, `path`, ...), seen by filters, conditions and templates.

Logstash's inputs write where a line came from into the event itself; here it lives in the envelope's
`source`. So that `if [path] =~ "access"`, `%{host}` or `[log][file][path]` work as they do in Logstash, the
parser, the aggregator's routing and the indexer's index names see these fields as if the input had set them,
named as Logstash names them:

==============================  ====================  ===========================================
where the line came from        classic (disabled)    ECS (``ecs_compatibility: v8``)
==============================  ====================  ===========================================
file: the collecting host       ``host``              ``[host][name]``
file: the file                  ``path``              ``[log][file][path]``
stdin, docker: the host         ``host``              ``[host][hostname]`` (stdin), ``[host][name]``
udp: the sender's address       ``host``              ``[host][ip]``
tcp: the sender's address       ``host``,             ``[@metadata][input][tcp][source][ip]``
                                ``[@metadata]``       (and ``[name]``; ``[host][ip]`` too when the
                                ``[ip_address]``      line was syslog, as Logstash's syslog input)
tcp: the sender's port          ``port``              ``[@metadata][input][tcp][source][port]``
==============================  ====================  ===========================================

A field the event already has is left as it is (an input's `add_fields`, a field a codec brought), as
Logstash's inputs only set these when absent. They are a view, not stored: after the filters, a field that
still holds the value shown is taken away again, since `source` already says it; a filter that changed it,
or copied it elsewhere (`mutate { rename => { "host" => "hostname" } }`), stores what it wrote. So documents
carry `source` as before, plus what the pipeline made of these fields. A filter chain none of whose steps
can read or write them (`FilterChain.sees_input_fields`) is not shown them at all, as they would all be
taken away again unchanged: showing and hiding cost a sixth of the tutorial chain's CPU.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from streamstash import names
from streamstash.events.envelope import Event

if TYPE_CHECKING:
    from streamstash.config import PipelineConfig

Path = tuple[str, ...]

_CLASSIC_HOST: Path = ("host",)
_METADATA = names.FIELD_METADATA


@dataclass(slots=True)
class Shown:
    """One field the view added: its path, its value and the objects it had to create on the way."""

    path: Path
    value: Any
    created: tuple[Path, ...]


def _peer_address(peer: str | None) -> tuple[str | None, int | None]:
    """`10.0.0.1:514` / `[::1]:514` -> (address, port)."""
    if not peer:
        return None, None
    address, _, port = peer.rpartition(":")
    if not address:
        return peer, None
    address = address[1:-1] if address.startswith("[") and address.endswith("]") else address
    return address, int(port) if port.isdigit() else None


class InputFields:
    """Logstash's input fields for an event, in the classic or the ECS naming (or none, when disabled)."""

    def __init__(self, ecs: bool = False, enabled: bool = True) -> None:
        self.ecs = ecs
        self.enabled = enabled
        # Every top-level name `of` can give an event: a reader that needs a field outside these (and outside
        # the envelope's own message/@timestamp/tags) knows from `event.fields` alone whether it is there.
        roots = ("host", "log", _METADATA) if ecs else ("host", "port", "path", _METADATA)
        self.roots: frozenset[str] = frozenset(roots if enabled else ())

    def of(self, event: Event) -> list[tuple[Path, Any]]:
        source = event.source
        kind = source.kind
        if not self.enabled or kind == names.SOURCE_AGGREGATE:
            return []
        fields: list[tuple[Path, Any]] = []
        if kind in (names.SOURCE_UDP, names.SOURCE_TCP):
            address, port = _peer_address(source.peer)
            if address is None:
                return fields
            if not self.ecs:
                fields.append((_CLASSIC_HOST, address))
                if kind == names.SOURCE_TCP:
                    fields.append((("port",), port))
                    fields.append(((_METADATA, "ip_address"), address))
            elif kind == names.SOURCE_UDP:
                fields.append((("host", "ip"), address))
            else:
                base = (_METADATA, "input", "tcp", "source")
                fields += [((*base, "name"), address), ((*base, "ip"), address), ((*base, "port"), port)]
                if names.FIELD_SYSLOG in event.fields:
                    fields.append((("host", "ip"), address))
            return [(path, value) for path, value in fields if value is not None]
        if source.host:
            if not self.ecs:
                fields.append((_CLASSIC_HOST, source.host))
            else:
                fields.append((("host", "hostname" if kind == names.SOURCE_STDIN else "name"), source.host))
        if kind == names.SOURCE_FILE and source.path:
            fields.append((("path",) if not self.ecs else ("log", "file", "path"), source.path))
        return fields

    def show(self, doc: dict[str, Any], event: Event) -> list[Shown]:
        """Add the event's input fields that `doc` lacks; objects of the event met on the way are copied
        before they are written to, so the event itself is never changed."""
        shown: list[Shown] = []
        for path, value in self.of(event):
            if len(path) == 1:  # `host`, `path`: the classic names, no object on the way
                if path[0] not in doc:
                    doc[path[0]] = value
                    shown.append(Shown(path, value, ()))
                continue
            created = _add(doc, path, value)
            if created is not None:
                shown.append(Shown(path, value, created))
        return shown

    @staticmethod
    def hide(doc: dict[str, Any], shown: list[Shown]) -> None:
        """Take away the shown fields that still hold their value, and the objects made for them that are
        empty now."""
        for item in reversed(shown):
            if len(item.path) == 1:  # shown at the top level: nothing was created for it
                leaf = item.path[0]
                if leaf in doc and type(doc[leaf]) is type(item.value) and doc[leaf] == item.value:
                    del doc[leaf]
                continue
            parents: list[dict[str, Any]] = [doc]
            node: Any = doc
            for part in item.path[:-1]:
                node = node.get(part) if isinstance(node, dict) else None
                if not isinstance(node, dict):
                    break
                parents.append(node)
            else:
                leaf = item.path[-1]
                if leaf in node and type(node[leaf]) is type(item.value) and node[leaf] == item.value:
                    del node[leaf]
            for created in sorted(item.created, key=len, reverse=True):
                parent: Any = doc
                for part in created[:-1]:
                    parent = parent.get(part) if isinstance(parent, dict) else None
                if isinstance(parent, dict) and parent.get(created[-1]) == {}:
                    del parent[created[-1]]

    def view(self, doc: dict[str, Any], event: Event) -> dict[str, Any]:
        """`doc` (a working dict of the event, not shared) with the input fields added, for reading."""
        for path, value in self.of(event):
            if len(path) == 1:
                doc.setdefault(path[0], value)  # what `_add` does for a top-level field, without its bookkeeping
            else:
                _add(doc, path, value)
        return doc


def _add(doc: dict[str, Any], path: Path, value: Any) -> tuple[Path, ...] | None:
    """Set ``path`` to ``value`` unless ``doc`` has it; the objects created on the way, None if not set."""
    node = doc
    created: list[Path] = []
    for depth, part in enumerate(path[:-1]):
        child = node.get(part)
        if child is None:
            child = node[part] = {}
            created.append(path[: depth + 1])
        elif isinstance(child, dict):
            child = node[part] = dict(child)
        else:
            return None  # a value where an object is needed: leave the event's own field alone
        node = child
    if path[-1] in node:
        return None
    node[path[-1]] = value
    return tuple(created)


CLASSIC = InputFields(ecs=False)


def input_fields_for(config: PipelineConfig) -> InputFields:
    """The pipeline's choice: `parser.input_fields`, named after `outputs.elasticsearch.ecs_compatibility`."""
    return InputFields(
        ecs=config.outputs.elasticsearch.ecs_compatibility != "disabled", enabled=config.parser.input_fields
    )
