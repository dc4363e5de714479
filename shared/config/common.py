"""Settings every service shares: Kafka, Elasticsearch, the HTTP endpoint, the local stack."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from streamstash import names
from streamstash.config.base import StrictModel
from streamstash.config.security import KafkaSecurity


class TopicNames(StrictModel):
    """Topic names; change them to run several pipelines on one Kafka cluster."""

    raw: str = Field(names.TOPIC_RAW, description="Every line as collected.", examples=["logs.raw"])
    parsed: str = Field(names.TOPIC_PARSED, description="Events after filters.", examples=["logs.parsed"])
    aggregated: str = Field(
        names.TOPIC_AGGREGATED, description="Aggregates emitted by the aggregator.", examples=["logs.aggregated"]
    )
    dlq: str = Field(
        names.TOPIC_DLQ,
        description="Dead letters: lines a stage could not handle, with the reason.",
        examples=["logs.dlq"],
    )
    tasks: str = Field(
        names.TOPIC_TASKS,
        description="Internal: parsed events re-keyed by aggregation task id.",
        examples=["logs.tasks"],
    )

    def all(self) -> list[str]:
        return [self.raw, self.parsed, self.aggregated, self.dlq, self.tasks]


Compression = Literal["none", "gzip", "lz4", "zstd"]


class KafkaSettings(StrictModel):
    """Where Kafka is and how the topics are laid out."""

    bootstrap_servers: str | None = Field(
        None,
        description="host:port[,host:port]. Unset: `streamstash run` starts the local stack and uses it.",
        examples=["kafka:9092"],
    )
    security: KafkaSecurity = Field(
        default_factory=KafkaSecurity, description='TLS and SASL of every Kafka client (see "Secure Kafka").'
    )
    topics: TopicNames = Field(default_factory=TopicNames, description="Topic names.")
    partitions: int = Field(
        6,
        ge=1,
        le=1024,
        description="Partitions per topic: the most instances a service can usefully scale to.",
        examples=[12],
    )
    replication_factor: int = Field(
        1, ge=1, description="Replicas per partition when streamstash creates topics.", examples=[3]
    )
    raw_retention_hours: float = Field(
        168, gt=0, description="Retention of the raw topic: how far back a replay can reach.", examples=[720]
    )
    max_message_bytes: int = Field(
        8 * 1024 * 1024,
        ge=1024 * 1024,
        description="Largest record (one batch) producers send and topics accept.",
        examples=[16777216],
    )
    compression: Compression = Field(
        "zstd",
        description="Compression of the records every producer sends (collector, parser, aggregator, the dead "
        "letters). zstd (aiokafka's level 3) packs these JSON batches tighter than lz4 for about a quarter of its "
        "CPU: aiokafka compresses lz4 at level 9, the high-compression mode, and offers no other level.",
        examples=["lz4"],
    )
    consumer_group_prefix: str = Field(
        "streamstash", description="Consumer groups are `<prefix>-<service>`.", examples=["prod-web"]
    )
    standin: bool = Field(
        False,
        description="The brokers are the noida-db stand-in, not Apache Kafka: turns on the repairs for "
        "where its protocol differs (empty-fetch pacing, LeaveGroup for a member id aiokafka drops, a rejoin on an "
        "empty assignment; see `streamstash.kafka.compat.emulator`). `streamstash run` and the tests set it when "
        "the local stack runs the stand-in (also `--kafka-standin` or STREAMSTASH_KAFKA_STANDIN=1); leave it off "
        "for Apache Kafka.",
        examples=[True],
    )
    empty_fetch_pause_ms: int = Field(
        100,
        ge=0,
        le=5000,
        description="With `standin`: pause of a consumer after a fetch that brought no records, "
        "before it asks that broker again (the stand-in answers an empty fetch at once, where Kafka holds it for "
        "fetch.max.wait.ms, so idle consumers would spin); 0 turns it off. Ignored for Apache Kafka.",
        examples=[50],
    )


class ElasticsearchSettings(StrictModel):
    """How to reach Elasticsearch (or OpenSearch); credentials are never logged."""

    distribution: Literal["elasticsearch", "opensearch"] = Field(
        "elasticsearch",
        description="What the hosts run: `elasticsearch` (the official client, which refuses anything else) or "
        "`opensearch` (opensearch-py's client). `streamstash run` sets it from the local stack's search engine; "
        "also `--elasticsearch-distribution` or STREAMSTASH_ELASTICSEARCH_DISTRIBUTION.",
        examples=["opensearch"],
    )
    hosts: list[str] | None = Field(
        None,
        description="Node URLs; list every node (or a comma-separated string) so that losing one does not stop "
        "indexing. Unset: `streamstash run` starts the local stack and uses it.",
        examples=[["https://es01:9200", "https://es02:9200"]],
    )
    username: str | None = Field(None, description="Basic-auth user.", examples=["elastic"])
    password: SecretStr | None = Field(None, description="Basic-auth password.", examples=["${ES_PASSWORD}"])
    api_key: SecretStr | None = Field(
        None,
        description="Elasticsearch API key (base64 id:key), instead of basic auth; OpenSearch has none.",
        examples=["${ES_API_KEY}"],
    )
    ca_file: Path | None = Field(
        None, description="CA bundle to verify the server's certificate.", examples=["/etc/ssl/es-ca.pem"]
    )
    verify_certs: bool = Field(True, description="Verify TLS certificates (keep on outside a lab).", examples=[True])
    request_timeout_s: float = Field(30.0, gt=0, description="Timeout of one HTTP request.", examples=[60])

    @field_validator("hosts", mode="before")
    @classmethod
    def _drop_empty(cls, hosts: object) -> object:
        """`["${ES:-}"]` with ES unset means "no hosts configured", not a host named ""; a comma-separated
        string, alone or in the list (`["${STREAMSTASH_ELASTICSEARCH}"]` holding several nodes), is split."""
        if isinstance(hosts, str):
            hosts = [hosts]
        if isinstance(hosts, list):
            split = [part.strip() if isinstance(part, str) else part for host in hosts for part in _parts(host)]
            hosts = [host for host in split if host] or None
        return hosts

    @model_validator(mode="after")
    def _opensearch_has_no_api_keys(self) -> ElasticsearchSettings:
        if self.distribution == "opensearch" and self.api_key is not None:
            raise ValueError(
                "elasticsearch.api_key is an Elasticsearch API key; OpenSearch has none: use username/password "
                "(the security plugin's basic auth)"
            )
        return self


def _parts(host: object) -> list[object]:
    if isinstance(host, str):
        return list(host.split(","))
    return [host]  # a non-string stays, for pydantic to refuse


class HttpSettings(StrictModel):
    """The per-service HTTP endpoint serving /metrics, /healthz and /readyz."""

    host: str = Field("127.0.0.1", description="Bind address; 0.0.0.0 in containers.", examples=["0.0.0.0"])  # noqa: S104
    port: int = Field(
        9600, ge=0, le=65535, description="Port; 0 picks a free one (several services on one host).", examples=[9600]
    )
    enabled: bool = Field(True, description="Serve the endpoint at all.", examples=[True])


class StackSettings(StrictModel):
    """The local stack `streamstash run` starts when no servers are configured (also `streamstash stack up`)."""

    kafka: Literal["auto", "apache", "standin"] = Field(
        "auto",
        description="Kafka engine: `apache` runs Apache Kafka (a KRaft broker, Java 17+, jars fetched from "
        "Maven Central once), `standin` the noida-db emulator, `auto` Apache Kafka where Java and the jars (or "
        "Maven) are at hand, else the stand-in. `--kafka-engine` and STREAMSTASH_STACK override it.",
        examples=["apache"],
    )
    kafka_heap_mb: int = Field(
        512, ge=128, le=512, description="Heap of the Apache Kafka broker, in MiB.", examples=[256]
    )
    search: Literal["standin", "opensearch"] = Field(
        "standin",
        description="Search engine: `standin` is the noida-db emulator's Elasticsearch API, `opensearch` a "
        "single OpenSearch 2.19 node (Java 17+, jars fetched from Maven Central once); the services are then "
        "told `elasticsearch.distribution: opensearch`. `--search` and STREAMSTASH_STACK_SEARCH override it.",
        examples=["opensearch"],
    )
    search_heap_mb: int = Field(512, ge=256, le=512, description="Heap of the OpenSearch node, in MiB.", examples=[384])
    data_dir: Path = Field(
        Path(names.DEFAULT_STATE_DIR), description="Where the local stack keeps its data.", examples=[".streamstash"]
    )
    kafka_port: int | None = Field(
        None, ge=1, le=65535, description="Fixed Kafka port; unset picks a free one.", examples=[9092]
    )
    elasticsearch_port: int | None = Field(
        None, ge=1, le=65535, description="Fixed Elasticsearch port; unset picks a free one.", examples=[9200]
    )


LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]


class LoggingSettings(StrictModel):
    """Logs go to stderr, one JSON object per line, written by a background thread (never blocking a service)."""

    level: LogLevel = Field("INFO", description="Log level of every service.", examples=["DEBUG"])
    services: dict[str, LogLevel] = Field(
        default_factory=dict,
        description="Level per service, overriding `level` (`--log-level` overrides both).",
        examples=[{"parser": "DEBUG", "indexer": "WARNING"}],
    )
    json_format: bool = Field(
        True, alias="json", description="One JSON object per log line (else plain text).", examples=[False]
    )

    @field_validator("services")
    @classmethod
    def _known_services(cls, levels: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(levels) - set(names.SERVICES))
        if unknown:
            raise ValueError(f"unknown service(s) {unknown}; expected some of {list(names.SERVICES)}")
        return levels

    def level_for(self, service: str) -> str:
        return self.services.get(service, self.level)


class BatchSettings(StrictModel):
    """Bounds of the micro-batch one Kafka record carries."""

    max_events: int = Field(1000, ge=1, le=100_000, description="Events per record at most.", examples=[500])
    max_bytes: int = Field(512 * 1024, ge=1024, description="Approximate bytes per record at most.", examples=[1048576])
    linger_ms: int = Field(
        100, ge=0, le=60_000, description="How long a partial batch waits for more events.", examples=[20]
    )
