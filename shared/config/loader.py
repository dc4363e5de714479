"""Load a pipeline file: YAML -> variable substitution -> typed, validated models."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from streamstash.config.pipeline import PipelineConfig
from streamstash.config.substitution import UnsetVariableError, substitute

LITERAL_SECTIONS = ("tests",)  # taken as written: no ${VAR} substitution


class ConfigError(ValueError):
    """A pipeline file that cannot be used; the message names the file and the key."""


def load_pipeline(path: Path, env: Mapping[str, str] | None = None) -> PipelineConfig:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the pipeline file: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text: {exc}") from exc
    return parse_pipeline(text, source=str(path), env=os.environ if env is None else env)


def parse_pipeline(text: str, source: str = "<pipeline>", env: Mapping[str, str] | None = None) -> PipelineConfig:
    try:
        tree: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}") from exc
    if tree is None:
        tree = {}
    if not isinstance(tree, dict):
        raise ConfigError(f"{source}: the top level must be a mapping of sections, got {type(tree).__name__}")
    # Test cases are taken literally: their log lines may well hold `${...}` (shell, log4j), and what a test
    # expects must not change with the environment it runs in.
    literal = {key: tree.pop(key) for key in LITERAL_SECTIONS if key in tree}
    try:
        tree = {**substitute(tree, os.environ if env is None else env), **literal}
    except UnsetVariableError as exc:
        raise ConfigError(
            f"{source}: environment variable {exc.variable} is not set (used at `{exc.key_path}`); "
            f"set it or write ${{{exc.variable}:-default}}"
        ) from exc
    try:
        return PipelineConfig.model_validate(tree)
    except ValidationError as exc:
        raise ConfigError(f"{source}: invalid pipeline:\n{format_validation_error(exc)}") from exc


def format_validation_error(exc: ValidationError) -> str:
    lines = []
    for error in exc.errors():
        location = ".".join(str(part) for part in error["loc"]) or "(top level)"
        message = "unknown key" if error["type"] == "extra_forbidden" else error["msg"]
        lines.append(f"  - {location}: {message}")
    return "\n".join(lines)
