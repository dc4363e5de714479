"""Handing a consumer-group membership that was given up over at once: a crashed instance's to its
successor, and a member id a running consumer had to drop to the rejoin that follows.

After a `kill -9` (or an exit at once on a second signal) the group coordinator still counts the dead
consumer as a member until its session times out, and the local stand-in broker never times it out
and may keep electing it group leader, so the successor never gets partitions. Each instance records
its member id in its state slot (see `slots.py`); the next instance to take the slot (the restart)
first sends LeaveGroup for that id, so the rebalance that follows involves the living only. Against
real Kafka this only saves the session timeout; a stale id is harmless (the coordinator answers
UNKNOWN_MEMBER_ID).

The same ghost appears without a crash: the stand-in answers a commit sent while another member joins
with ILLEGAL_GENERATION (Kafka answers REBALANCE_IN_PROGRESS), on which aiokafka drops its member id and
rejoins under a new one; the stand-in keeps the old id as leader of a rebalance that can never end,
and the group stalls (an instance added mid-stream never got partitions). In the same turmoil the
stand-in can hand a member an empty assignment (zero bytes, not an encoded empty list), which aiokafka
cannot decode: its group coordination task dies and the consumer never rejoins.
`install_membership_repairs` makes aiokafka send LeaveGroup for every member id it drops, and treat an
empty assignment as a reason to rejoin.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
import logging
import os
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaClient
from aiokafka.client import ConnectionGroup, CoordinationType
from aiokafka.consumer.group_coordinator import GroupCoordinator
from aiokafka.protocol.group import JoinGroupRequest, LeaveGroupRequest

from streamstash.config.common import KafkaSettings
from streamstash.kafka import bootstrap

log = logging.getLogger(__name__)

MEMBER_FILE = "group-member.json"
NO_ERROR = 0
_leaving: set[asyncio.Task] = set()  # LeaveGroup requests under way, kept referenced until they end


def remember_member(slot_directory: Path, group: str, member_id: str | None) -> None:
    """Record this instance's member id; written whole (rename) so a kill never leaves half a file."""
    if not member_id:
        return
    path = slot_directory / MEMBER_FILE
    if recorded_member(slot_directory, group) == member_id:
        return  # every rebalance calls this; most keep the id
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps({"group": group, "member_id": member_id}))
    os.replace(partial, path)


