"""The `streamstash` command's library part: the whole pipeline, the local stack, operations and tools.

The four service commands (`streamstash parser`, ...) are added by ``streamstash.services.cli``, the
entry point, which sits above both the library and the services.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from streamstash import names
from streamstash.config import ConfigError, PipelineConfig, load_pipeline

if TYPE_CHECKING:
    from streamstash.stack.manager import StackAddresses

app = typer.Typer(
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False, help="Kafka-backed log pipeline."
)
stack_app = typer.Typer(
    no_args_is_help=True,
    help="The local stack: Kafka (Apache Kafka or the noida-db stand-in) and a search engine (the stand-in or "
    "OpenSearch).",
)
app.add_typer(stack_app, name="stack")

ConfigOption = Annotated[Path, typer.Option("--config", "-c", help="Pipeline YAML file.", exists=False)]
KafkaOption = Annotated[
    str | None, typer.Option("--kafka", envvar=names.ENV_KAFKA, help="Kafka bootstrap servers (overrides the file).")
]
KafkaStandinOption = Annotated[
    bool | None,
    typer.Option(
        "--kafka-standin/--no-kafka-standin",
        envvar=names.ENV_KAFKA_STANDIN,
        show_default=False,
        help="The brokers are the noida-db stand-in: turn on its repairs (kafka.standin).",
    ),
]
ElasticsearchOption = Annotated[
    str | None,
    typer.Option(
        "--elasticsearch",
        envvar=names.ENV_ELASTICSEARCH,
        help="Elasticsearch URL(s), comma-separated (overrides the file).",
    ),
]
DistributionOption = Annotated[
    str | None,
    typer.Option(
        "--elasticsearch-distribution",
        envvar=names.ENV_ELASTICSEARCH_DISTRIBUTION,
        help="What the Elasticsearch hosts run: elasticsearch or opensearch (overrides elasticsearch.distribution).",
    ),
]
HttpPortOption = Annotated[int | None, typer.Option("--http-port", help="Port of /metrics and /healthz.")]
HttpHostOption = Annotated[
    str | None,
    typer.Option("--http-host", envvar=names.ENV_HTTP_HOST, help="Bind address of /metrics and /healthz."),
]
LogLevelOption = Annotated[
    str | None,
    typer.Option(
        "--log-level",
        envvar=names.ENV_LOG_LEVEL,
        help="DEBUG, INFO, WARNING or ERROR (overrides logging.level and logging.services).",
    ),
]
KafkaEngineOption = Annotated[
    str | None,
    typer.Option(
        "--kafka-engine",
        envvar=names.ENV_STACK,
        help="Kafka of the local stack: apache, standin or auto (overrides stack.kafka).",
    ),
]


SearchEngineOption = Annotated[
    str | None,
    typer.Option(
        "--search",
        envvar=names.ENV_STACK_SEARCH,
        help="Search engine of the local stack: standin or opensearch (overrides stack.search).",
    ),
]


def fail(message: str, code: int = 1) -> typer.Exit:
    typer.secho(message, fg=typer.colors.RED, err=True)
    return typer.Exit(code)


T = TypeVar("T")


def with_kafka(settings: PipelineConfig, work: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(work)``, a Kafka client's failure turned into an error that says why (``kafka.diagnose``)."""
    from aiokafka.errors import KafkaError

    from streamstash.kafka.diagnose import probe
    from streamstash.kafka.security import KafkaSecurityError

    try:
        return asyncio.run(work)
    except KafkaSecurityError as exc:
        raise fail(str(exc), 2) from exc
    except KafkaError as exc:
        problem = asyncio.run(probe(settings.kafka))
        raise fail(
            problem.message if problem is not None else f"kafka {settings.kafka.bootstrap_servers}: {exc!r}"
        ) from exc


def load_config(path: Path) -> PipelineConfig:
    try:
        return load_pipeline(path)
    except ConfigError as exc:
        raise fail(str(exc), 2) from exc


