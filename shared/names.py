"""Every topic, field, tag, header and index name used by more than one module, defined once."""

from __future__ import annotations

from typing import Final

# Topics (defaults; a pipeline may rename them under `kafka.topics`).
TOPIC_RAW: Final = "logs.raw"
TOPIC_PARSED: Final = "logs.parsed"
TOPIC_AGGREGATED: Final = "logs.aggregated"
TOPIC_DLQ: Final = "logs.dlq"
# Internal: parsed events re-keyed by aggregation task id.
TOPIC_TASKS: Final = "logs.tasks"

# Event document fields (as they appear in Elasticsearch).
FIELD_TIMESTAMP: Final = "@timestamp"
FIELD_MESSAGE: Final = "message"
FIELD_TAGS: Final = "tags"
FIELD_SOURCE: Final = "source"
FIELD_EVENT_ID: Final = "event_id"
FIELD_AGGREGATED: Final = "aggregated"
FIELD_COUNT: Final = "count"

# Tags (Logstash-compatible where Logstash has one).
TAG_GROK_FAILURE: Final = "_grokparsefailure"
TAG_GROK_TIMEOUT: Final = "_groktimeout"
TAG_DATE_FAILURE: Final = "_dateparsefailure"
TAG_JSON_FAILURE: Final = "_jsonparsefailure"
TAG_DISSECT_FAILURE: Final = "_dissectfailure"
TAG_TRUNCATED: Final = "_truncated"
TAG_INVALID_UTF8: Final = "_invalid_utf8"
TAG_DECODE_FAILURE: Final = "_recorddecodefailure"
TAG_INDEX_REJECTED: Final = "_indexrejected"

# Source kinds (where a line entered).
SOURCE_FILE: Final = "file"
SOURCE_DOCKER: Final = "docker"
SOURCE_UDP: Final = "udp"
SOURCE_TCP: Final = "tcp"
SOURCE_STDIN: Final = "stdin"

# Service names (CLI subcommands, metric labels, consumer-group suffixes).
SERVICE_COLLECTOR: Final = "collector"
SERVICE_PARSER: Final = "parser"
SERVICE_AGGREGATOR: Final = "aggregator"
SERVICE_INDEXER: Final = "indexer"
SERVICES: Final = (SERVICE_COLLECTOR, SERVICE_PARSER, SERVICE_AGGREGATOR, SERVICE_INDEXER)

# Elasticsearch.
INDEX_TEMPLATE_NAME: Final = "streamstash"
DEFAULT_INDEX: Final = "logs-%{+YYYY.MM.dd}"
DEFAULT_AGGREGATE_INDEX: Final = "logs-aggregated-%{+YYYY.MM.dd}"
DEFAULT_DLQ_INDEX: Final = "logs-dlq"

# Environment variables.
ENV_KAFKA: Final = "STREAMSTASH_KAFKA"
ENV_ELASTICSEARCH: Final = "STREAMSTASH_ELASTICSEARCH"

# Local state.
DEFAULT_STATE_DIR: Final = ".streamstash"
