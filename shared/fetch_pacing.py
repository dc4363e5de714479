"""A pause after a Kafka fetch that brought nothing, before the same broker is asked again.

A Kafka broker holds a fetch until data arrives or ``fetch.max.wait.ms`` passes, so an idle consumer
costs almost nothing. A broker that answers an empty fetch at once (the local stand-in does) makes
aiokafka's fetcher ask again at once: one idle consumer then sends ~1,500 fetches/s and burns a third
of a core, and the broker as much again to answer them. On a small machine the idle services took
more CPU than the work. With a pause after an empty answer, an idle consumer sends a few fetches per
second whatever the broker does. Against a real broker the pause follows a fetch that already waited
``fetch.max.wait.ms``, so it only delays the first record after an idle spell, by at most the pause.

aiokafka has no setting for this, so the fetcher's per-request coroutine is wrapped. The version of
aiokafka is pinned and ``tests/unit/test_fetch_pacing.py`` fails if the wrapped method changes shape.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka.consumer.fetcher import Fetcher

WRAPPED_METHOD = "_proc_fetch_request"
EXPECTED_PARAMETERS = ("self", "assignment", "node_id", "request")

_pause_s = 0.0


def pace_empty_fetches(pause_ms: int) -> None:
    """Pause ``pause_ms`` after every fetch that returned no records (0: ask again at once, as aiokafka does).

    Process-wide: every aiokafka consumer of the process shares the fetcher class. Idempotent.
    """
    global _pause_s  # noqa: PLW0603 - one setting for the one fetcher class of the process
    _pause_s = max(0, pause_ms) / 1000.0
    current = getattr(Fetcher, WRAPPED_METHOD)
    if not getattr(current, "_paced", False):
        setattr(Fetcher, WRAPPED_METHOD, _paced(current))


def pause_s() -> float:
    return _pause_s


def _paced(fetch: Callable[..., Awaitable[bool]]) -> Callable[..., Awaitable[bool]]:
    parameters = tuple(inspect.signature(fetch).parameters)
    if parameters != EXPECTED_PARAMETERS:
        raise RuntimeError(f"aiokafka Fetcher.{WRAPPED_METHOD}{parameters} changed; review streamstash.fetch_pacing")

    @functools.wraps(fetch)
    async def fetch_then_pause_if_empty(self: Any, assignment: Any, node_id: int, request: Any) -> bool:
        has_new_data = await fetch(self, assignment, node_id, request)
        if not has_new_data and _pause_s:
            # The node stays "in flight" while this task sleeps, so the fetcher sends it nothing new.
            try:
                await asyncio.sleep(_pause_s)
            except asyncio.CancelledError:
                # Cancelled by the fetcher's close() or an unassignment, which await this task and,
                # like aiokafka's own method, expect it to end quietly.
                return has_new_data
        return has_new_data

    fetch_then_pause_if_empty._paced = True  # type: ignore[attr-defined]
    return fetch_then_pause_if_empty
