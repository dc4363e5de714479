"""Which offsets may be committed: per partition, the end of the longest run of settled records.

Several bulk requests are in flight at once and finish in any order, and one Kafka record's events
may be spread over several requests. A record is *settled* when every one of its documents was
acknowledged by Elasticsearch (or dead-lettered, and the DLQ acknowledged that). The offset to
commit for a partition is one past the last record of the unbroken settled prefix: committing
further would skip an unsettled record on a crash; committing less only re-reads (idempotent ids).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import Generic, TypeVar

P = TypeVar("P")  # a partition key (aiokafka's TopicPartition in the service)


class PendingRecord:
    """One consumed record and how many of its parts (documents, dead-letter sends) are unsettled."""

    __slots__ = ("key", "offset", "unsettled")

    def __init__(self, key: object, offset: int, parts: int) -> None:
        self.key = key
        self.offset = offset
        self.unsettled = parts

    @property
    def settled(self) -> bool:
        return self.unsettled <= 0

    def settle(self, parts: int = 1) -> None:
        self.unsettled -= parts

    def __repr__(self) -> str:
        return f"PendingRecord({self.key!r}, offset={self.offset}, unsettled={self.unsettled})"


class CommitTracker(Generic[P]):
    """Tracks records in consumption order per partition and answers what is safe to commit."""

    def __init__(self) -> None:
        self._records: dict[P, deque[PendingRecord]] = {}
        self._committable: dict[P, int] = {}  # next offset to commit (one past the last settled record)
        self._committed: dict[P, int] = {}

    def add(self, key: P, offset: int, parts: int) -> PendingRecord:
        """Register a record with ``parts`` things to settle (0: nothing to do, settled already)."""
        queue = self._records.setdefault(key, deque())
        if queue and offset <= queue[-1].offset:
            raise ValueError(f"{key}: offset {offset} after {queue[-1].offset}: records must arrive in order")
        record = PendingRecord(key, offset, parts)
        queue.append(record)
        return record

    def advance(self) -> None:
        """Drop each partition's settled prefix, remembering how far it reached."""
        for key, queue in self._records.items():
            while queue and queue[0].settled:
                self._committable[key] = queue.popleft().offset + 1

    def committable(self) -> dict[P, int]:
        """Partitions whose safe offset moved since the last :meth:`mark_committed`, with that offset."""
        self.advance()
        return {key: offset for key, offset in self._committable.items() if self._committed.get(key) != offset}

    def mark_committed(self, offsets: dict[P, int]) -> None:
        self._committed.update(offsets)

    def forget(self, keys: Iterable[P]) -> None:
        """Partitions taken away (rebalance): their records will be re-read by their new owner.

        Records still in flight keep their :class:`PendingRecord`; settling them later is harmless
        because the tracker no longer holds them.
        """
        for key in keys:
            self._records.pop(key, None)
            self._committable.pop(key, None)
            self._committed.pop(key, None)

    def unsettled(self) -> int:
        """Records not yet settled (or settled behind an unsettled one), all partitions."""
        return sum(len(queue) for queue in self._records.values())

    def partitions(self) -> list[P]:
        return list(self._records)

    def unsettled_in(self, key: P) -> int:
        return len(self._records.get(key, ()))