def with_overrides(
    config: PipelineConfig,
    kafka: str | None,
    elasticsearch: str | None,
    http_port: int | None = None,
    http_host: str | None = None,
    kafka_standin: bool | None = None,
    distribution: str | None = None,
) -> PipelineConfig:
    """Apply command-line addresses; fall back to a running local stack for what is still unset."""
    config = with_overrides_no_stack(config, kafka, elasticsearch, kafka_standin, distribution)
    http = config.http
    if http_port is not None:
        http = http.model_copy(update={"port": http_port})
    if http_host:
        http = http.model_copy(update={"host": http_host})
    config = config.model_copy(update={"http": http})
    if config.uses_local_stack:
        from streamstash.stack.manager import LocalStack

        running = LocalStack(config.stack.data_dir).status()
        if running is None:
            raise fail(
                "no Kafka/Elasticsearch configured and no local stack running: set kafka.bootstrap_servers "
                "and elasticsearch.hosts, pass --kafka/--elasticsearch, or start `streamstash stack up`"
            )
        config = use_stack(config, running)
    return config


def with_overrides_no_stack(
    config: PipelineConfig,
    kafka: str | None,
    elasticsearch: str | None,
    kafka_standin: bool | None = None,
    distribution: str | None = None,
) -> PipelineConfig:
    kafka_updates: dict[str, object] = {}
    if kafka:
        kafka_updates["bootstrap_servers"] = kafka
    if kafka_standin is not None:
        kafka_updates["standin"] = kafka_standin
    updates: dict[str, object] = {}
    if kafka_updates:
        updates["kafka"] = config.kafka.model_copy(update=kafka_updates)
    search_updates: dict[str, object] = {}
    if elasticsearch:
        search_updates["hosts"] = [host.strip() for host in elasticsearch.split(",") if host.strip()]
    if distribution:
        if distribution not in ("elasticsearch", "opensearch"):
            raise fail(f"--elasticsearch-distribution {distribution!r}: expected elasticsearch or opensearch", 2)
        search_updates["distribution"] = distribution
    if search_updates:
        try:
            updates["elasticsearch"] = config.elasticsearch.model_validate(
                {**config.elasticsearch.model_dump(), **search_updates}
            )
        except ValueError as exc:
            raise fail(f"elasticsearch settings: {exc}", 2) from exc
    return config.model_copy(update=updates)


def install_kafka_compat(config: PipelineConfig) -> None:
    """The adapter to Faust's and aiokafka's internals, installed once per process before any Kafka client."""
    from streamstash.kafka import compat

    compat.install(config.kafka)


def with_log_level(config: PipelineConfig, service: str, level: str) -> PipelineConfig:
    from pydantic import ValidationError

    try:
        document = config.logging.model_dump(by_alias=True)
        document["services"] = {**config.logging.services, service: level.upper()}
        logging_settings = config.logging.model_validate(document)
    except ValidationError as exc:
        raise fail(f"--log-level {level!r}: expected DEBUG, INFO, WARNING or ERROR", 2) from exc
    return config.model_copy(update={"logging": logging_settings})


def use_stack(config: PipelineConfig, stack: StackAddresses) -> PipelineConfig:
    """Fill in what the pipeline leaves unset from a local stack; Kafka from the stand-in gets its repairs."""
    updates: dict[str, Any] = {}
    if config.kafka.bootstrap_servers is None:
        updates["kafka"] = config.kafka.model_copy(
            update={"bootstrap_servers": stack.kafka, "standin": config.kafka.standin or stack.kafka_standin}
        )
    if config.elasticsearch.hosts is None:
        updates["elasticsearch"] = config.elasticsearch.model_copy(
            update={"hosts": [stack.elasticsearch], "distribution": stack.search_distribution}
        )
    return config.model_copy(update=updates)


