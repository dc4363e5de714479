"""Services raise the young generation above one record's objects, and freeze what start-up built."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from streamstash import names
from streamstash.runtime.garbage import YOUNG_GENERATION_THRESHOLD, settle_garbage_collection


@pytest.fixture(autouse=True)
def restored_gc() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_settled_for_per_record_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(names.ENV_GC_TUNING, raising=False)
    middle, old = gc.get_threshold()[1:]
    start_up = [[n] for n in range(1000)]
    settle_garbage_collection("parser")
    assert gc.get_threshold() == (YOUNG_GENERATION_THRESHOLD, middle, old)
    assert gc.get_freeze_count() >= len(start_up)  # what start-up built is out of every later collection


def test_a_500_event_record_fits_in_the_young_generation() -> None:
    # An event is an Event, a Source, a fields dict and a tags list: four container objects at least.
    assert YOUNG_GENERATION_THRESHOLD > 500 * 4 * 10


def test_off_leaves_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(names.ENV_GC_TUNING, "off")
    before, frozen = gc.get_threshold(), gc.get_freeze_count()
    settle_garbage_collection("indexer")
    assert (gc.get_threshold(), gc.get_freeze_count()) == (before, frozen)
