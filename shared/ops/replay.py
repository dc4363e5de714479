"""`streamstash replay`: reprocess a range of `logs.raw` through parser and aggregator into an index.

A replay runs in its own namespace so the live pipeline is untouched: consumer groups
``<group>-parser|aggregator|indexer`` and intermediate topics ``<group>.parsed|tasks|aggregated|dlq``;
only the raw topic is shared. The parser group's offsets are committed at the range's start before the
parser starts, and the parser stops at the range's end (``parser.stop_offsets``). Document ids come
from raw positions, so replaying into the live index overwrites documents instead of duplicating them;
replaying into a new index and then switching an alias is the blue/green way.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import yaml
from aiokafka import TopicPartition
from aiokafka.structs import OffsetAndMetadata

from streamstash import names
from streamstash.config import PipelineConfig
from streamstash.events.timeformats import parse_iso8601
from streamstash.kafka.clients import consumer_group, make_consumer
from streamstash.kafka.topics import ensure_topics
from streamstash.ops.offsets import OffsetReader
from streamstash.ops.status import endpoints_from_run_state, scrape_totals

REPLAY_SERVICES = (names.SERVICE_PARSER, names.SERVICE_AGGREGATOR, names.SERVICE_INDEXER)


class ReplayError(ValueError):
    """A replay request that cannot be carried out as given."""


@dataclass(frozen=True)
class ReplayRange:
    start: dict[int, int]
    end: dict[int, int]

    @property
    def total(self) -> int:
        return sum(max(0, self.end[p] - self.start.get(p, 0)) for p in self.end)


def parse_position(text: str) -> str | datetime | dict[int, int]:
    """`earliest`, an ISO 8601 time, or `partition:offset[,partition:offset...]`."""
    if text == "earliest":
        return text
    pairs = [part.split(":") for part in text.split(",")]
    if all(len(pair) == 2 and pair[0].isdigit() and pair[1].isdigit() for pair in pairs):
        return {int(partition): int(offset) for partition, offset in pairs}
    moment = parse_iso8601(text)
    if moment is None:
        raise ReplayError(f"--from/--to {text!r}: expected 'earliest', an ISO 8601 time or 'partition:offset,...'")
    return moment


async def resolve_range(config: PipelineConfig, topic: str, start: str, end: str | None) -> ReplayRange:
    async with OffsetReader(config.kafka) as reader:
        ends = await reader.end_offsets(topic)
        if not ends:
            raise ReplayError(f"topic {topic!r} does not exist or has no partitions")
        begin = await reader.beginning_offsets(topic)
        wanted = parse_position(start)
        if isinstance(wanted, dict):
            starts = {p: wanted.get(p, ends[p]) for p in ends}
        elif isinstance(wanted, datetime):
            starts = await reader.offsets_at(topic, wanted)
        else:  # earliest
            starts = begin
        if end is None:
            stops = ends
        else:
            until = parse_position(end)
            if isinstance(until, datetime):
                stops = await reader.offsets_at(topic, until)
            elif isinstance(until, dict):
                stops = {p: until.get(p, ends[p]) for p in ends}
            else:
                raise ReplayError("--to takes an ISO 8601 time or partition:offset list")
    return ReplayRange(start={p: max(begin.get(p, 0), o) for p, o in starts.items()}, end=stops)


def replay_config(config: PipelineConfig, group: str, range_: ReplayRange, index: str | None) -> PipelineConfig:
    """The pipeline as the replay runs it: own groups and intermediate topics, bounded parser, maybe new index."""
    topics = config.kafka.topics.model_copy(
        update={
            "parsed": f"{group}.parsed",
            "tasks": f"{group}.tasks",
            "aggregated": f"{group}.aggregated",
            "dlq": f"{group}.dlq",
        }
    )
    kafka = config.kafka.model_copy(update={"topics": topics, "consumer_group_prefix": group})
    parser = config.parser.model_copy(update={"stop_offsets": dict(range_.end)})
    output = config.outputs.elasticsearch
    if index is not None:
        output = output.model_copy(update={"index": index, "aggregate_index": f"{index}-aggregates"})
    outputs = config.outputs.model_copy(update={"elasticsearch": output})
    return config.model_copy(
        update={
            "kafka": kafka,
            "parser": parser,
            "outputs": outputs,
            "inputs": [],
            "state_dir": config.state_dir / "replay" / group,
        }
    )


# (section path, key) -> the variable that carries it to the replay's services.
SECRET_VARIABLES = {
    (("elasticsearch",), "password"): "STREAMSTASH_REPLAY_ES_PASSWORD",
    (("elasticsearch",), "api_key"): "STREAMSTASH_REPLAY_ES_API_KEY",
    (("kafka", "security"), "password"): "STREAMSTASH_REPLAY_KAFKA_PASSWORD",
    (("kafka", "security"), "key_password"): "STREAMSTASH_REPLAY_KAFKA_KEY_PASSWORD",
}


def write_config(config: PipelineConfig, path: Path) -> Path:
    """Write the replay's pipeline for its service processes; secrets travel in their environment, not the file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    document = config.model_dump(mode="json", by_alias=True, exclude_none=True)
    for (section_path, key), variable in SECRET_VARIABLES.items():
        section: object = config
        written = document
        for part in section_path:
            section = getattr(section, part)
            written = written[part]
        secret = getattr(section, key)
        if secret is not None:
            os.environ[variable] = secret.get_secret_value()  # inherited by the services the replay starts
            written[key] = f"${{{variable}}}"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


