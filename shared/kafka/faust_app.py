"""Faust apps built the same way for every Faust service (parser, aggregator), and how they run."""

from __future__ import annotations

import logging
import signal
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import faust
from aiokafka.errors import IllegalStateError
from faust.exceptions import ConsumerNotStarted
from faust.types import TP

from streamstash.config import PipelineConfig
from streamstash.config.common import KafkaSettings
from streamstash.kafka import compat
from streamstash.kafka.clients import METADATA_MAX_AGE_MS, bootstrap, compression_type, consumer_group
from streamstash.kafka.compat.faust_consumer import agent_topics
from streamstash.kafka.compat.internals import (
    coordination_error,
    faust_coordinator_known,
    faust_done_offset,
    faust_member_id,
)
from streamstash.kafka.membership import leave_for_predecessor_now, remember_member
from streamstash.kafka.security import faust_credentials
from streamstash.runtime.garbage import settle_garbage_collection
from streamstash.runtime.http import HealthServer
from streamstash.runtime.logs import configure_logging
from streamstash.runtime.metrics import ServiceMetrics
from streamstash.runtime.service import StopSignals
from streamstash.runtime.slots import claim_slot

log = logging.getLogger(__name__)

LAG_INTERVAL_S = 2.0
COORDINATION_CHECK_S = 2.0


def make_app(config: PipelineConfig, service: str, **overrides: Any) -> faust.App:
    """A Faust app whose datadir is this instance's state slot, `<state_dir>/<service>/slot-<n>`.

    Before Faust joins the group, the member a crashed predecessor in the same slot left behind is
    made to leave it (see `membership.py`), so a restart after kill -9 gets partitions at once.
    """
    kafka = config.kafka
    group = consumer_group(kafka, service)
    slot = claim_slot(config.state_dir / service)
    predecessor = leave_for_predecessor_now(kafka, group, slot.directory, client_id=f"{service}-handover")
    options: dict[str, Any] = {
        "broker": [f"kafka://{server}" for server in bootstrap(kafka).split(",")],
        "store": "memory://",
        "datadir": str(slot.directory),
        "web_enabled": False,  # we serve /metrics and /healthz ourselves; Faust's fixed port breaks scaling
        "topic_partitions": kafka.partitions,
        "topic_replication_factor": kafka.replication_factor,
        "producer_acks": -1,
        "producer_compression_type": compression_type(kafka.compression),
        "producer_max_request_size": kafka.max_message_bytes,
        "producer_linger_ms": 5,
        "consumer_max_fetch_size": kafka.max_message_bytes,
        "consumer_auto_offset_reset": "earliest",
        # Records are batches of hundreds of events, so few records per poll keep latency low.
        "broker_max_poll_records": 50,
        "stream_buffer_maxsize": 64,
        "broker_commit_every": 100,
        "broker_commit_interval": 1.0,
        # An agent that crashed exits the worker, so that its supervisor (`streamstash run`, the compose restart
        # policy) starts it again from the committed offsets. Faust's default restarts the agent in place,
        # past the record it failed on, or forever on one that always fails (a changelog seen with 0
        # partitions did that: the aggregator sat there dead for minutes, its log full of PartitionsMismatch).
        "agent_supervisor": "mode.CrashingSupervisor",
        "consumer_metadata_max_age_ms": METADATA_MAX_AGE_MS,
        "key_serializer": "raw",
        "value_serializer": "raw",
        # Faust hands them to each aiokafka client it makes (consumer, producer, the topic creator).
        "broker_credentials": faust_credentials(kafka),
    }
    options.update(overrides)
    if compat.installed() is None:
        raise RuntimeError("streamstash.kafka.compat.install() must run at the start of the service process")
    app = compat.AtLeastOnceApp(group, **options)
    app.state_slot = slot

    @app.task
    async def report_start() -> None:  # logging is configured only once the worker runs
        log.info(
            "starting",
            extra={
                "service": service,
                "group": group,
                "slot": slot.number,
                "directory": str(slot.directory),
                "left_group_for_predecessor": predecessor,
            },
        )

    @app.timer(COORDINATION_CHECK_S)
    async def exit_if_group_coordination_died() -> None:
        # aiokafka logs "Unexpected error in coordinator routine" and never rejoins: without this the
        # worker would sit there unassigned for good instead of being restarted by its supervisor.
        error = coordination_error(app)
        if error is not None:
            log.error(
                "Kafka group coordination of this consumer died: exiting for a restart",
                extra={"service": service, "group": group, "error": repr(error)[:500]},
            )
            await app.crash(error)

    async def record_member(assigned: set[TP]) -> None:
        # Every assignment: a member that lost its session rejoins under a new id.
        remember_member(slot.directory, group, faust_member_id(app))

    on_assigned(app, record_member)
    return app


PartitionsCallback = Callable[[set[TP]], Awaitable[None]]


