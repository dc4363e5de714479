"""The aggregate story this project started from, end to end: its logstash.conf translated by `import-logstash`,
then run by the parser, aggregator and indexer processes on the local stack; the aggregates Elasticsearch holds
are compared with a plain computation of the averages (and the raw events are not indexed)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import yaml
from elasticsearch import Elasticsearch

from streamstash.events.envelope import Batch, Event, Source
from streamstash.logstash.command import import_logstash_command
from tests.helpers.elastic import all_documents, count, wait_for_count
from tests.helpers.kafka import produce_batches
from tests.helpers.pipelines import write_pipeline
from tests.helpers.processes import stop_all
from tests.helpers.waiting import wait_until
from tests.integration.aggregator.support import create_topics, metric, serving_port, start
from tests.integration.aggregator.tasklog import GROK_PATTERN, expected_every, task_lines

pytestmark = pytest.mark.integration

LINES = 400
EVERY = 4
# The story's three filter lines as they are, after a grok for the application's lines.
SEED = (
    'input { file { path => "/var/log/app/tasks.log" type => "tasklog" } }\n'
    "filter {\n"
    f'  grok {{ match => {{ "message" => "{GROK_PATTERN}" }} }}\n'
    """  aggregate { task_id => "%{action}_%{progress}" code => "map['avg'] ||= 0; map['avg'] += event.get('elapsed'); map['my_count'] ||= 0; map['my_count'] += 1; if (map['my_count'] == ${LogstashAggregationCount}) event.set('elapsedAvg', (map['avg'] / map['my_count'])); event.set('Aggregetion', true); map['avg'] = 0; map['my_count'] = 0; end" }
  if [Aggregetion] { mutate { remove_field => ["message", "tags", "elapsed", "type"] } aggregate { task_id => "%{action}_%{progress}" code => "" end_of_task => true } }
  if (![Aggregetion]) { drop {} }
}
"""
)
RAW_TIME = "2026-11-21T12:00:00.000Z"  # when "the collector" read the lines; the pipeline has no date filter


def translated_body(tmp_path: Path) -> dict:
    source = tmp_path / "logstash.conf"
    source.write_text(SEED)
    target = tmp_path / "translated.yml"
    errors = io.StringIO()
    code = import_logstash_command(source, target, allow_partial=False, stdout=io.StringIO(), stderr=errors)
    assert code == 0, errors.getvalue()
    translated = yaml.safe_load(target.read_text())
    return {"filters": translated["filters"], "aggregations": translated["aggregations"]}


def raw_records(lines: list[str], per_record: int = 50) -> list[tuple[bytes, Batch]]:
    """`logs.raw` as the collector writes it for the file input: its `type` in the fields."""
    path = "/var/log/app/tasks.log"
    source = Source(kind="file", host="test", path=path)
    events = [Event(message=line, timestamp=RAW_TIME, source=source, fields={"type": "tasklog"}) for line in lines]
    return [(path.encode(), Batch(events=events[at : at + per_record])) for at in range(0, len(events), per_record)]


def test_the_seed_config_runs_through_the_services(servers, es: Elasticsearch, tmp_path: Path, log_dir: Path) -> None:
    lines = task_lines(LINES, seed=7, tasks=5)
    env = {"LogstashAggregationCount": str(EVERY)}
    pipeline = write_pipeline(tmp_path, translated_body(tmp_path), env=env)
    (spec,) = pipeline.config.aggregations
    assert (spec.name, spec.flush.every, spec.index_events) == ("action_progress", EVERY, False)
    expected = expected_every(lines, EVERY, name="action_progress")
    assert len(expected) >= LINES // EVERY - 5

    create_topics(pipeline, servers.kafka)
    services = start(["parser", "aggregator", "indexer"], pipeline, servers, log_dir, env=env)
    try:
        produce_batches(servers.kafka, pipeline.topics.raw, raw_records(lines))
        wait_for_count(es, pipeline.aggregate_index, len(expected), timeout=240)
        indexer_port = serving_port(services[2])
        # Every parsed line has been through the indexer: indexed, or left to the aggregation.
        wait_until(
            lambda: metric(indexer_port, "streamstash_events_received_total", topic=pipeline.topics.parsed) >= LINES,
            timeout=90,
            message="the indexer did not see every parsed line",
        )
    finally:
        stop_all(services)

    documents = {doc["_id"]: doc for doc in all_documents(es, pipeline.aggregate_index)}
    assert set(documents) == set(expected)
    for doc_id, want in expected.items():
        doc = documents[doc_id]
        assert doc["elapsedAvg"] == pytest.approx(want.average)
        assert doc["Aggregetion"] is True
        assert (doc["action"], doc["progress"], doc["count"]) == (want.action, want.progress, EVERY)
        assert doc["origtime"] == want.timestamp  # the fields of the task's Nth event, as Logstash keeps them
        assert doc["@timestamp"] == RAW_TIME
        for removed in ("message", "tags", "elapsed", "type"):
            assert removed not in doc, (removed, doc)
    assert count(es, pipeline.index) == 0  # `if (![Aggregetion]) { drop {} }`: no raw event is indexed
