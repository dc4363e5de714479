"""``${VAR}`` / ``${VAR:-default}`` substitution in the string values of a parsed YAML tree."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

# $$ escapes a literal dollar; ${NAME} or ${NAME:-default} (default may be empty).
_REFERENCE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class UnsetVariableError(KeyError):
    def __init__(self, variable: str, key_path: str) -> None:
        super().__init__(variable)
        self.variable = variable
        self.key_path = key_path


def substitute(tree: Any, env: Mapping[str, str], key_path: str = "") -> Any:
    """Return ``tree`` with every reference in its strings replaced from ``env``.

    Raises :class:`UnsetVariableError` for a variable that is unset and has no default. A value
    that is exactly one reference whose result is empty becomes ``None``, so an optional key can be
    switched off with ``${VAR:-}``.
    """
    if isinstance(tree, str):
        return _substitute_string(tree, env, key_path)
    if isinstance(tree, dict):
        return {key: substitute(value, env, _join(key_path, key)) for key, value in tree.items()}
    if isinstance(tree, list):
        return [substitute(value, env, _join(key_path, index)) for index, value in enumerate(tree)]
    return tree


def _substitute_string(text: str, env: Mapping[str, str], key_path: str) -> str | None:
    if "$" not in text:
        return text

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        variable, default = match.group(1), match.group(2)
        value = env.get(variable)
        if default is not None and not value:  # like the shell: the default also replaces an empty value
            return default
        if value is not None:
            return value
        raise UnsetVariableError(variable, key_path)

    result = _REFERENCE.sub(replace, text)
    whole_reference = _REFERENCE.fullmatch(text) is not None and text != "$$"
    return None if whole_reference and result == "" else result


def _join(prefix: str, key: object) -> str:
    return f"{prefix}.{key}" if prefix else str(key)
