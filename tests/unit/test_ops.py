"""Operations logic without Kafka: replay ranges and progress, raw-topic retention, status and `top` figures,
the health endpoint's defaults, the metric families every service serves, and the log format and levels."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console

from streamstash import names
from streamstash.config import PipelineConfig
from streamstash.config.common import HttpSettings, LoggingSettings
from streamstash.kafka.topics import topic_configs
from streamstash.ops.replay import ProgressFigures, ReplayError, ReplayRange, parse_position, replay_config
from streamstash.ops.status import PipelineStatus, ServiceStatus, endpoints_from_run_state, rate, scrape_totals
from streamstash.ops.top import render
from streamstash.runtime.http import HealthServer
from streamstash.runtime.logs import JsonFormatter
from streamstash.runtime.metrics import ServiceMetrics

HOUR_MS = 3_600_000


# ---- replay ----


def test_replay_positions_earliest_iso_time_and_offsets() -> None:
    assert parse_position("earliest") == "earliest"
    assert parse_position("0:1500,1:1720") == {0: 1500, 1: 1720}
    assert parse_position("3:0") == {3: 0}
    assert parse_position("2026-11-21T10:00:00Z") == datetime(2026, 11, 21, 10, tzinfo=UTC)
    assert parse_position("2026-11-21T10:00:00.250+01:00") == datetime(2026, 11, 21, 9, 0, 0, 250_000, tzinfo=UTC)
    for wrong in ("latest", "0:", "yesterday", "0:1,x:2"):
        with pytest.raises(ReplayError):
            parse_position(wrong)


def test_replay_range_counts_only_what_lies_between_start_and_end() -> None:
    assert ReplayRange(start={0: 2, 1: 0}, end={0: 5, 1: 7}).total == 3 + 7
    assert ReplayRange(start={0: 9}, end={0: 5}).total == 0  # a start past the end replays nothing
    assert ReplayRange(start={}, end={0: 4, 1: 1}).total == 5


def test_replay_runs_in_its_own_namespace() -> None:
    config = PipelineConfig.model_validate(
        {
            "kafka": {"topics": {"raw": "web.raw"}},
            "state_dir": "/var/lib/ss",
            "inputs": [{"type": "file", "paths": ["/var/log/a.log"]}],
        }
    )
    range_ = ReplayRange(start={0: 2}, end={0: 5, 1: 8})
    same = replay_config(config, "replay-1", range_, index=None)
    topics = same.kafka.topics
    assert topics.raw == "web.raw", "only the raw topic is shared with the live pipeline"
    assert (topics.parsed, topics.tasks, topics.aggregated, topics.dlq) == (
        "replay-1.parsed",
        "replay-1.tasks",
        "replay-1.aggregated",
        "replay-1.dlq",
    )
    assert same.kafka.consumer_group_prefix == "replay-1"
    assert same.parser.stop_offsets == {0: 5, 1: 8}
    assert same.inputs == []
    assert same.state_dir == Path("/var/lib/ss/replay/replay-1")
    assert same.outputs.elasticsearch.index == config.outputs.elasticsearch.index  # same index: ids overwrite
    new = replay_config(config, "replay-2", range_, index="logs-v2")
    assert (new.outputs.elasticsearch.index, new.outputs.elasticsearch.aggregate_index) == (
        "logs-v2",
        "logs-v2-aggregates",
    )


def test_replay_progress_shows_events_per_second_and_eta() -> None:
    starting = ProgressFigures(records=0, total_records=400, events=None, elapsed_s=0.0)
    assert (starting.events_per_s, starting.eta_s) == (None, None)
    assert (starting.rate_text(), starting.eta_text()) == ("-", "-:--:--")
    # A quarter of the records in 30 s, 12,000 events: 400 events/s, 90 s to go.
    quarter = ProgressFigures(records=100, total_records=400, events=12_000, elapsed_s=30.0)
    assert quarter.events_per_s == 400
    assert quarter.eta_s == 90
    assert (quarter.rate_text(), quarter.eta_text()) == ("400", "0:01:30")
    assert ProgressFigures(100, 100, 5_000, 10.0).eta_s == 0
    assert ProgressFigures(1, 10_001, 100, 1.0).eta_text() == "2:46:40"
    assert quarter.summary() == "100 records, 12,000 events in 30.0 s (400 events/s)"


def test_replay_events_come_from_its_parsers_metrics(tmp_path: Path) -> None:
    from streamstash.ops.replay import parser_events

    assert parser_events(tmp_path) is None  # not started yet: no run state
    metrics = ServiceMetrics(names.SERVICE_PARSER)
    metrics.received("logs.raw", 0, 120)
    metrics.received("logs.raw", 1, 30)

    async def scenario() -> float | None:
        server = HealthServer(HttpSettings(port=0), metrics, lambda: True)
        await server.start()
        try:
            (tmp_path / "run.json").write_text(
                json.dumps(
                    {
                        names.SERVICE_PARSER: {"pid": 1, "http_port": server.port},
                        names.SERVICE_INDEXER: {"pid": 2, "http_port": 1},
                    }
                )
            )  # nobody there: not asked
            return await asyncio.to_thread(parser_events, tmp_path)
        finally:
            await server.stop()

    assert asyncio.run(scenario()) == 150


def test_raw_topic_retention_is_configurable() -> None:
    default = PipelineConfig.model_validate({})
    assert default.kafka.raw_retention_hours == 168
    configs = topic_configs(default.kafka)
    assert configs[names.TOPIC_RAW]["retention.ms"] == str(168 * HOUR_MS)
    month = PipelineConfig.model_validate({"kafka": {"raw_retention_hours": 720, "topics": {"raw": "web.raw"}}})
    assert topic_configs(month.kafka)["web.raw"]["retention.ms"] == str(720 * HOUR_MS)
    assert "retention.ms" not in topic_configs(month.kafka)[names.TOPIC_PARSED]  # the broker's default
    with pytest.raises(ValueError, match="raw_retention_hours"):
        PipelineConfig.model_validate({"kafka": {"raw_retention_hours": 0}})


def test_readme_documents_raw_retention() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    assert "`kafka.raw_retention_hours`" in readme
    assert "retention.ms" in readme


# ---- status and top ----


def test_rates_need_two_figures_and_never_go_negative() -> None:
    assert rate(150.0, 50.0, 2.0) == 50.0
    assert rate(10.0, 50.0, 2.0) == 0.0  # a restarted instance counts from 0 again
    assert rate(None, 50.0, 2.0) is None
    assert rate(150.0, None, 2.0) is None
    assert rate(150.0, 50.0, 0.0) is None


def test_endpoints_come_from_the_run_state(tmp_path: Path) -> None:
    assert endpoints_from_run_state(tmp_path) == {}
    (tmp_path / "run.json").write_text(
        json.dumps(
            {
                "collector": {"pid": 10, "http_port": 9601},
                "parser": {"pid": 11, "http_port": 9602},
                "indexer": {"pid": 12, "http_port": None},
            }
        )
    )
    assert endpoints_from_run_state(tmp_path) == {"collector": ["127.0.0.1:9601"], "parser": ["127.0.0.1:9602"]}
    (tmp_path / "run.json").write_text("{not json")
    assert endpoints_from_run_state(tmp_path) == {}


def snapshot(taken_at: float, parser_in: float | None, parser_out: float | None, lag: int) -> PipelineStatus:
    return PipelineStatus(
        taken_at=taken_at,
        dlq_records=7,
        raw_records=1_000,
        services=[
            ServiceStatus(
                service="collector",
                instances=1,
                events_in=0,
                events_out=1_000,
                events_failed=0,
                events_dropped=0,
                events_lost=0,
            ),
            ServiceStatus(
                service="parser",
                instances=2,
                lag=lag,
                events_in=parser_in,
                events_out=parser_out,
                events_failed=3,
                events_dropped=1,
                events_lost=2,
            ),
            ServiceStatus(service="aggregator", instances=None),
        ],
    )


def table_rows(previous: PipelineStatus | None, current: PipelineStatus) -> tuple[str, dict[str, list[str]]]:
    console = Console(width=120, record=True, file=io.StringIO(), color_system=None)
    console.print(render(current, previous))
    screen = console.export_text()
    rows = {}
    for line in screen.splitlines():
        for bar in ("│", "┃"):  # body rows, header row
            if line.count(bar) >= 8:
                cells = [cell.strip() for cell in line.split(bar)[1:-1]]
                rows[cells[0]] = cells[1:]
    return screen, rows


def test_top_shows_instances_rates_lag_failures_and_the_dlq() -> None:
    screen, rows = table_rows(None, snapshot(100.0, 400, 390, lag=12))
    assert "DLQ records 7" in screen and "raw records 1000" in screen
    assert rows["service"] == ["instances", "in/s", "out/s", "lag", "failed", "dropped", "lost"]
    assert rows["parser"] == ["2", "-", "-", "12", "3", "1", "2"], "no rate before a second snapshot"
    assert rows["aggregator"] == ["-", "-", "-", "-", "-", "-", "-"], "nothing known: dashes, not zeros"
    _, rows = table_rows(snapshot(100.0, 400, 390, lag=12), snapshot(102.0, 1_400, 1_190, lag=0))
    assert rows["parser"] == ["2", "500.0", "400.0", "0", "3", "1", "2"]


def test_status_json_is_machine_readable() -> None:
    document = json.loads(snapshot(100.0, 400, 390, lag=12).to_json())
    assert set(document) == {"taken_at", "services", "dlq_records", "raw_records"}
    parser = document["services"][1]
    assert parser["service"] == "parser"
    assert (parser["instances"], parser["lag"], parser["events_in"], parser["events_failed"]) == (2, 12, 400, 3)


# ---- /metrics, /healthz, /readyz ----


def test_the_endpoint_binds_to_localhost_by_default() -> None:
    settings = HttpSettings()
    assert (settings.host, settings.port, settings.enabled) == ("127.0.0.1", 9600, True)
    assert PipelineConfig.model_validate({}).http == settings
    assert PipelineConfig.model_validate({"http": {"host": "0.0.0.0", "port": 9700}}).http.host == "0.0.0.0"


def test_the_endpoint_address_is_configurable_on_the_command_line() -> None:
    from streamstash.cli import HttpHostOption, with_overrides

    changed = with_overrides(
        PipelineConfig.model_validate({}), "kafka:9092", "http://es01:9200", http_port=0, http_host="0.0.0.0"
    )
    assert (changed.http.host, changed.http.port) == ("0.0.0.0", 0)
    assert HttpHostOption.__metadata__[0].envvar == names.ENV_HTTP_HOST


def get(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_health_server_answers_metrics_health_and_readiness() -> None:
    metrics = ServiceMetrics("parser")
    metrics.received("logs.raw", 0, 5)
    readiness = {"ready": False}

    async def scenario() -> None:
        server = HealthServer(HttpSettings(port=0), metrics, lambda: readiness["ready"])
        await server.start()
        try:
            assert server.port
            assert server._runner is not None
            hosts = {socket.getsockname()[0] for site in server._runner.sites for socket in site._server.sockets}
            assert hosts == {"127.0.0.1"}
            health = await asyncio.to_thread(get, server.port, "/healthz")
            assert (health[0], json.loads(health[1])) == (200, {"status": "ok", "service": "parser"})
            not_ready = await asyncio.to_thread(get, server.port, "/readyz")
            assert (not_ready[0], json.loads(not_ready[1])) == (503, {"ready": False, "service": "parser"})
            readiness["ready"] = True
            ready = await asyncio.to_thread(get, server.port, "/readyz")
            assert (ready[0], json.loads(ready[1])) == (200, {"ready": True, "service": "parser"})
            status, body = await asyncio.to_thread(get, server.port, "/metrics")
            assert status == 200
            assert (
                'streamstash_events_received_total{partition="0",service="parser",topic="logs.raw"} 5.0'
                in body.decode()
            )
            totals = await asyncio.to_thread(scrape_totals, f"127.0.0.1:{server.port}")
            assert totals is not None and totals["received"] == 5
        finally:
            await server.stop()

    asyncio.run(scenario())


def test_a_disabled_endpoint_serves_nothing() -> None:
    async def scenario() -> None:
        server = HealthServer(HttpSettings(enabled=False), ServiceMetrics("indexer"), lambda: True)
        await server.start()
        assert server.port is None
        await server.stop()

    asyncio.run(scenario())


def families(metrics: ServiceMetrics) -> dict[str, list]:
    return {family.name: family.samples for family in text_string_to_metric_families(metrics.render().decode())}


def test_every_service_has_the_standard_families() -> None:
    metrics = ServiceMetrics("aggregator")
    metrics.received("logs.parsed", 1, 10)
    metrics.sent("logs.aggregated", 1, 2)
    metrics.failed("logs.parsed", "decode")
    metrics.dropped("logs.parsed", "drop_filter", 3)
    metrics.lost("logs.parsed", "buffer_full", 0)
    metrics.observe_batch("aggregate", 0.02)
    metrics.lag("logs.parsed", 1, 40)
    metrics.lag("logs.parsed", 2, 0)
    metrics.buffer_fill.labels("aggregator", "memory").set(5)
    found = families(metrics)
    for name in (
        "streamstash_events_received",
        "streamstash_events_sent",
        "streamstash_events_failed",
        "streamstash_events_dropped",
        "streamstash_events_lost",
        "streamstash_batch_seconds",
        "streamstash_consumer_lag",
        "streamstash_buffer_fill",
    ):
        assert name in found, name
    lag = {sample.labels["partition"]: sample.value for sample in found["streamstash_consumer_lag"]}
    assert lag == {"1": 40, "2": 0}
    metrics.forget_lag("logs.parsed", 2)  # revoked: another instance reports it now
    metrics.forget_lag("logs.parsed", 9)  # never ours: no error
    assert {s.labels["partition"] for s in families(metrics)["streamstash_consumer_lag"]} == {"1"}
    assert any(
        s.name == "streamstash_batch_seconds_count" and s.labels["stage"] == "aggregate" and s.value == 1
        for s in found["streamstash_batch_seconds"]
    )


def test_the_indexer_adds_bulk_latency_and_errors() -> None:
    from streamstash.services.indexer.metrics import IndexerMetrics

    service = ServiceMetrics("indexer")
    indexer = IndexerMetrics(service)
    indexer.bulk_seconds.observe(0.03)
    indexer.bulk_requests.inc()
    indexer.bulk_error("429")
    found = families(service)
    assert any(
        s.name == "streamstash_bulk_request_seconds_count" and s.value == 1
        for s in found["streamstash_bulk_request_seconds"]
    )
    assert [(s.labels["kind"], s.value) for s in found["streamstash_bulk_errors"] if s.name.endswith("_total")] == [
        ("429", 1)
    ]
    assert "streamstash_events_received" in found  # the standard families, same endpoint


# ---- logs ----


def test_log_lines_are_json_with_fields_first_and_the_sentence_last() -> None:
    record = logging.LogRecord(
        "streamstash.x", logging.WARNING, __file__, 1, "kafka not reachable yet, retrying", None, None
    )
    record.attempt = 3
    record.retry_in_s = 4.0
    line = JsonFormatter("parser").format(record)
    entry = json.loads(line)
    assert list(entry) == ["ts", "level", "service", "logger", "attempt", "retry_in_s", "msg"]
    assert (entry["level"], entry["service"], entry["attempt"], entry["msg"]) == (
        "WARNING",
        "parser",
        3,
        "kafka not reachable yet, retrying",
    )
    assert entry["ts"].endswith("Z")


def test_log_level_per_service_and_the_command_line_override() -> None:
    from streamstash.cli import with_log_level

    settings = LoggingSettings.model_validate({"level": "WARNING", "services": {"parser": "DEBUG"}})
    assert settings.level_for("parser") == "DEBUG"
    assert settings.level_for("indexer") == "WARNING"
    with pytest.raises(ValueError, match="unknown service"):
        LoggingSettings.model_validate({"services": {"parsr": "DEBUG"}})
    config = PipelineConfig.model_validate({"logging": {"level": "WARNING", "services": {"parser": "DEBUG"}}})
    overridden = with_log_level(config, "parser", "error")
    assert overridden.logging.level_for("parser") == "ERROR"
    assert overridden.logging.level_for("indexer") == "WARNING"
