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
FIELD_RAW_B64: Final = "raw_b64"  # the original bytes of a line that was not valid UTF-8
# Logstash's metadata: fields filters, conditions and index names use, never written to Elasticsearch.
FIELD_METADATA: Final = "@metadata"
# Fields of emitted aggregates.
FIELD_TASK_ID: Final = "task_id"
FIELD_AGGREGATION: Final = "aggregation"
FIELD_FLUSH_REASON: Final = "flush_reason"
FIELD_WINDOW_START: Final = "window_start"
FIELD_WINDOW_END: Final = "window_end"
# Where Logstash moves an `@timestamp` value it cannot read (e.g. one a json filter brought in).
FIELD_TIMESTAMP_FAILURE: Final = "_@timestamp"
# Prefix of the hidden field that `import-logstash` uses to take an if/else branch once (removed after it).
FIELD_BRANCH_MARKER_PREFIX: Final = "_streamstash_branch_"

# Tags (Logstash-compatible where Logstash has one).
TAG_GROK_FAILURE: Final = "_grokparsefailure"
TAG_GROK_TIMEOUT: Final = "_groktimeout"
TAG_DATE_FAILURE: Final = "_dateparsefailure"
TAG_JSON_FAILURE: Final = "_jsonparsefailure"
TAG_DISSECT_FAILURE: Final = "_dissectfailure"
TAG_JSON_TOO_DEEP: Final = "_jsontoodeep"
TAG_JSON_TOO_LARGE: Final = "_jsontoolarge"
TAG_TIMESTAMP_FAILURE: Final = "_timestampparsefailure"
TAG_TRUNCATED: Final = "_truncated"
TAG_INVALID_UTF8: Final = "_invalid_utf8"
TAG_DECODE_FAILURE: Final = "_recorddecodefailure"
TAG_INDEX_REJECTED: Final = "_indexrejected"
# Aggregates emitted for a reason other than their regular flush rule (timeouts, late events).
TAG_AGGREGATE_INACTIVITY: Final = "_aggregate_inactivity"
TAG_AGGREGATE_TIMEOUT: Final = "_aggregate_timeout"
TAG_AGGREGATE_IDLE: Final = "_aggregate_idle"
TAG_AGGREGATE_LATE: Final = "_aggregate_late"
TAG_MULTILINE: Final = "multiline"
TAG_MULTILINE_MAX_LINES: Final = "multiline_codec_max_lines_reached"
TAG_SYSLOG_INVALID_PRIORITY: Final = "_syslog_invalid_priority"
TAG_SYSLOG_PARSE_FAILURE: Final = "_syslogparsefailure"
TAG_FRAMING_ERROR: Final = "_framing_error"
# Failures of the enrichment filters (geoip, csv, urldecode, syslog_pri as Logstash tags them; fingerprint ours).
TAG_GEOIP_FAILURE: Final = "_geoip_lookup_failure"
TAG_CSV_FAILURE: Final = "_csvparsefailure"
TAG_CSV_EMPTY_ROW: Final = "_csvskippedemptyfield"
TAG_URLDECODE_FAILURE: Final = "_urldecodefailure"
TAG_SYSLOG_PRI_FAILURE: Final = "_syslogpriparsefailure"
TAG_FINGERPRINT_FAILURE: Final = "_fingerprintfailure"

# Collector: event fields set by inputs, Kafka record headers on logs.raw.
FIELD_SYSLOG: Final = "syslog"
HEADER_COLLECTOR: Final = "streamstash-collector"
HEADER_BATCH_ID: Final = "streamstash-batch"
HEADER_POSITIONS: Final = "streamstash-positions"

# The `reason` label of the event counters (runtime/metrics.py), every service's in one place.
# streamstash_events_failed: sent to logs.dlq, or tried again.
REASON_DEAD_LETTER: Final = "dead_letter"  # parser, aggregator: the event or record is in logs.dlq
REASON_UNDECODABLE: Final = "undecodable"  # indexer: a record that is not a batch, in logs.dlq
REASON_REJECTED: Final = "rejected_by_elasticsearch"  # indexer: rejected for good, in logs.dlq
REASON_BULK_RETRY: Final = "bulk_retry"  # indexer: a document sent again (429/5xx)
REASON_KAFKA_SEND_RETRY: Final = "kafka_send_retry"  # collector: a batch sent again
REASON_BEATS_PROTOCOL_ERROR: Final = "beats_protocol_error"  # collector: a Beat spoke no lumberjack v2
# streamstash_events_dropped: left out on purpose, as the pipeline says.
REASON_DROP_FILTER: Final = "drop_filter"  # parser: a `drop` filter
REASON_DUPLICATE_DELIVERY: Final = "duplicate_delivery"  # aggregator: an event it had folded already
REASON_CONSUMED: Final = "consumed_by_aggregation"  # indexer: an aggregation took it (`index_events: false`)
# streamstash_events_lost: lines that will never reach logs.raw; meant to stay 0.
REASON_BUFFER_FULL: Final = "buffer_full"  # UDP datagrams while memory and spill are full
REASON_KAFKA_REJECTED: Final = "kafka_rejected"  # a batch Kafka refused for good (e.g. too large)
REASON_STOPPED_UNSENT: Final = "stopped_unsent"  # stopped without a spill before Kafka took them

# Why a Faust service read records again (label of streamstash_consumer_rereads).
REREAD_UNACKNOWLEDGED_HEAD: Final = "unacknowledged_head"

# Source kinds (where a line entered).
SOURCE_FILE: Final = "file"
SOURCE_DOCKER: Final = "docker"
SOURCE_UDP: Final = "udp"
SOURCE_TCP: Final = "tcp"
SOURCE_STDIN: Final = "stdin"
SOURCE_AGGREGATE: Final = "aggregate"
SOURCE_UNKNOWN: Final = "unknown"  # a dead letter of a record that could not be decoded
SOURCE_BEATS: Final = "beats"

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
ENV_LOG_LEVEL: Final = "STREAMSTASH_LOG_LEVEL"
ENV_HTTP_HOST: Final = "STREAMSTASH_HTTP_HOST"
# "1": the brokers are the noida-db stand-in (kafka.standin).
ENV_KAFKA_STANDIN: Final = "STREAMSTASH_KAFKA_STANDIN"
# Which Kafka engine the local stack runs: apache, standin or auto (stack.kafka).
ENV_STACK: Final = "STREAMSTASH_STACK"
# Which search engine the local stack runs: standin or opensearch (stack.search).
ENV_STACK_SEARCH: Final = "STREAMSTASH_STACK_SEARCH"
# What the Elasticsearch hosts run: elasticsearch or opensearch (elasticsearch.distribution).
ENV_ELASTICSEARCH_DISTRIBUTION: Final = "STREAMSTASH_ELASTICSEARCH_DISTRIBUTION"
# Where engines fetched from Maven Central are kept (default: ~/.cache/streamstash).
ENV_ENGINES_DIR: Final = "STREAMSTASH_ENGINES_DIR"
# "off": services keep Python's default garbage-collector settings (runtime.garbage).
ENV_GC_TUNING: Final = "STREAMSTASH_GC_TUNING"

# The `streamstash` command as a module (`python -m`), for processes that start services.
ENTRY_MODULE: Final = "streamstash.services.cli"

# Local state.
DEFAULT_STATE_DIR: Final = ".streamstash"
