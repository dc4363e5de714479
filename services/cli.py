"""The `streamstash` entry point: the library's commands plus one command per service.

It sits above the library (``streamstash.cli``) and the services, so that the library never imports a
service. Every service command loads the pipeline, installs the Kafka adapter, makes sure the topics
exist, and runs the service in the foreground.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from streamstash import names
from streamstash.cli import (
    ConfigOption,
    DistributionOption,
    ElasticsearchOption,
    HttpHostOption,
    HttpPortOption,
    KafkaOption,
    KafkaStandinOption,
    LogLevelOption,
    app,
    fail,
    install_kafka_compat,
    load_config,
    with_log_level,
    with_overrides,
)
from streamstash.config import PipelineConfig


def service_settings(
    service: str,
    path: Path,
    kafka: str | None,
    elasticsearch: str | None,
    http_port: int | None,
    http_host: str | None,
    kafka_standin: bool | None,
    log_level: str | None,
    distribution: str | None = None,
) -> PipelineConfig:
    """A service's settings, with the pipeline's topics made sure to exist before it touches Kafka.

    Services create the topics themselves (idempotently) so that no client auto-creates one with the
    broker's default partition count first. While they wait for Kafka they log (as the service) and
    answer /readyz "not ready" (``runtime.startup``); unusable TLS files are a configuration error.
    """
    from streamstash.kafka.security import KafkaSecurityError, check_security
    from streamstash.runtime.logs import configure_logging
    from streamstash.runtime.startup import wait_for_kafka

    settings = with_overrides(
        load_config(path), kafka, elasticsearch, http_port, http_host, kafka_standin, distribution=distribution
    )
    if log_level:
        settings = with_log_level(settings, service, log_level)
    # Before the first Kafka client: what the adapter installs, and waiting for Kafka, are logged as JSON too.
    configure_logging(service, settings.logging.level_for(service), settings.logging.json_format)
    try:
        check_security(settings.kafka)
    except KafkaSecurityError as exc:
        raise fail(str(exc), 2) from exc
    install_kafka_compat(settings)
    return asyncio.run(wait_for_kafka(settings, service))


def run_collector(settings: PipelineConfig) -> None:
    from streamstash.runtime.service import run_service
    from streamstash.services.collector.app import run_collector as collector_main

    run_service(names.SERVICE_COLLECTOR, settings, lambda stop: collector_main(settings, stop))


def run_parser(settings: PipelineConfig) -> None:
    from streamstash.kafka.faust_app import run_worker
    from streamstash.services.parser.app import build_app

    run_worker(build_app(settings), settings, names.SERVICE_PARSER)


def run_aggregator(settings: PipelineConfig) -> None:
    from streamstash.kafka.faust_app import run_worker
    from streamstash.services.aggregator.app import build_app
    from streamstash.services.aggregator.topics import ensure_pipeline_topics

    ensure_pipeline_topics(settings)
    run_worker(build_app(settings), settings, names.SERVICE_AGGREGATOR)


def run_indexer(settings: PipelineConfig) -> None:
    from streamstash.runtime.service import run_service
    from streamstash.services.indexer.app import run_indexer as indexer_main

    run_service(names.SERVICE_INDEXER, settings, lambda stop: indexer_main(settings, stop))


SERVICE_COMMANDS: dict[str, tuple[Callable[[PipelineConfig], None], str]] = {
    names.SERVICE_COLLECTOR: (run_collector, "Run the collector: inputs -> logs.raw."),
    names.SERVICE_PARSER: (run_parser, "Run the parser (Faust agent): logs.raw -> logs.parsed + logs.dlq."),
    names.SERVICE_AGGREGATOR: (
        run_aggregator,
        "Run the aggregator (Faust agents, RocksDB tables): logs.parsed -> logs.aggregated.",
    ),
    names.SERVICE_INDEXER: (run_indexer, "Run the indexer: logs.parsed + logs.aggregated -> Elasticsearch."),
}


def add_service_command(service: str, run: Callable[[PipelineConfig], None], help_text: str) -> None:
    def command(
        config: ConfigOption,
        kafka: KafkaOption = None,
        elasticsearch: ElasticsearchOption = None,
        http_port: HttpPortOption = None,
        http_host: HttpHostOption = None,
        kafka_standin: KafkaStandinOption = None,
        log_level: LogLevelOption = None,
        distribution: DistributionOption = None,
    ) -> None:
        run(
            service_settings(
                service, config, kafka, elasticsearch, http_port, http_host, kafka_standin, log_level, distribution
            )
        )

    command.__doc__ = help_text
    app.command(service)(command)


for _service, (_run, _help) in SERVICE_COMMANDS.items():
    add_service_command(_service, _run, _help)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
