from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamstash.services.indexer.commits import CommitTracker

P0, P1 = ("logs.parsed", 0), ("logs.parsed", 1)


def test_commits_only_the_settled_prefix_when_requests_finish_out_of_order() -> None:
    tracker: CommitTracker[tuple[str, int]] = CommitTracker()
    first, second, third = (tracker.add(P0, offset, parts=2) for offset in (10, 11, 12))
    third.settle(2)
    second.settle(2)
    assert tracker.committable() == {}  # offset 10 still has two documents in flight
    first.settle(1)
    assert tracker.committable() == {}
    first.settle(1)
    assert tracker.committable() == {P0: 13}


def test_each_partition_commits_independently() -> None:
    tracker: CommitTracker[tuple[str, int]] = CommitTracker()
    a = tracker.add(P0, 5, parts=1)
    b = tracker.add(P1, 7, parts=1)
    tracker.add(P1, 8, parts=1)
    b.settle()
    assert tracker.committable() == {P1: 8}
    a.settle()
    assert tracker.committable() == {P0: 6, P1: 8}


def test_committed_offsets_are_not_reported_again() -> None:
    tracker: CommitTracker[tuple[str, int]] = CommitTracker()
    tracker.add(P0, 0, parts=1).settle()
    offsets = tracker.committable()
    assert offsets == {P0: 1}
    tracker.mark_committed(offsets)
    assert tracker.committable() == {}
    tracker.add(P0, 1, parts=1).settle()
    assert tracker.committable() == {P0: 2}


def test_a_record_with_nothing_to_write_is_settled_at_once_but_waits_for_its_predecessors() -> None:
    tracker: CommitTracker[tuple[str, int]] = CommitTracker()
    busy = tracker.add(P0, 0, parts=3)
    tracker.add(P0, 1, parts=0)  # every event consumed by an aggregation
    assert tracker.committable() == {}
    busy.settle(3)
    assert tracker.committable() == {P0: 2}
    assert tracker.unsettled() == 0


def test_gaps_in_offsets_commit_past_the_last_settled_record() -> None:
    tracker: CommitTracker[tuple[str, int]] = CommitTracker()
    tracker.add(P0, 3, parts=1).settle()
    tracker.add(P0, 9, parts=1).settle()  # 4..8 were transaction markers
    assert tracker.committable() == {P0: 10}


def test_records_must_arrive_in_offset_order() -> None:
    tracker: CommitTracker[tuple[str, int]] = CommitTracker()
    tracker.add(P0, 4, parts=1)
    with pytest.raises(ValueError, match="in order"):
        tracker.add(P0, 4, parts=1)


def test_forgotten_partitions_ignore_late_settlements() -> None:
    tracker: CommitTracker[tuple[str, int]] = CommitTracker()
    stale = tracker.add(P0, 0, parts=1)
    tracker.forget([P0])
    fresh = tracker.add(P0, 0, parts=1)  # re-read after being assigned back
    stale.settle()
    assert tracker.committable() == {}
    fresh.settle()
    assert tracker.committable() == {P0: 1}


@settings(max_examples=200, deadline=None)
@given(
    parts=st.lists(st.integers(min_value=0, max_value=4), min_size=1, max_size=40),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_never_commits_past_an_unsettled_record(parts: list[int], seed: int) -> None:
    """Settle documents in a random order; after every step the commit point is exactly the end of
    the settled prefix, and at the end it is one past the last record."""
    tracker: CommitTracker[tuple[str, int]] = CommitTracker()
    records = [tracker.add(P0, offset, count) for offset, count in enumerate(parts)]
    pieces = [index for index, count in enumerate(parts) for _ in range(count)]
    random.Random(seed).shuffle(pieces)
    remaining = list(parts)
    committed = 0

    def check() -> None:
        nonlocal committed
        offsets = tracker.committable()
        if P0 in offsets:
            committed = offsets[P0]
            tracker.mark_committed(offsets)
        settled_prefix = next((offset for offset, left in enumerate(remaining) if left > 0), len(remaining))
        assert committed == settled_prefix

    check()
    for index in pieces:
        records[index].settle()
        remaining[index] -= 1
        check()
    assert committed == len(parts)
    assert tracker.unsettled() == 0
