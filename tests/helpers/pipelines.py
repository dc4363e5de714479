"""Per-test pipelines: unique topic and index names so tests never see each other's data."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from streamstash.config import PipelineConfig, load_pipeline


@dataclass
class TestPipeline:
    path: Path
    config: PipelineConfig
    prefix: str
    index: str
    aggregate_index: str

    @property
    def topics(self):
        return self.config.kafka.topics


def write_pipeline(
    directory: Path, body: dict[str, Any], partitions: int = 3, env: dict[str, str] | None = None
) -> TestPipeline:
    """Write ``body`` (inputs/filters/aggregations...) plus unique topics, indices and state dir; ``env``: the
    variables the file names (the services get them too)."""
    prefix = f"t{uuid.uuid4().hex[:10]}"
    index = f"{prefix}-logs"
    aggregate_index = f"{prefix}-aggregates"
    document: dict[str, Any] = {
        "kafka": {
            "partitions": partitions,
            "topics": {kind: f"{prefix}.{kind}" for kind in ("raw", "parsed", "aggregated", "dlq", "tasks")},
            "consumer_group_prefix": prefix,
        },
        "state_dir": str(directory / "state"),
        "logging": {"level": "INFO"},
        "collector": {"batch": {"linger_ms": 20}},
        "outputs": {"elasticsearch": {"index": index, "aggregate_index": aggregate_index, "bulk": {"flush_ms": 200}}},
    }
    for key, value in body.items():
        if isinstance(value, dict) and isinstance(document.get(key), dict):
            document[key] = {**document[key], **value}
        else:
            document[key] = value
    path = directory / f"{prefix}.yml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return TestPipeline(
        path=path,
        config=load_pipeline(path, env=env or {}),
        prefix=prefix,
        index=index,
        aggregate_index=aggregate_index,
    )