async def commit_start(config: PipelineConfig, topic: str, start: dict[int, int]) -> None:
    """Make the replay's parser group begin at the range's start."""
    group = consumer_group(config.kafka, names.SERVICE_PARSER)
    consumer = make_consumer(config.kafka, group=group, client_id="streamstash-replay")
    await consumer.start()
    try:
        tps = [TopicPartition(topic, partition) for partition in start]
        consumer.assign(tps)
        await consumer.commit({tp: OffsetAndMetadata(start[tp.partition], "") for tp in tps})
    finally:
        await consumer.stop()


async def prepare(
    config: PipelineConfig, topic: str, start: str, end: str | None, group: str, index: str | None
) -> tuple[PipelineConfig, ReplayRange]:
    if topic != config.kafka.topics.raw:
        raise ReplayError(f"only the raw topic ({config.kafka.topics.raw}) can be replayed, got {topic!r}")
    range_ = await resolve_range(config, topic, start, end)
    replay = replay_config(config, group, range_, index)
    await ensure_topics(replay.kafka)
    await commit_start(replay, topic, range_.start)
    return replay, range_


async def progress(config: PipelineConfig, topic: str, range_: ReplayRange) -> tuple[int, bool]:
    """Records the replay's parser has passed, and whether parser and indexer are both done."""
    async with OffsetReader(config.kafka) as reader:
        committed = await reader.committed(consumer_group(config.kafka, names.SERVICE_PARSER), topic)
        done_records = sum(
            min(committed.get(p, range_.start.get(p, 0)), range_.end[p]) - range_.start.get(p, 0) for p in range_.end
        )
        parser_done = all(committed.get(p, range_.start.get(p, 0)) >= range_.end[p] for p in range_.end)
        downstream_idle = True
        if parser_done:
            topics = config.kafka.topics
            for service, consumed in (
                (names.SERVICE_AGGREGATOR, [topics.parsed, topics.tasks]),
                (names.SERVICE_INDEXER, [topics.parsed, topics.aggregated]),
            ):
                group = consumer_group(config.kafka, service)
                for consumed_topic in consumed:
                    lags = await reader.lag(group, consumed_topic)
                    if any(lag.end > 0 and lag.lag > 0 for lag in lags):
                        downstream_idle = False
    return max(0, done_records), parser_done and downstream_idle


@dataclass(frozen=True)
class ProgressFigures:
    """What the replay's progress bar shows at one moment."""

    records: int  # of the range, passed by the replay's parser
    total_records: int
    events: float | None  # events the replay's parser took in (None: its /metrics not reachable yet)
    elapsed_s: float

    @property
    def events_per_s(self) -> float | None:
        if self.events is None or self.elapsed_s <= 0:
            return None
        return self.events / self.elapsed_s

    @property
    def eta_s(self) -> float | None:
        """Seconds left at the pace so far (records are what the range's size is known in)."""
        if self.records <= 0 or self.elapsed_s <= 0:
            return None
        return max(0, self.total_records - self.records) * self.elapsed_s / self.records

    def rate_text(self) -> str:
        rate = self.events_per_s
        return "-" if rate is None else f"{rate:,.0f}"

    def summary(self) -> str:
        events = "?" if self.events is None else f"{self.events:,.0f}"
        return f"{self.records:,} records, {events} events in {self.elapsed_s:.1f} s ({self.rate_text()} events/s)"

    def eta_text(self) -> str:
        eta = self.eta_s
        if eta is None:
            return "-:--:--"
        seconds = round(eta)
        return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def parser_events(state_dir: Path) -> float | None:
    """Events the replay's parser has taken in, from its /metrics (found in the supervisor's run state)."""
    endpoints = endpoints_from_run_state(state_dir).get(names.SERVICE_PARSER, [])
    totals = [scraped for scraped in map(scrape_totals, endpoints) if scraped is not None]
    return sum(scraped.get("received", 0.0) for scraped in totals) if totals else None


async def switch_alias(config: PipelineConfig, alias: str, index: str) -> None:
    """Point ``alias`` at ``index`` alone, in one atomic `_aliases` request (Elasticsearch or OpenSearch)."""
    from streamstash.search.client import make_engine

    engine = make_engine(config.elasticsearch)
    try:
        actions: list[dict] = [
            {"remove": {"index": name, "alias": alias}} for name in await engine.alias_indices(alias)
        ]
        actions.append({"add": {"index": index, "alias": alias}})
        await engine.update_aliases(actions)
    finally:
        await engine.close()


def default_group() -> str:
    return "replay-" + datetime.now(UTC).strftime("%Y%m%dt%H%M%S")