def print_stack(addresses: StackAddresses) -> None:
    typer.echo(
        f"kafka          {addresses.kafka}  ({addresses.titles.get('kafka', addresses.kafka_engine)})\n"
        f"elasticsearch  {addresses.elasticsearch}  ({addresses.titles.get('elasticsearch', '')})\n"
        f"data           {addresses.data_dir}\n"
        f"pids           {' '.join(f'{name}={pid}' for name, pid in addresses.pids.items())}"
    )


# ---- the whole pipeline -----------------------------------------------------------------------------------


@app.command()
def run(
    config: ConfigOption,
    kafka: KafkaOption = None,
    elasticsearch: ElasticsearchOption = None,
    kafka_engine: KafkaEngineOption = None,
    search: SearchEngineOption = None,
    distribution: DistributionOption = None,
    stop_stack: Annotated[bool, typer.Option(help="Also stop the local stack at the end.")] = False,
) -> None:
    """Run the whole pipeline: local stack (unless configured), topics, and the four services."""
    from streamstash.kafka.topics import ensure_topics
    from streamstash.runtime.logs import configure_logging
    from streamstash.runtime.supervisor import Supervisor
    from streamstash.stack.manager import LocalStack, StackError

    settings = load_config(config)
    configure_logging("run", settings.logging.level, settings.logging.json_format)
    settings = with_overrides_no_stack(settings, kafka, elasticsearch, distribution=distribution)
    stack = None
    if settings.uses_local_stack:
        try:
            stack = LocalStack(
                settings.stack.data_dir,
                settings.stack.kafka_port,
                settings.stack.elasticsearch_port,
                kafka_engine=kafka_engine or settings.stack.kafka,
                kafka_heap_mb=settings.stack.kafka_heap_mb,
                say=typer.echo,
                # Unset anywhere: the running stack's engine, else the stand-in (like kafka "auto").
                search=search or (settings.stack.search if "search" in settings.stack.model_fields_set else None),
                search_heap_mb=settings.stack.search_heap_mb,
            )
            addresses = stack.up()
        except StackError as exc:
            raise fail(f"local stack: {exc}") from exc
        typer.echo(
            f"local stack: kafka {addresses.kafka} ({addresses.titles['kafka']})  "
            f"elasticsearch {addresses.elasticsearch} ({addresses.titles['elasticsearch']})"
        )
        settings = use_stack(settings, addresses)
    install_kafka_compat(settings)
    created = with_kafka(settings, ensure_topics(settings.kafka))
    if created:
        typer.echo(f"created topics: {', '.join(created)}")
    supervisor = Supervisor(
        config,
        settings.kafka.bootstrap_servers or "",
        ",".join(settings.elasticsearch.hosts or []),
        settings.state_dir,
        settings.http.host,
        kafka_standin=settings.kafka.standin,
        distribution=settings.elasticsearch.distribution,
    )
    typer.echo("pipeline running; Ctrl-C stops it")
    code = supervisor.run()
    if stack is not None:
        if stop_stack:
            stack.down()
        else:
            typer.echo(
                f"local stack still running (elasticsearch {','.join(settings.elasticsearch.hosts or [])}); "
                "`streamstash stack down` stops it"
            )
    raise typer.Exit(code)


