"""Logstash's option types (`:string`, `:number`, `:boolean`, `:array`, `:hash`), read the way Logstash reads
them: a single value where a list is expected is a one-item list, a flat list of pairs stands for a hash
(`match => ["message", "%{...}"]`), `"true"` is a boolean and `"5"` a number."""

from __future__ import annotations

from typing import Any

from streamstash.logstash import ast
from streamstash.logstash.report import Untranslatable


def describe(value: Any) -> str:
    if isinstance(value, ast.Plugin):
        return f"a plugin ({value.name})"
    if isinstance(value, dict):
        return "a hash"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    return "text"


def as_text(value: Any, option: str) -> str:
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, str):
        return str(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise Untranslatable(f"option {option} takes text, got {describe(value)}")


def as_bool(value: Any, option: str) -> bool:
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise Untranslatable(f"option {option} takes true or false, got {value!r}")


def as_number(value: Any, option: str) -> int | float:
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            return float(value) if "." in value else int(value)
        except ValueError:
            pass
    raise Untranslatable(f"option {option} takes a number, got {value!r}")


def as_text_list(value: Any, option: str) -> list[str]:
    items = value if isinstance(value, list) else [value]
    return [as_text(item, option) for item in items]


def as_hash(value: Any, option: str) -> dict[str, Any]:
    """A hash, or Logstash's legacy flat list of key, value pairs."""
    if isinstance(value, dict):
        return {str(key): item for key, item in value.items()}
    if isinstance(value, list) and len(value) % 2 == 0:
        pairs: dict[str, Any] = {}
        for index in range(0, len(value), 2):
            key = as_text(value[index], option)
            item = value[index + 1]
            if key in pairs:  # `match => ["message", "a", "message", "b"]` means both patterns
                existing = pairs[key]
                pairs[key] = [*(existing if isinstance(existing, list) else [existing]), item]
            else:
                pairs[key] = item
        return pairs
    raise Untranslatable(f"option {option} takes a hash, got {describe(value)}")


def as_text_hash(value: Any, option: str) -> dict[str, str]:
    return {key: as_text(item, f"{option}[{key}]") for key, item in as_hash(value, option).items()}


def as_text_or_list_hash(value: Any, option: str) -> dict[str, str | list[str]]:
    result: dict[str, str | list[str]] = {}
    for key, item in as_hash(value, option).items():
        result[key] = (
            as_text_list(item, f"{option}[{key}]") if isinstance(item, list) else as_text(item, f"{option}[{key}]")
        )
    return result


def as_list_hash(value: Any, option: str) -> dict[str, list[str]]:
    return {key: as_text_list(item, f"{option}[{key}]") for key, item in as_hash(value, option).items()}
