"""The pipeline file: one YAML document configuring all four services."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from streamstash import names
from streamstash.config.aggregator import AggregationSpec
from streamstash.config.base import StrictModel
from streamstash.config.collector import CollectorSettings, InputSettings
from streamstash.config.common import (
    ElasticsearchSettings,
    HttpSettings,
    KafkaSettings,
    LoggingSettings,
    StackSettings,
)
from streamstash.config.indexer import OutputSettings
from streamstash.config.parser import FilterEntry, ParserSettings
from streamstash.config.testcases import PipelineTests


class PipelineConfig(StrictModel):
    """A whole pipeline: inputs -> filters -> aggregations -> outputs, and the servers it uses."""

    kafka: KafkaSettings = Field(default_factory=KafkaSettings, description="Kafka connection and topics.")
    elasticsearch: ElasticsearchSettings = Field(
        default_factory=ElasticsearchSettings, description="Elasticsearch connection."
    )
    http: HttpSettings = Field(default_factory=HttpSettings, description="Metrics and health endpoint.")
    logging: LoggingSettings = Field(default_factory=LoggingSettings, description="Logging.")
    shutdown_timeout_s: float = Field(
        30.0,
        gt=0,
        description="On SIGTERM/SIGINT a service drains in-flight batches and commits; past this many "
        "seconds it exits anyway (code 124) and what it had not committed is read again. A second signal exits at "
        "once (code 130).",
        examples=[60],
    )
    stack: StackSettings = Field(
        default_factory=StackSettings,
        description="The local stack (Kafka and the Elasticsearch stand-in) for development.",
    )
    state_dir: Path = Field(
        Path(names.DEFAULT_STATE_DIR),
        description="Checkpoints (collector) and RocksDB tables (aggregator).",
        examples=["/var/lib/streamstash"],
    )
    inputs: list[InputSettings] = Field(
        default_factory=list,
        description="Collector inputs, each with a `type` (sections below).",
        examples=[[{"type": "file", "paths": ["/var/log/nginx/access.log"], "start_position": "beginning"}]],
    )
    collector: CollectorSettings = Field(default_factory=CollectorSettings, description="Collector tuning.")
    filters: list[FilterEntry] = Field(default_factory=list, description="Parser filter chain, run in order.")
    parser: ParserSettings = Field(default_factory=ParserSettings, description="Parser tuning.")
    aggregations: list[AggregationSpec] = Field(default_factory=list, description="Aggregator tasks.")
    outputs: OutputSettings = Field(default_factory=OutputSettings, description="Indexer outputs.")
    tests: PipelineTests = Field(
        default_factory=PipelineTests,
        description="Test cases `streamstash test` runs in memory through the filters and aggregations "
        "(taken literally: no `${VAR}` substitution).",
    )

    @property
    def uses_local_stack(self) -> bool:
        return self.kafka.bootstrap_servers is None or self.elasticsearch.hosts is None