@app.command()
def replay(
    config: ConfigOption,
    topic: Annotated[str | None, typer.Option(help="Topic to replay (the raw topic).")] = None,
    from_: Annotated[
        str, typer.Option("--from", help="earliest, an ISO 8601 time, or partition:offset,...")
    ] = "earliest",
    to: Annotated[
        str | None, typer.Option(help="ISO 8601 time or partition:offset,... (default: the end now).")
    ] = None,
    index: Annotated[str | None, typer.Option(help="Write into this new index instead of the configured one.")] = None,
    alias: Annotated[str | None, typer.Option(help="After the replay, point this alias at --index.")] = None,
    group: Annotated[str | None, typer.Option(help="Name of the replay (consumer groups and topics).")] = None,
    kafka: KafkaOption = None,
    elasticsearch: ElasticsearchOption = None,
    kafka_standin: KafkaStandinOption = None,
    distribution: DistributionOption = None,
) -> None:
    """Reprocess a range of the raw topic through parser and aggregator into the same or a new index."""
    import time as clock

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from streamstash.ops.replay import (
        REPLAY_SERVICES,
        ProgressFigures,
        ReplayError,
        default_group,
        parser_events,
        prepare,
        progress,
        switch_alias,
        write_config,
    )
    from streamstash.runtime.supervisor import Supervisor

    if alias and not index:
        raise fail("--alias needs --index (the alias is switched to the new index)", 2)
    settings = with_overrides(
        load_config(config), kafka, elasticsearch, kafka_standin=kafka_standin, distribution=distribution
    )
    install_kafka_compat(settings)
    name = group or default_group()
    try:
        replayed, range_ = with_kafka(
            settings, prepare(settings, topic or settings.kafka.topics.raw, from_, to, name, index)
        )
    except ReplayError as exc:
        raise fail(str(exc), 2) from exc
    path = write_config(replayed, replayed.state_dir / "pipeline.yml")
    typer.echo(
        f"replay {name}: {range_.total} records of {settings.kafka.topics.raw} -> "
        f"{replayed.outputs.elasticsearch.index}"
    )
    supervisor = Supervisor(
        path,
        replayed.kafka.bootstrap_servers or "",
        ",".join(replayed.elasticsearch.hosts or []),
        replayed.state_dir,
        replayed.http.host,
        services=REPLAY_SERVICES,
        kafka_standin=replayed.kafka.standin,
        distribution=replayed.elasticsearch.distribution,
    )
    last_check = [0.0]
    finished = [False]
    figures = [ProgressFigures(0, range_.total, None, 0.0)]
    with Progress(
        TextColumn("replay"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("records"),
        TextColumn("{task.fields[rate]} events/s"),
        TextColumn("ETA {task.fields[eta]}"),
    ) as bar:
        task = bar.add_task("replay", total=max(range_.total, 1), rate="-", eta="-:--:--")
        started = clock.monotonic()

        def done() -> bool:
            if clock.monotonic() - last_check[0] < 1.0:
                return False
            last_check[0] = clock.monotonic()
            records, complete = asyncio.run(progress(replayed, settings.kafka.topics.raw, range_))
            events = parser_events(replayed.state_dir)
            now = ProgressFigures(
                records, range_.total, figures[0].events if events is None else events, clock.monotonic() - started
            )
            figures[0] = now
            bar.update(task, completed=records, rate=now.rate_text(), eta=now.eta_text())
            finished[0] = complete
            return complete

        code = supervisor.run(until=done)
    if not finished[0]:
        raise fail(f"replay {name} stopped before it finished (exit {code})", code or 1)
    if alias and index:
        asyncio.run(switch_alias(replayed, alias, index))
        typer.echo(f"alias {alias} -> {index}")
    typer.echo(f"replay {name} finished: {figures[0].summary()}")


@app.command()
def status(
    config: ConfigOption,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
    metrics: Annotated[list[str], typer.Option(help="service=host:port of a /metrics endpoint (repeatable).")] = [],  # noqa: B006
    kafka: KafkaOption = None,
    kafka_standin: KafkaStandinOption = None,
) -> None:
    """Instances, lag, events and failures per service, and the DLQ size."""
    from streamstash.ops.status import collect_status

    settings = with_overrides(load_config(config), kafka, "http://unused", kafka_standin=kafka_standin)
    install_kafka_compat(settings)
    snapshot = with_kafka(settings, collect_status(settings, metric_endpoints(settings, metrics)))
    if json_output:
        typer.echo(snapshot.to_json())
        return
    for service in snapshot.services:
        typer.echo(
            f"{service.service:<11} instances={service.instances if service.instances is not None else '-'} "
            f"lag={service.lag} in={service.events_in if service.events_in is not None else '-'} "
            f"out={service.events_out if service.events_out is not None else '-'}"
        )
    typer.echo(f"dlq records={snapshot.dlq_records}")


@app.command()
def top(
    config: ConfigOption,
    interval: Annotated[float, typer.Option(help="Seconds between refreshes.")] = 2.0,
    iterations: Annotated[int | None, typer.Option(help="Stop after this many refreshes.")] = None,
    metrics: Annotated[list[str], typer.Option(help="service=host:port of a /metrics endpoint (repeatable).")] = [],  # noqa: B006
    kafka: KafkaOption = None,
    kafka_standin: KafkaStandinOption = None,
) -> None:
    """A live view: per service instances, events/s in and out, lag, failures; DLQ size."""
    from streamstash.ops.top import run_top

    settings = with_overrides(load_config(config), kafka, "http://unused", kafka_standin=kafka_standin)
    install_kafka_compat(settings)
    with contextlib.suppress(KeyboardInterrupt):
        with_kafka(settings, run_top(settings, metric_endpoints(settings, metrics), interval, iterations))


def metric_endpoints(settings: PipelineConfig, given: list[str]) -> dict[str, list[str]]:
    from streamstash.ops.status import endpoints_from_run_state

    endpoints = endpoints_from_run_state(settings.state_dir)
    for item in given:
        service, _, address = item.partition("=")
        if service not in names.SERVICES or not address:
            raise fail(f"--metrics {item!r}: expected <service>=host:port with service one of {names.SERVICES}", 2)
        endpoints.setdefault(service, []).append(address)
    return endpoints


# ---- tools ---------------------------------------------------------------------------------------------


@app.command()
def check(config: ConfigOption) -> None:
    """Validate a pipeline file (and compile its patterns and conditions) without starting anything."""
    from streamstash.aggregation.routing import TaskRouter
    from streamstash.filters import FilterChain

    settings = load_config(config)
    try:
        FilterChain(settings.filters)
        TaskRouter(settings.aggregations)
    except ValueError as exc:
        raise fail(f"{config}: {exc}", 2) from exc
    typer.echo(
        f"{config}: ok ({len(settings.inputs)} inputs, {len(settings.filters)} filters, "
        f"{len(settings.aggregations)} aggregations)"
    )


@app.command("test")
def pipeline_tests(
    config: ConfigOption,
    cases: Annotated[
        list[Path] | None,
        typer.Argument(help="Files of test cases, or directories of them (*.yml), on top of the pipeline's `tests:`."),
    ] = None,
    lfv: Annotated[
        list[Path],
        typer.Option(help="logstash-filter-verifier test-case file, or a directory of them (repeatable)."),
    ] = [],  # noqa: B006
    junit: Annotated[Path | None, typer.Option(help="Also write a JUnit XML report here.")] = None,
    case: Annotated[list[str], typer.Option(help="Run only the cases whose name matches (glob; repeatable).")] = [],  # noqa: B006
    ignore: Annotated[
        list[str],
        typer.Option(
            help="Leave this field out of every comparison (a name, or a reference like \\[http]\\[status]; "
            "repeatable)."
        ),
    ] = [],  # noqa: B006
    received_at: Annotated[
        str | None,
        typer.Option(
            help="The clock of LFV files (ISO 8601): @timestamp of lines no date filter sets, year of yearless "
            "stamps. Default 2000-01-01T00:00:00Z; streamstash cases set `received_at` themselves."
        ),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Also list the cases that pass.")] = False,
) -> None:
    """Run the pipeline's test cases in memory (filters and aggregations; no Kafka, no Elasticsearch)."""
    from streamstash.pipetest.command import Selection, run_pipeline_tests

    selection = Selection(case, ignore) if received_at is None else Selection(case, ignore, received_at)
    raise typer.Exit(
        run_pipeline_tests(config, cases or [], lfv, selection, junit, verbose, out=sys.stdout, err=sys.stderr)
    )


@app.command("import-logstash")
def import_logstash(
    logstash_conf: Annotated[Path, typer.Argument(help="The Logstash pipeline file (logstash.conf).")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Pipeline YAML to write (default: stdout).")
    ] = None,
    allow_partial: Annotated[
        bool,
        typer.Option(
            help="Exit 0 even if some spots could not be translated (they are marked UNTRANSLATED in the output)."
        ),
    ] = False,
    support_escapes: Annotated[
        bool,
        typer.Option(
            help='Read \\n, \\t, \\" ... in quoted strings, as Logstash does with config.support_escapes: true.'
        ),
    ] = False,
    lfv_tests: Annotated[
        Path | None,
        typer.Option(
            help="A directory (or file) of logstash-filter-verifier test cases: run them against the translation "
            "and print how many pass (exit 1 unless all do)."
        ),
    ] = None,
) -> None:
    """Translate a Logstash pipeline (inputs, filters, aggregate idioms, elasticsearch output) into ours."""
    from streamstash.logstash.command import import_logstash_command

    raise typer.Exit(
        import_logstash_command(
            logstash_conf, output, allow_partial, support_escapes=support_escapes, lfv_tests=lfv_tests
        )
    )


@app.command()
def topics(config: ConfigOption, kafka: KafkaOption = None, kafka_standin: KafkaStandinOption = None) -> None:
    """Create the pipeline's topics (idempotent)."""
    from streamstash.kafka.topics import ensure_topics

    settings = with_overrides(load_config(config), kafka, "http://unused", kafka_standin=kafka_standin)
    install_kafka_compat(settings)
    created = with_kafka(settings, ensure_topics(settings.kafka))
    typer.echo(f"created: {', '.join(created)}" if created else "all topics exist")


@app.command()
def grok(
    pattern: Annotated[list[str], typer.Option("--pattern", "-p", help="Grok pattern (repeat to try several).")],
    pattern_dir: Annotated[list[Path], typer.Option("--pattern-dir", help="Directory of pattern files.")] = [],  # noqa: B006
    file: Annotated[str, typer.Argument(help="Input file, or - for stdin.")] = "-",
) -> None:
    """Match lines against grok patterns; print one JSON object per line."""
    from streamstash.grok.command import run_grok

    if file == "-":
        code = run_grok(pattern, pattern_dir, sys.stdin, sys.stdout)
    else:
        with open(file, encoding="utf-8", errors="replace") as lines:
            code = run_grok(pattern, pattern_dir, lines, sys.stdout)
    raise typer.Exit(code)


@app.command()
def generate(
    file: Annotated[Path, typer.Option(help="Lines to replay.")],
    rate: Annotated[float, typer.Option(help="Mean lines per second.")] = 10.0,
    jitter: Annotated[float, typer.Option(help="Relative random variation of the rate (0..1).")] = 0.5,
    burst_every: Annotated[float, typer.Option(help="Seconds between bursts (0: none).")] = 0.0,
    burst_factor: Annotated[float, typer.Option(help="Rate multiplier during a burst.")] = 10.0,
    burst_seconds: Annotated[float, typer.Option(help="Length of a burst.")] = 5.0,
    count: Annotated[int, typer.Option(help="Stop after this many lines (0: forever).")] = 0,
) -> None:
    """Print a log file's lines to stdout at a random rate, looping (the demo producer / load generator)."""
    from streamstash.ops.loadgen import LoadShape, replay_lines

    shape = LoadShape(
        rate=rate, jitter=jitter, burst_every=burst_every, burst_factor=burst_factor, burst_seconds=burst_seconds
    )
    replay_lines(file, shape, count, sys.stdout)


@app.command("config-docs")
def config_docs(
    update: Annotated[
        Path | None, typer.Option(help="Rewrite the generated section of this Markdown file instead of printing.")
    ] = None,
) -> None:
    """Print the pipeline configuration reference (Markdown), generated from the settings models."""
    from streamstash.config.docs import render_reference, replace_reference

    if update is None:
        typer.echo(render_reference())
        return
    update.write_text(replace_reference(update.read_text(encoding="utf-8")), encoding="utf-8")
    typer.echo(f"{update}: configuration reference updated")


# ---- local stack -------------------------------------------------------------------------------------------

DataDirOption = Annotated[Path, typer.Option("--data-dir", help="Where the local stack keeps its data.")]


@stack_app.command("up")
def stack_up(
    data_dir: DataDirOption = Path(names.DEFAULT_STATE_DIR),
    kafka_engine: KafkaEngineOption = None,
    search: SearchEngineOption = None,
    kafka_port: Annotated[int | None, typer.Option(help="Kafka port (default: a free one).")] = None,
    elasticsearch_port: Annotated[int | None, typer.Option(help="Elasticsearch (or OpenSearch) HTTP port.")] = None,
) -> None:
    """Start the local stack (or what of it is not running) and print its addresses."""
    from streamstash.stack.manager import LocalStack, StackError

    try:
        addresses = LocalStack(
            data_dir, kafka_port, elasticsearch_port, kafka_engine=kafka_engine or "auto", say=typer.echo, search=search
        ).up()
    except StackError as exc:
        raise fail(str(exc)) from exc
    print_stack(addresses)


@stack_app.command("down")
def stack_down(data_dir: DataDirOption = Path(names.DEFAULT_STATE_DIR)) -> None:
    """Stop the local stack (its data stays)."""
    from streamstash.stack.manager import LocalStack

    typer.echo("stopped" if LocalStack(data_dir).down() else "not running")


@stack_app.command("restart")
def stack_restart(data_dir: DataDirOption = Path(names.DEFAULT_STATE_DIR)) -> None:
    """Stop the local stack and start it again on the same ports with the same data."""
    from streamstash.stack.manager import LocalStack, StackError

    try:
        print_stack(LocalStack(data_dir, say=typer.echo).restart())
    except StackError as exc:
        raise fail(str(exc)) from exc


@stack_app.command("status")
def stack_status(data_dir: DataDirOption = Path(names.DEFAULT_STATE_DIR)) -> None:
    """Print the local stack's addresses, or exit 1 if it is not running."""
    from streamstash.stack.manager import LocalStack

    addresses = LocalStack(data_dir).status()
    if addresses is None:
        raise fail("local stack not running", 1)
    print_stack(addresses)


@stack_app.command("fetch")
def stack_fetch(
    if_possible: Annotated[
        bool, typer.Option(help="Where Java or Maven is missing, say so and exit 0 (the stack then runs the stand-in).")
    ] = False,
) -> None:
    """Fetch Apache Kafka's and OpenSearch's jars from Maven Central into the engines cache, once (`make engines`
    runs this); OpenSearch's launcher is compiled then too."""
    from streamstash.stack import artifacts
    from streamstash.stack.errors import StackError
    from streamstash.stack.opensearch_node import compile_launcher

    for engine, fallback in ((artifacts.KAFKA, "Kafka"), (artifacts.OPENSEARCH, "search")):
        reason = artifacts.runnable(engine)
        try:
            if reason is not None:
                raise StackError(f"{engine.title} cannot run here: {reason}")
            directory = engine.fetch(typer.echo)
            if engine is artifacts.OPENSEARCH:
                compile_launcher()
        except StackError as exc:
            if if_possible:
                typer.echo(f"{exc}; the local stack will run the noida-db stand-in for {fallback}")
                continue
            raise fail(str(exc)) from exc
        typer.echo(f"{engine.title} {engine.version}: {directory}")
