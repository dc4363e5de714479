"""Repairs for the noida-db stand-in, where its Kafka protocol differs from Apache Kafka's.

On only when ``kafka.standin`` is set (``compat.install``); against Apache Kafka none of this runs, and
the test suite, which runs on Apache Kafka by default, shows that the services are correct without it.
Each repair wraps one method of aiokafka (pinned in pyproject.toml); the wrappers check the method's
shape, so an aiokafka upgrade that changes it fails ``tests/unit/test_emulator_repairs.py``.

1. **Empty-fetch pacing.** Kafka holds an empty fetch for ``fetch.max.wait.ms``; the stand-in answers at
   once, and aiokafka's fetcher asks again at once: one idle consumer sent ~1,500 fetches/s and burned a
   third of a core. A pause after an empty answer (``kafka.empty_fetch_pause_ms``) keeps an idle consumer
   at a few fetches per second (``Fetcher._proc_fetch_request``).
2. **LeaveGroup for a member id aiokafka drops.** The stand-in answers a commit sent while another member
   joins with ILLEGAL_GENERATION (Kafka: REBALANCE_IN_PROGRESS), on which aiokafka drops its member id and
   rejoins under a new one; the stand-in keeps the old id as leader of a rebalance that never ends, and
   never expires it, so the group stalls (``GroupCoordinator.reset_generation``).
3. **Rejoin on an empty assignment.** In the same turmoil the stand-in can hand a member an assignment of
   zero bytes (not an encoded empty list), which aiokafka cannot decode: its group coordination task dies
   and the consumer never rejoins (``GroupCoordinator._on_join_complete``).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka.client import ConnectionGroup
from aiokafka.consumer.fetcher import Fetcher
from aiokafka.consumer.group_coordinator import GroupCoordinator
from aiokafka.protocol.group import JoinGroupRequest, LeaveGroupRequest

log = logging.getLogger(__name__)

NO_ERROR = 0
REPAIRED = "_streamstash_repair"  # marks a wrapped method, so installing twice wraps once

_pause_s = 0.0
_leaving: set[asyncio.Task[Any]] = set()  # LeaveGroup requests under way, kept referenced until they end


def install_standin_repairs(empty_fetch_pause_ms: int) -> None:
    """Install the three repairs, process-wide (aiokafka's classes); idempotent."""
    pace_empty_fetches(empty_fetch_pause_ms)
    _leave_abandoned_members()
    _rejoin_on_empty_assignment()


def _wrappable(owner: type, name: str, parameters: tuple[str, ...]) -> Any:
    """``owner.<name>``, or None if it is wrapped already; an error if aiokafka changed its shape."""
    current = getattr(owner, name)
    if getattr(current, REPAIRED, False):
        return None
    if tuple(inspect.signature(current).parameters) != parameters:
        raise RuntimeError(f"aiokafka {owner.__name__}.{name} changed; review streamstash.kafka.compat.emulator")
    return current


def _mark(function: Any) -> Any:
    setattr(function, REPAIRED, True)
    return function


# 1. empty-fetch pacing ---------------------------------------------------------------------------------

FETCH_METHOD = "_proc_fetch_request"
FETCH_PARAMETERS = ("self", "assignment", "node_id", "request")


def pace_empty_fetches(pause_ms: int) -> None:
    """Pause ``pause_ms`` after every fetch that returned no records (0: ask again at once, as aiokafka does)."""
    global _pause_s  # noqa: PLW0603 - one setting for the one fetcher class of the process
    _pause_s = max(0, pause_ms) / 1000.0
    current = _wrappable(Fetcher, FETCH_METHOD, FETCH_PARAMETERS)
    if current is not None:
        setattr(Fetcher, FETCH_METHOD, _paced(current))


def pause_s() -> float:
    return _pause_s


def _paced(fetch: Callable[..., Awaitable[bool]]) -> Callable[..., Awaitable[bool]]:
    parameters = tuple(inspect.signature(fetch).parameters)
    if parameters != FETCH_PARAMETERS:
        raise RuntimeError(
            f"aiokafka Fetcher.{FETCH_METHOD}{parameters} changed; review streamstash.kafka.compat.emulator"
        )

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

    return _mark(fetch_then_pause_if_empty)


# 2. LeaveGroup for a dropped member id ---------------------------------------------------------------


def _leave_abandoned_members() -> None:
    current = _wrappable(GroupCoordinator, "reset_generation", ("self",))
    if current is None:
        return

    @functools.wraps(current)
    def reset_generation(self: Any) -> None:
        abandoned = self.member_id
        current(self)
        if abandoned == JoinGroupRequest.UNKNOWN_MEMBER_ID or self._group_instance_id is not None:
            return  # never joined, or static membership: the broker knows the member by its instance id
        closing = getattr(self, "_closing", None)
        if closing is not None and closing.done():
            return  # a consumer closing has sent its own LeaveGroup just before
        try:
            task = asyncio.get_running_loop().create_task(
                leave_abandoned(self._client, self.coordinator_id, self.group_id, abandoned)
            )
        except RuntimeError:
            return  # no loop: the consumer is closing
        _leaving.add(task)
        task.add_done_callback(_leaving.discard)

    GroupCoordinator.reset_generation = _mark(reset_generation)


async def leave_abandoned(client: Any, coordinator_id: int | None, group: str, member_id: str) -> int | None:
    """Send LeaveGroup for ``member_id``; the coordinator's error code, or None if it could not be sent."""
    if coordinator_id is None:
        return None
    try:
        response = await client.send(
            coordinator_id, LeaveGroupRequest(group, member_id), group=ConnectionGroup.COORDINATION
        )
    except Exception as exc:  # noqa: BLE001 - best effort: the member is then left to the broker
        log.debug(
            "could not leave the group for a dropped member id",
            extra={"group": group, "member_id": member_id, "error": repr(exc)},
        )
        return None
    level = logging.INFO if response.error_code == NO_ERROR else logging.DEBUG
    log.log(
        level,
        "left the group for the member id this consumer dropped to rejoin",
        extra={"group": group, "member_id": member_id, "error_code": response.error_code},
    )
    return int(response.error_code)


# 3. rejoin on an empty assignment ------------------------------------------------------------------------


def _rejoin_on_empty_assignment() -> None:
    current = _wrappable(
        GroupCoordinator,
        "_on_join_complete",
        ("self", "generation", "member_id", "protocol", "member_assignment_bytes"),
    )
    if current is None:
        return

    @functools.wraps(current)
    async def _on_join_complete(
        self: Any, generation: int, member_id: str, protocol: str, member_assignment_bytes: bytes
    ) -> None:
        if member_assignment_bytes:
            await current(self, generation, member_id, protocol, member_assignment_bytes)
            return
        log.warning(
            "the group leader's assignment left this member out: rejoining",
            extra={"group": self.group_id, "member_id": member_id, "generation": generation},
        )
        self.request_rejoin()

    GroupCoordinator._on_join_complete = _mark(_on_join_complete)
