"""The figures the indexer's process runs with, and why."""

from __future__ import annotations

import gc

# The indexer decodes records of hundreds of events (each a few container objects) and keeps up to a few
# thousand documents buffered or in flight: with CPython's default (a young collection every 700
# allocations, older ones in turn) the cyclic collector took about a third of the indexer's CPU in
# bench/indexer_cpu.py (11.0 µs per document at 700, 7.0-7.4 at 5,000-20,000). Young collections every
# 20,000 allocations, as the aggregator runs; memory is still freed by reference counting as it goes
# (documents and events hold no cycles), so only cyclic garbage waits a little longer.
GC_YOUNG_THRESHOLD = 20_000


def tune_gc() -> None:
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