def on_assigned(app: faust.App, callback: PartitionsCallback) -> None:
    """``callback(assigned)`` after each assignment (the whole new assignment, Faust's rebalances being eager)."""

    async def receiver(_app: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:  # Faust: (app, assigned)
        await callback(args[0])

    app.on_partitions_assigned.connect(receiver)


def on_revoked(app: faust.App, callback: PartitionsCallback) -> None:
    """``callback(revoked)`` when partitions are taken away, before they are assigned anew."""

    async def receiver(_app: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        await callback(args[0])

    app.on_partitions_revoked.connect(receiver)


def changelog_topic(kafka: KafkaSettings, service: str, table: str) -> str:
    """The changelog topic Faust gives a table of the service's app (its id is the consumer group)."""
    return f"{consumer_group(kafka, service)}-{table}-changelog"


def raw_topic(app: faust.App, name: str, partitions: int) -> faust.TopicT:
    return app.topic(
        name, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw", partitions=partitions
    )


def attach_health(app: faust.App, config: PipelineConfig, metrics: ServiceMetrics) -> HealthServer:
    """Serve /metrics, /healthz and /readyz for a Faust app, and export its consumer lag per partition."""
    readiness = FaustReadiness(app)
    server = HealthServer(config.http, metrics, ready=readiness)

    @app.task
    async def start_health_server() -> None:
        await server.start()

    attach_lag(app, metrics)
    return server


class FaustReadiness:
    """Ready: partitions were assigned, no rebalance is under way, the group coordinator (Kafka) is
    reachable, and the worker is not stopping."""

    def __init__(self, app: faust.App) -> None:
        self.app = app
        self.assigned_once = False
        on_assigned(app, self._on_assigned)

    async def _on_assigned(self, assigned: set[TP]) -> None:
        self.assigned_once = True

    def __call__(self) -> bool:
        app = self.app
        return self.assigned_once and not app.rebalancing and not app.should_stop and faust_coordinator_known(app)


def attach_lag(app: faust.App, metrics: ServiceMetrics) -> None:
    """``streamstash_consumer_lag`` per assigned partition of the topics the agents consume.

    Lag is the partition's end (highwater of the last fetch) minus the committed offset, as Kafka's
    tools count it; before the first commit of a partition, minus the next offset to read.
    Only the agents' topics count: table changelogs and faust's internal topics are read, not consumed.
    """
    observed: set[TP] = set()
    exported_rereads: Counter[tuple[str, str]] = Counter()

    @app.timer(LAG_INTERVAL_S)
    async def observe_consumer_lag() -> None:
        export_rereads(getattr(app.consumer, "rereads", {}), exported_rereads, metrics)
        if app.rebalancing:
            return
        consumer = app.consumer
        consumed = agent_topics(app)
        try:
            assigned = {tp for tp in consumer.assignment() if tp.topic in consumed}
        except (ConsumerNotStarted, IllegalStateError, AssertionError):
            return
        for tp in observed - assigned:
            metrics.forget_lag(tp.topic, tp.partition)
        observed.clear()
        for tp in assigned:
            lag = await partition_lag(consumer, tp)
            if lag is not None:
                metrics.lag(tp.topic, tp.partition, lag)
                observed.add(tp)


def export_rereads(
    rereads: Mapping[tuple[str, str], int], exported: Counter[tuple[str, str]], metrics: ServiceMetrics
) -> None:
    """Add to ``streamstash_consumer_rereads`` what the consumer counted since the last export."""
    for (topic, reason), count in rereads.items():
        new = count - exported[(topic, reason)]
        if new > 0:
            metrics.reread(topic, reason, new)
            exported[(topic, reason)] = count


async def partition_lag(consumer: Any, tp: TP) -> int | None:
    try:
        end = consumer.highwater(tp)
        if end is None:
            return None  # nothing fetched from this partition yet
        done = faust_done_offset(consumer, tp)
        if done is None:
            done = await consumer.position(tp)
    except (ConsumerNotStarted, IllegalStateError, AssertionError, KeyError):
        return None  # revoked meanwhile
    return max(0, end - (done or 0))


class ServiceWorker(faust.Worker):
    """A Faust worker with the services' stop rules (see ``runtime.StopSignals``).

    mode's own worker stops gracefully on the first SIGINT/SIGTERM (stop fetching, wait until the
    agents acknowledged what they hold, commit, flush the producer) but without a time limit, and
    ignores any further signal; here the drain is bounded and a second signal exits at once.
    """

    def __init__(self, app: faust.App, service: str, shutdown_timeout_s: float, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.spinner = None  # a terminal spinner, whose escape codes would end up in the logs
        self.stop_signals = StopSignals(service, shutdown_timeout_s, self._stop_gracefully)

    def _on_sigint(self) -> None:
        self.stop_signals.received(signal.SIGINT)

    def _on_sigterm(self) -> None:
        self.stop_signals.received(signal.SIGTERM)

    def _stop_gracefully(self) -> None:
        super()._on_sigterm()


def run_worker(app: faust.App, config: PipelineConfig, service: str) -> None:
    """Run a Faust worker in the foreground; SIGINT/SIGTERM stop it after committing."""
    level = config.logging.level_for(service)
    configure_logging(service, level, config.logging.json_format)
    worker = ServiceWorker(
        app,
        service,
        config.shutdown_timeout_s,
        loglevel=level,
        quiet=True,
        override_logging=False,
        redirect_stdouts=False,
    )
    settle_garbage_collection(service)
    try:
        worker.execute_from_commandline()
    finally:
        first_at = worker.stop_signals.first_at
        if first_at is not None:
            log.info("stopped", extra={"service": service, "drained_in_s": round(time.monotonic() - first_at, 3)})
