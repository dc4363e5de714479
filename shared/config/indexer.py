"""Settings of the indexer: where documents go and how they are bulk-written."""

from __future__ import annotations

from pydantic import Field

from streamstash import names
from streamstash.config.base import StrictModel


class BulkSettings(StrictModel):
    """Bulk request bounds (Elastic suggests requests of a few MB; start near 1,000-5,000 documents)."""

    max_docs: int = Field(2000, ge=1, description="Documents per bulk request at most.", examples=[5000])
    max_bytes: int = Field(5 * 1024 * 1024, ge=1024, description="Bytes per bulk request at most.",
                           examples=[10485760])
    flush_ms: int = Field(500, ge=1, description="Send a partial bulk after this long.", examples=[1000])
    max_in_flight: int = Field(4, ge=1, le=64, description="Bulk requests in flight at most.", examples=[8])


class ElasticsearchOutput(StrictModel):
    index: str = Field(names.DEFAULT_INDEX, description="Index name template; `%{+YYYY.MM.dd}` formats "
                       "@timestamp, `%{field}` inserts a field.", examples=["logs-%{+YYYY.MM.dd}"])
    aggregate_index: str = Field(names.DEFAULT_AGGREGATE_INDEX, description="Index template for aggregates.",
                                 examples=["aggregates-%{+YYYY.MM}"])
    install_template: bool = Field(True, description="Install the streamstash index template at start-up.",
                                   examples=[False])
    bulk: BulkSettings = Field(default_factory=BulkSettings, description="Bulk request bounds.")


class OutputSettings(StrictModel):
    elasticsearch: ElasticsearchOutput = Field(default_factory=ElasticsearchOutput,
                                               description="The Elasticsearch output.")
