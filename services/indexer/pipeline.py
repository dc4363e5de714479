"""From Kafka records to bulk requests: decoding, dead letters, and batches bounded by count, bytes and age."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

from aiokafka.structs import ConsumerRecord

from streamstash import names
from streamstash.events.deadletters import dead_letter, undecodable_letter
from streamstash.events.envelope import DeadLetter, Event, RecordDecodeError, decode_batch, record_origin
from streamstash.services.indexer.documents import Action, DocumentBuilder

STAGE = names.SERVICE_INDEXER


@dataclass
class DecodedRecord:
    """What one Kafka record becomes: documents to write, and dead letters for what cannot be."""

    actions: list[Action] = field(default_factory=list)
    letters: list[DeadLetter] = field(default_factory=list)
    events: int = 0
    skipped: int = 0  # consumed by an aggregation with `index_events: false`


def decode_record(
    message: ConsumerRecord, builder: DocumentBuilder, skip: Callable[[Event], bool] | None = None
) -> DecodedRecord:
    decoded = DecodedRecord()
    try:
        batch = decode_batch(message.value or b"")
    except RecordDecodeError as exc:
        decoded.letters.append(
            undecodable_letter(STAGE, message.topic, message.partition, message.offset, message.value, str(exc))
        )
        return decoded
    decoded.events = len(batch.events)
    for event in batch.events:
        if skip is not None and skip(event):
            decoded.skipped += 1
            continue
        try:
            action = builder.action_for(event)
        except ValueError as exc:
            origin = record_origin(message.topic, message.partition, message.offset)
            decoded.letters.append(dead_letter(STAGE, str(exc), event, origin=origin))
            continue
        action.topic = message.topic
        action.partition = message.partition
        decoded.actions.append(action)
    return decoded


def rejection_letter(action: Action, reason: str) -> DeadLetter:
    event = action.event
    if names.TAG_INDEX_REJECTED not in event.tags:
        event.tags.append(names.TAG_INDEX_REJECTED)
    return dead_letter(STAGE, f"elasticsearch rejected: {reason}", event)


class BulkAccumulator:
    """Actions waiting for a bulk request; a request is due at ``max_docs``, ``max_bytes`` or ``flush_s``."""

    def __init__(self, max_docs: int, max_bytes: int, flush_s: float) -> None:
        self.max_docs = max_docs
        self.max_bytes = max_bytes
        self.flush_s = flush_s
        # (action, when it arrived, its size): the size read once, not again by every look at it
        self._actions: deque[tuple[Action, float, int]] = deque()
        self.bytes = 0

    def __len__(self) -> int:
        return len(self._actions)

    def add(self, actions: list[Action], now: float) -> None:
        entries = [(action, now, action.size) for action in actions]
        self._actions.extend(entries)
        self.bytes += sum(entry[2] for entry in entries)

    def full(self) -> bool:
        return len(self._actions) >= self.max_docs or self.bytes >= self.max_bytes

    def due(self, now: float) -> bool:
        """A request should go out now: a full one is waiting, or the oldest action waited long enough."""
        return bool(self._actions) and (self.full() or now - self._actions[0][1] >= self.flush_s)

    def deadline(self) -> float | None:
        """When the oldest waiting action makes a partial request due."""
        return self._actions[0][1] + self.flush_s if self._actions else None

    def take(self) -> list[Action]:
        """The next request: oldest first, at most ``max_docs`` and ``max_bytes`` (at least one action)."""
        chunk: list[Action] = []
        size = 0
        waiting = self._actions
        while waiting and len(chunk) < self.max_docs:
            action, _, action_size = waiting[0]
            if chunk and size + action_size > self.max_bytes:
                break
            waiting.popleft()
            chunk.append(action)
            size += action_size
        self.bytes -= size
        return chunk

    def drop(self, partitions: Collection[tuple[str, int]]) -> int:
        """Forget the actions of partitions taken away by a rebalance (their new owner re-reads them)."""
        kept = deque(entry for entry in self._actions if (entry[0].topic, entry[0].partition) not in partitions)
        dropped = len(self._actions) - len(kept)
        self._actions = kept
        self.bytes = sum(entry[2] for entry in kept)
        return dropped
