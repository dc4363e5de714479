"""What the aggregator integration tests share: topics, feeding `logs.raw`/`logs.parsed`, reading aggregates."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from streamstash.events.envelope import Batch, Event
from streamstash.kafka.topics import ensure_topics
from tests.helpers.kafka import produce_batches, read_events
from tests.helpers.metrics import scrape, total
from tests.helpers.pipelines import TestPipeline
from tests.helpers.processes import ServiceProcess
from tests.helpers.waiting import wait_until


def create_topics(pipeline: TestPipeline, kafka: str) -> None:
    """Before any service starts, so no topic is auto-created with the broker's default partitions."""
    asyncio.run(ensure_topics(pipeline.config.kafka.model_copy(update={"bootstrap_servers": kafka})))


def start(
    services: list[str],
    pipeline: TestPipeline,
    servers,
    log_dir: Path,
    env: dict[str, str] | None = None,
) -> list[ServiceProcess]:
    return [
        ServiceProcess(service, pipeline.path, servers.kafka, servers.elasticsearch, log_dir, extra_env=env)
        for service in services
    ]


def feed_parsed(kafka: str, pipeline: TestPipeline, events: list[Event], per_record: int = 200) -> None:
    """Parsed events straight onto `logs.parsed`, one record per ``per_record``, keyed by source path."""
    batches = [
        ((events[start].source.path or "source").encode(), Batch(events=events[start : start + per_record]))
        for start in range(0, len(events), per_record)
    ]
    produce_batches(kafka, pipeline.topics.parsed, batches)


def feed_parsed_slowly(
    kafka: str,
    pipeline: TestPipeline,
    events: list[Event],
    per_round: int = 500,
    pause_s: float = 0.3,
    per_record: int = 50,
) -> None:
    """A stream rather than one burst: ``per_round`` events, then a pause, until all are sent."""
    for start_at in range(0, len(events), per_round):
        feed_parsed(kafka, pipeline, events[start_at : start_at + per_round], per_record=per_record)
        time.sleep(pause_s)


def aggregates_by_id(kafka: str, pipeline: TestPipeline) -> dict[str, Event]:
    """Every aggregate on `logs.aggregated`, the last copy of each id (what the indexer leaves in place)."""
    return {event.id: event for event in read_events(kafka, pipeline.topics.aggregated) if event.id}


def serving_port(process: ServiceProcess, timeout: float = 240) -> int:
    """The /metrics port, waiting longer than ServiceProcess does: Faust starts slowly on a busy machine."""
    wait_until(
        lambda: "serving metrics and health" in process.log_text() or not process.alive(),
        timeout=timeout,
        message=f"{process.name} never served /metrics",
    )
    assert process.alive(), f"{process.name} exited: {process.log_text()[-2000:]}"
    return process.http_port


def metric(port: int, name: str, **labels: str) -> float:
    """A metric's total over matching labels; 0 while the endpoint is too busy to answer (a loaded machine)."""
    try:
        return total(scrape(port), name, **labels)
    except OSError:
        return 0.0
