"""The task table's layout: what the aggregator keeps per task and per partition.

A RocksDB-backed Faust table; keys and values are bytes, values orjson:

* ``<aggregation>|<task id>`` -> task state: ``seen`` (per `logs.raw` partition, the last
  (offset, position) folded in: an event delivered again after a crash or a rebalance is counted
  once), ``seq`` (aggregates emitted so far, for ids), ``open`` (accumulators: ``"s"`` for the
  task's current segment, or the start in ms of each open window).
* ``\\x00max_time\\x00<partition>`` -> the newest event time seen on that `logs.tasks` partition.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

SEGMENT = "s"
META_PREFIX = b"\x00"

TaskState = dict[str, Any]
Loader = Callable[[bytes], bytes | None]


def new_state() -> TaskState:
    return {"seen": {}, "seq": 0, "open": {}}


def max_time_key(partition: int) -> bytes:
    return META_PREFIX + b"max_time" + META_PREFIX + str(partition).encode()


def is_meta_key(key: bytes) -> bool:
    return key.startswith(META_PREFIX)


def load_state(load: Loader, key: str) -> TaskState | None:
    stored = load(key.encode())
    return orjson.loads(stored) if stored else None
