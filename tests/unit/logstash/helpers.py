"""Translating Logstash text in memory and loading the result as `streamstash check` would."""

from __future__ import annotations

from typing import Any

from streamstash.aggregation.routing import TaskRouter
from streamstash.config import PipelineConfig, parse_pipeline
from streamstash.filters import FilterChain
from streamstash.logstash.emit import render_yaml
from streamstash.logstash.parser import parse_text
from streamstash.logstash.report import Report
from streamstash.logstash.translator import Translation, translate


def translated(text: str, env: dict[str, str] | None = None) -> tuple[PipelineConfig, Translation, str]:
    """(loaded pipeline, translation, YAML written) for a Logstash pipeline given as text."""
    translation = translate(parse_text(text, "test.conf"))
    yaml_text = render_yaml(translation)
    config = parse_pipeline(yaml_text, "translated", env=env or {})
    FilterChain(config.filters)
    TaskRouter(config.aggregations)
    return config, translation, yaml_text


def filters_of(text: str, env: dict[str, str] | None = None) -> list[dict[str, Any]]:
    config, _, _ = translated("filter {\n" + text + "\n}", env)
    return [entry.model_dump(by_alias=True, exclude_defaults=True) for entry in config.filters]


def findings(report: Report) -> list[tuple[str, int, str]]:
    return [(finding.severity, finding.line, finding.subject) for finding in report.findings]
