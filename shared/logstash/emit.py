"""Write a :class:`~streamstash.logstash.translator.Translation` as a pipeline YAML file, with comments.

Every item says which Logstash line it came from; untranslated spots are comment blocks where the plugin
stood (``# UNTRANSLATED <file>:<line> ...`` and the Logstash text). Logstash's `${VAR:default}` references
become the pipeline file's `${VAR:-default}`; any other `$` is written `$$` so it stays a dollar.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from streamstash.logstash.aggregate import Verbatim
from streamstash.logstash.translator import Entry, Translation

_LOGSTASH_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::([^}]*))?\}")
_WIDTH = 120


def our_references(text: str) -> str:
    """`${ES_HOST:localhost}` -> `${ES_HOST:-localhost}`; other dollars are escaped as `$$`."""
    parts = []
    position = 0
    for match in _LOGSTASH_REFERENCE.finditer(text):
        parts.append(text[position : match.start()].replace("$", "$$"))
        name, default = match.group(1), match.group(2)
        parts.append(f"${{{name}}}" if default is None else f"${{{name}:-{default}}}")
        position = match.end()
    parts.append(text[position:].replace("$", "$$"))
    return "".join(parts)


def converted(value: Any) -> Any:
    if isinstance(value, Verbatim):
        return str(value)
    if isinstance(value, str):
        return our_references(str(value))
    if isinstance(value, dict):
        return {str(key): converted(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [converted(item) for item in value]
    return value


def _dump(value: Any) -> list[str]:
    text = yaml.safe_dump(converted(value), sort_keys=False, default_flow_style=False, allow_unicode=True, width=_WIDTH)
    return text.rstrip("\n").split("\n")


def _comment(lines: list[str], indent: str) -> list[str]:
    return [f"{indent}# {part}".rstrip() for line in lines for part in line.split("\n")]


def _section(name: str, entries: list[Entry]) -> list[str]:
    values = [entry for entry in entries if entry.value is not None]
    lines = [f"{name}:" if values else f"{name}: []"]
    for entry in entries:
        lines += _comment(entry.comments, "  ")
        if entry.value is not None:
            lines += ["  " + line for line in _dump([entry.value])]
    return lines


def render_yaml(translation: Translation) -> str:
    tree = translation.tree()
    lines = _comment(translation.header, "")
    lines += _dump({"kafka": tree["kafka"]})
    lines += _dump({"elasticsearch": tree["elasticsearch"]})
    lines.append("")
    lines += _section("inputs", translation.inputs)
    lines.append("")
    lines += _section("filters", translation.filters)
    lines.append("")
    lines += _section("aggregations", translation.aggregations)
    lines.append("")
    lines += _comment(translation.output_comments, "")
    lines += _dump({"outputs": tree["outputs"]})
    return "\n".join(lines) + "\n"