def recorded_member(slot_directory: Path, group: str) -> str | None:
    """The member id the slot's previous owner had in `group`, if it recorded one for that group."""
    try:
        recorded = json.loads((slot_directory / MEMBER_FILE).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(recorded, dict) or recorded.get("group") != group:
        return None  # the state directory served a pipeline with another group prefix
    member_id = recorded.get("member_id")
    return member_id if isinstance(member_id, str) and member_id else None


def forget_member(slot_directory: Path) -> None:
    (slot_directory / MEMBER_FILE).unlink(missing_ok=True)


def faust_member_id(app: Any) -> str | None:
    """The member id a Faust app's consumer got from the coordinator (None if it cannot be read)."""
    try:
        return aiokafka_member_id(app.consumer._thread._ensure_consumer())  # noqa: SLF001
    except Exception:  # noqa: BLE001 - Faust internals; without the id a restart just waits as before
        return None


def aiokafka_member_id(consumer: Any) -> str | None:
    try:
        return consumer._coordinator.member_id or None  # noqa: SLF001 - "" until the first join
    except AttributeError:
        return None


async def leave_for_predecessor(settings: KafkaSettings, group: str, slot_directory: Path,
                                client_id: str) -> str | None:
    """Send LeaveGroup for the member id the slot's previous owner recorded; returns that id."""
    member_id = recorded_member(slot_directory, group)
    if member_id is None:
        return None
    client = AIOKafkaClient(bootstrap_servers=bootstrap(settings), client_id=client_id)
    try:
        await client.bootstrap()
        coordinator = await client.coordinator_lookup(CoordinationType.GROUP, group)
        response = await client.send(coordinator, LeaveGroupRequest(group, member_id))
        level = logging.INFO if response.error_code == NO_ERROR else logging.DEBUG
        log.log(level, "left the group for the previous instance of this slot",
                extra={"group": group, "member_id": member_id, "error_code": response.error_code})
    except Exception as exc:  # noqa: BLE001 - best effort: a real coordinator times the member out anyway
        log.warning("could not leave the group for the previous instance",
                    extra={"group": group, "member_id": member_id, "error": repr(exc)})
    finally:
        await client.close()
    forget_member(slot_directory)
    return member_id


def leave_for_predecessor_now(settings: KafkaSettings, group: str, slot_directory: Path,
                              client_id: str) -> str | None:
    """`leave_for_predecessor` before Faust starts, on a private loop so that Faust's worker later
    finds the thread's event loop untouched."""
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(leave_for_predecessor(settings, group, slot_directory, client_id))
    finally:
        loop.close()


def install_membership_repairs() -> None:
    """Process-wide (aiokafka's coordinator class), idempotent. The version of aiokafka is pinned and
    ``tests/unit/test_membership.py`` fails if a wrapped method changes shape."""
    _leave_abandoned_members()
    _rejoin_on_empty_assignment()


def _wrappable(name: str, parameters: tuple[str, ...]) -> Any:
    """aiokafka's ``GroupCoordinator.<name>``, or None if it is wrapped already."""
    current = getattr(GroupCoordinator, name)
    if getattr(current, "_streamstash_repair", False):
        return None
    if tuple(inspect.signature(current).parameters) != parameters:
        raise RuntimeError(f"aiokafka GroupCoordinator.{name} changed; review streamstash.membership")
    return current


def _leave_abandoned_members() -> None:
    current = _wrappable("reset_generation", ("self",))
    if current is None:
        return

    @functools.wraps(current)
    def reset_generation(self: Any) -> None:
        abandoned = self.member_id
        current(self)
        if abandoned == JoinGroupRequest.UNKNOWN_MEMBER_ID or self._group_instance_id is not None:  # noqa: SLF001
            return  # never joined, or static membership: the broker knows the member by its instance id
        closing = getattr(self, "_closing", None)
        if closing is not None and closing.done():
            return  # a consumer closing has sent its own LeaveGroup just before
        try:
            task = asyncio.get_running_loop().create_task(
                leave_abandoned(self._client, self.coordinator_id, self.group_id, abandoned))  # noqa: SLF001
        except RuntimeError:
            return  # no loop: the consumer is closing
        _leaving.add(task)
        task.add_done_callback(_leaving.discard)

    reset_generation._streamstash_repair = True  # type: ignore[attr-defined]
    GroupCoordinator.reset_generation = reset_generation  # type: ignore[method-assign]


def _rejoin_on_empty_assignment() -> None:
    current = _wrappable("_on_join_complete", ("self", "generation", "member_id", "protocol",
                                               "member_assignment_bytes"))
    if current is None:
        return

    @functools.wraps(current)
    async def _on_join_complete(self: Any, generation: int, member_id: str, protocol: str,
                                member_assignment_bytes: bytes) -> None:
        if member_assignment_bytes:
            await current(self, generation, member_id, protocol, member_assignment_bytes)
            return
        log.warning("the group leader's assignment left this member out: rejoining",
                    extra={"group": self.group_id, "member_id": member_id, "generation": generation})
        self.request_rejoin()

    _on_join_complete._streamstash_repair = True  # type: ignore[attr-defined]
    GroupCoordinator._on_join_complete = _on_join_complete  # type: ignore[method-assign]


async def leave_abandoned(client: Any, coordinator_id: int | None, group: str, member_id: str) -> int | None:
    """Send LeaveGroup for ``member_id``; the coordinator's error code, or None if it could not be sent."""
    if coordinator_id is None:
        return None
    try:
        response = await client.send(coordinator_id, LeaveGroupRequest(group, member_id),
                                     group=ConnectionGroup.COORDINATION)
    except Exception as exc:  # noqa: BLE001 - best effort: a real coordinator times the member out anyway
        log.debug("could not leave the group for a dropped member id",
                  extra={"group": group, "member_id": member_id, "error": repr(exc)})
        return None
    # UNKNOWN_MEMBER_ID is the usual answer from Kafka, which has forgotten the id already.
    level = logging.INFO if response.error_code == NO_ERROR else logging.DEBUG
    log.log(level, "left the group for the member id this consumer dropped to rejoin",
            extra={"group": group, "member_id": member_id, "error_code": response.error_code})
    return response.error_code
