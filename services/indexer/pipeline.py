"""One poll's worth of records turned into bulk actions, and the bookkeeping of what happened to them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from aiokafka import TopicPartition
from aiokafka.structs import ConsumerRecord

from streamstash import names
from streamstash.envelope import DeadLetter, Event, RecordDecodeError, Source, decode_batch
from streamstash.metrics import ServiceMetrics
from streamstash.services.indexer.bulk import BulkOutcome, encode_bulk_body
from streamstash.services.indexer.documents import Action, IndexNamer, build_actions

STAGE = names.SERVICE_INDEXER


@dataclass
class IndexBatch:
    actions: list[Action] = field(default_factory=list)
    last_offsets: dict[TopicPartition, int] = field(default_factory=dict)
    undecodable: list[DeadLetter] = field(default_factory=list)
    rejected: list[tuple[Action, str]] = field(default_factory=list)
    indexed_per_partition: Counter[tuple[str, int]] = field(default_factory=Counter)
    _origin: dict[str, tuple[str, int]] = field(default_factory=dict)

    def chunks(self, max_docs: int, max_bytes: int) -> Iterator[list[Action]]:
        chunk: list[Action] = []
        size = 0
        for action in self.actions:
            action_size = len(encode_bulk_body([action]))
            if chunk and (len(chunk) >= max_docs or size + action_size > max_bytes):
                yield chunk
                chunk, size = [], 0
            chunk.append(action)
            size += action_size
        if chunk:
            yield chunk

    def record_outcome(self, outcome: BulkOutcome) -> None:
        self.rejected.extend(outcome.rejected)
        rejected_ids = {action.id for action, _ in outcome.rejected}
        # Attribute indexed documents to the partition they were read from, for per-partition metrics.
        for action in self.actions:
            if action.id not in rejected_ids and action.id in self._origin:
                self.indexed_per_partition[self._origin.pop(action.id)] += 1


def collect_actions(
    records: dict[TopicPartition, list[ConsumerRecord]],
    namers: dict[str, IndexNamer],
    skip: Callable[[Event], bool],
    metrics: ServiceMetrics,
) -> IndexBatch:
    batch = IndexBatch()
    for tp, messages in records.items():
        namer = namers[tp.topic]
        for message in messages:
            batch.last_offsets[tp] = message.offset
            try:
                decoded = decode_batch(message.value)
                actions = list(build_actions(decoded, namer, skip=skip))
            except (RecordDecodeError, ValueError) as exc:
                batch.undecodable.append(_undecodable(message, str(exc)))
                continue
            metrics.received(tp.topic, tp.partition, len(decoded.events))
            skipped = len(decoded.events) - len(actions)
            if skipped:
                metrics.dropped(tp.topic, "consumed_by_aggregation", skipped)
            for action in actions:
                batch._origin[action.id] = (tp.topic, tp.partition)
            batch.actions.extend(actions)
    return batch


def dead_letters_for(batch: IndexBatch) -> list[DeadLetter]:
    letters = list(batch.undecodable)
    for action, reason in batch.rejected:
        event = action.event
        if names.TAG_INDEX_REJECTED not in event.tags:
            event.tags.append(names.TAG_INDEX_REJECTED)
        letters.append(DeadLetter(stage=STAGE, reason=f"elasticsearch rejected: {reason}", event=event,
                                  origin=event.id))
    return letters


def _undecodable(message: ConsumerRecord, reason: str) -> DeadLetter:
    value = message.value or b""
    origin = f"{message.topic}:{message.partition}:{message.offset}"
    event = Event(message=value[:4096].decode("utf-8", errors="replace"), source=Source(kind="unknown"),
                  tags=[names.TAG_DECODE_FAILURE], id=origin)
    return DeadLetter(stage=STAGE, reason=reason, event=event, origin=origin)
