"""Settings of the indexer: where documents go and how they are bulk-written."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from streamstash import names
from streamstash.config.base import StrictModel


class BulkSettings(StrictModel):
    """Bulk request bounds and concurrency.

    Elastic's guidance ("Tune for indexing speed"): requests of a few MB (start near 5-15 MB) and a
    few thousand documents, several requests in parallel, and back off on 429. A request is sent
    when it reaches ``max_docs`` or ``max_bytes``, or when its oldest document waited ``flush_ms``.
    """

    max_docs: int = Field(2000, ge=1, description="Documents per bulk request at most.", examples=[5000])
    max_bytes: int = Field(
        10 * 1024 * 1024,
        ge=1024,
        description="Bytes per bulk request at most (Elastic suggests 5-15 MB).",
        examples=[10485760],
    )
    # 200, not 500: with the index's 1 s refresh a document waits up to flush_ms + 1 s before search shows
    # it: at 500 the p99 from written to searchable was 2.2 s at 2,000 lines/s on OpenSearch, at 200 1.9 s
    # (bench/e2e.py, one run each in one sitting; bench/README.md).
    # Under load a request fills to max_docs first, so the shorter wait costs requests only when it is quiet.
    flush_ms: int = Field(
        200, ge=1, description="Send a partial bulk once its oldest document waited this long.", examples=[1000]
    )
    max_in_flight: int = Field(4, ge=1, le=64, description="Bulk requests in flight at most.", examples=[8])
    adaptive_concurrency: bool = Field(
        True,
        description="Grow in-flight requests (1..max_in_flight) while the backlog grows and Elasticsearch "
        "keeps up; shrink on 429 or rising latency. Off: always max_in_flight.",
        examples=[False],
    )
    retry_initial_ms: int = Field(
        100,
        ge=1,
        description="First retry delay (429, 5xx, connection errors); doubles each attempt, with full jitter.",
        examples=[200],
    )
    retry_max_ms: int = Field(10_000, ge=1, description="Longest retry delay.", examples=[60000])
    max_item_retries: int | None = Field(
        None,
        ge=1,
        description="Give a document that keeps failing with 429/5xx up to the DLQ after this many "
        "retries. Unset: retry for ever (Logstash's behaviour); connection errors are always retried.",
        examples=[50],
    )
    drain_timeout_s: float = Field(
        30.0,
        gt=0,
        description="On stop or rebalance, wait this long for bulk "
        "requests in flight before giving up (uncommitted records are re-read).",
        examples=[60],
    )


class ElasticsearchOutput(StrictModel):
    index: str = Field(
        names.DEFAULT_INDEX,
        description="Index name template; `%{+YYYY.MM.dd}` formats "
        "@timestamp, `%{field}` inserts a field. With `data_stream: true`, the data stream name.",
        examples=["logs-%{+YYYY.MM.dd}"],
    )
    aggregate_index: str = Field(
        names.DEFAULT_AGGREGATE_INDEX, description="Index template for aggregates.", examples=["aggregates-%{+YYYY.MM}"]
    )
    install_template: bool = Field(
        True, description="Install the streamstash index template at start-up.", examples=[False]
    )
    template_name: str | None = Field(
        None,
        description="Name of the installed index template. Unset: "
        "`streamstash-<index prefix>`, so pipelines with different indices do not "
        "overwrite each other's template.",
        examples=["streamstash-web"],
    )
    data_stream: bool = Field(
        False,
        description="Write to data streams: `index`/`aggregate_index` name data "
        "streams, documents are sent with op_type `create`, the template declares "
        "`data_stream`. A replayed document answers 409, counted as already indexed.",
        examples=[True],
    )
    op_type: Literal["index", "create"] = Field(
        "index",
        description="Bulk operation: `index` overwrites a document with the same id (replays are "
        "idempotent), `create` never overwrites (409 on replay counts as already indexed). Data streams force "
        "`create`.",
        examples=["create"],
    )
    ecs_compatibility: Literal["disabled", "v8"] = Field(
        "disabled",
        description="`v8`: rename Logstash's classic grok fields to Elastic Common Schema names "
        "(clientip -> source.address, response -> http.response.status_code, ...; see "
        "services/indexer/ecs.py) and map them in the template.",
        examples=["v8"],
    )
    document_id: str | None = Field(
        None,
        description="Template of the id of each event's document (Logstash's `document_id`, e.g. "
        "`%{[@metadata][fingerprint]}`): documents with the same id replace each other. An event missing a field it "
        "names, and every aggregate, keeps its own id. Unset: where the line entered logs.raw, so a replay "
        "overwrites instead of duplicating.",
        examples=["%{[@metadata][fingerprint]}"],
    )
    pipeline: str | None = Field(
        None,
        description="Elasticsearch ingest pipeline the documents go through (a template: "
        "`%{[@metadata][pipeline]}`); a document whose template names a missing field is sent without one.",
        examples=["geoip-enrich"],
    )
    template_file: str | None = Field(
        None,
        description="A JSON index template installed instead of streamstash's own, under `template_name` "
        "(Logstash's `template`): a composable template (with `template`) or a legacy one (with `mappings`).",
        examples=["/etc/streamstash/web-template.json"],
    )
    template_patterns: list[str] | None = Field(
        None,
        description="Index patterns of the installed template. Unset: from `index` and `aggregate_index` "
        "(`logs-%{+YYYY.MM.dd}` -> `logs-*`).",
        examples=[["web-*", "api-*"]],
    )
    template_overwrite: bool = Field(
        True,
        description="Replace an existing template of the same name at start-up; false keeps it (Logstash's default).",
        examples=[False],
    )
    ilm_policy: str | None = Field(
        None,
        description="ILM policy set in the installed template (`index.lifecycle.name`); with `data_stream: true`, "
        "Elasticsearch also rolls the data streams over by it.",
        examples=["logs-30d"],
    )
    group_instance_id: str | None = Field(
        None,
        description="Kafka static group membership (`group.instance.id`) of this indexer instance: a "
        "restarted indexer with the same id takes its partitions back at once instead of waiting for a session "
        "timeout and a rebalance. Must differ between replicas, e.g. `${HOSTNAME}`. Unset: dynamic membership.",
        examples=["${HOSTNAME}"],
    )
    bulk: BulkSettings = Field(default_factory=BulkSettings, description="Bulk request bounds.")

    @model_validator(mode="after")
    def _data_streams_create(self) -> ElasticsearchOutput:
        if self.data_stream and self.op_type != "create":
            # Elasticsearch accepts only `create` on a data stream.
            self.op_type = "create"
        return self


class OutputSettings(StrictModel):
    elasticsearch: ElasticsearchOutput = Field(
        default_factory=ElasticsearchOutput, description="The Elasticsearch output."
    )
