"""Handing the group membership of a crashed instance over to its successor at once.

After a `kill -9` (or an exit at once on a second signal) the group coordinator still counts the dead
consumer as a member until its session times out (20 s to 60 s with the services' settings), and a
rebalance waits for it. Each instance records its member id in its state slot
(``streamstash.runtime.slots``); the next instance to take the slot (the restart) first sends LeaveGroup
for that id, so the rebalance that follows involves the living only. A stale id is harmless (the
coordinator answers UNKNOWN_MEMBER_ID). The same works on Apache Kafka and on the stand-in (which never
times a member out at all); it uses Kafka's protocol, not aiokafka's internals.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from pathlib import Path

from aiokafka.client import CoordinationType
from aiokafka.protocol.group import LeaveGroupRequest

from streamstash.config.common import KafkaSettings
from streamstash.kafka.clients import make_client

log = logging.getLogger(__name__)

MEMBER_FILE = "group-member.json"
NO_ERROR = 0


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


async def leave_for_predecessor(
    settings: KafkaSettings, group: str, slot_directory: Path, client_id: str
) -> str | None:
    """Send LeaveGroup for the member id the slot's previous owner recorded; returns that id."""
    member_id = recorded_member(slot_directory, group)
    if member_id is None:
        return None
    client = make_client(settings, client_id)
    try:
        await client.bootstrap()
        coordinator = await client.coordinator_lookup(CoordinationType.GROUP, group)
        response = await client.send(coordinator, LeaveGroupRequest(group, member_id))
        level = logging.INFO if response.error_code == NO_ERROR else logging.DEBUG
        log.log(
            level,
            "left the group for the previous instance of this slot",
            extra={"group": group, "member_id": member_id, "error_code": response.error_code},
        )
    except Exception as exc:  # noqa: BLE001 - best effort: a real coordinator times the member out anyway
        log.warning(
            "could not leave the group for the previous instance",
            extra={"group": group, "member_id": member_id, "error": repr(exc)},
        )
    finally:
        await client.close()
    forget_member(slot_directory)
    return member_id


def leave_for_predecessor_now(settings: KafkaSettings, group: str, slot_directory: Path, client_id: str) -> str | None:
    """`leave_for_predecessor` before Faust starts, on a private loop so that Faust's worker later
    finds the thread's event loop untouched."""
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(leave_for_predecessor(settings, group, slot_directory, client_id))
    finally:
        loop.close()
