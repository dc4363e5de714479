"""Typed pipeline configuration: one model per service, composed into :class:`PipelineConfig`."""

from streamstash.config.loader import ConfigError, load_pipeline, parse_pipeline
from streamstash.config.pipeline import PipelineConfig

__all__ = ["ConfigError", "PipelineConfig", "load_pipeline", "parse_pipeline"]
