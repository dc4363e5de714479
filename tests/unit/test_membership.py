"""State slots and the group-member handover between a crashed instance and its restart, without Kafka."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest
from aiokafka.consumer.group_coordinator import GroupCoordinator
from aiokafka.protocol.group import JoinGroupRequest

from streamstash.config.common import KafkaSettings
from streamstash.kafka.compat.emulator import install_standin_repairs, leave_abandoned
from streamstash.kafka.compat.internals import faust_member_id
from streamstash.kafka.compat.internals import member_id as aiokafka_member_id
from streamstash.kafka.membership import (
    MEMBER_FILE,
    forget_member,
    leave_for_predecessor,
    recorded_member,
    remember_member,
)
from streamstash.runtime.slots import claim_slot

GROUP = "streamstash-parser"


def test_slots_are_exclusive_and_a_released_slot_is_taken_again(tmp_path: Path) -> None:
    first = claim_slot(tmp_path / "parser")
    second = claim_slot(tmp_path / "parser")
    assert (first.number, second.number) == (0, 1)
    assert first.directory == tmp_path / "parser" / "slot-0" and first.directory.is_dir()
    first.release()
    again = claim_slot(tmp_path / "parser")
    assert again.number == 0
    second.release()
    again.release()


def test_a_dead_process_leaves_its_slot_to_the_next_instance(tmp_path: Path) -> None:
    base = tmp_path / "aggregator"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
        import time
        from pathlib import Path
        from streamstash.runtime.slots import claim_slot
        slot = claim_slot(Path({str(base)!r}))
        print(slot.number, flush=True)
        time.sleep(60)
    """),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "0"
        busy = claim_slot(base)
        assert busy.number == 1  # slot 0 is held by a live process
        busy.release()
    finally:
        holder.kill()  # as kill -9: the kernel drops the dead process's lock
        holder.wait()
    assert claim_slot(base).number == 0


def test_member_file_round_trip(tmp_path: Path) -> None:
    assert recorded_member(tmp_path, GROUP) is None
    remember_member(tmp_path, GROUP, "parser-1-4f2c")
    assert recorded_member(tmp_path, GROUP) == "parser-1-4f2c"
    remember_member(tmp_path, GROUP, "parser-1-9a0b")  # rejoined under a new id
    assert recorded_member(tmp_path, GROUP) == "parser-1-9a0b"
    assert not list(tmp_path.glob("*.tmp"))
    forget_member(tmp_path)
    assert recorded_member(tmp_path, GROUP) is None
    forget_member(tmp_path)  # nothing to forget is fine


def test_no_member_id_yet_records_nothing(tmp_path: Path) -> None:
    remember_member(tmp_path, GROUP, None)
    remember_member(tmp_path, GROUP, "")
    assert not (tmp_path / MEMBER_FILE).exists()


def test_a_member_of_another_group_or_a_damaged_file_is_not_handed_over(tmp_path: Path) -> None:
    remember_member(tmp_path, "other-prefix-parser", "parser-1-4f2c")
    assert recorded_member(tmp_path, GROUP) is None
    for damaged in ["", "{", "[]", json.dumps({"group": GROUP}), json.dumps({"group": GROUP, "member_id": 7})]:
        (tmp_path / MEMBER_FILE).write_text(damaged)
        assert recorded_member(tmp_path, GROUP) is None


def test_member_ids_read_from_consumers() -> None:
    class Coordinator:
        member_id = "indexer-1-77"

    class Consumer:
        _coordinator = Coordinator()

    assert aiokafka_member_id(Consumer()) == "indexer-1-77"
    Coordinator.member_id = ""  # aiokafka's UNKNOWN_MEMBER_ID before the first join
    assert aiokafka_member_id(Consumer()) is None
    assert aiokafka_member_id(object()) is None
    assert faust_member_id(object()) is None  # Faust internals missing: no id, no handover


def test_nothing_recorded_means_no_handover_and_no_connection(tmp_path: Path) -> None:
    settings = KafkaSettings(bootstrap_servers="127.0.0.1:1")
    assert asyncio.run(leave_for_predecessor(settings, GROUP, tmp_path, client_id="t")) is None


def test_an_unreachable_coordinator_is_logged_and_the_record_dropped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    remember_member(tmp_path, GROUP, "parser-1-4f2c")
    settings = KafkaSettings(bootstrap_servers="127.0.0.1:1")  # nothing listens on port 1
    with caplog.at_level(logging.WARNING, logger="streamstash.kafka.membership"):
        left = asyncio.run(leave_for_predecessor(settings, GROUP, tmp_path, client_id="t"))
    assert left == "parser-1-4f2c"
    assert any(getattr(record, "member_id", None) == "parser-1-4f2c" for record in caplog.records)
    assert recorded_member(tmp_path, GROUP) is None  # a stale id is not sent again on every start


# Repairs of aiokafka's group membership against the stand-in -------------------------------------


class RecordingClient:
    def __init__(self, error_code: int = 0) -> None:
        self.sent: list[tuple[int, object]] = []
        self.error_code = error_code

    async def send(self, node_id: int, request: object, group: object = None) -> object:
        self.sent.append((node_id, request))
        return SimpleNamespace(error_code=self.error_code)


def joined_coordinator(
    client: RecordingClient, member_id: str = "member-1", group_instance_id: str | None = None
) -> GroupCoordinator:
    coordinator = GroupCoordinator.__new__(GroupCoordinator)  # no client, loop or subscription: only membership
    coordinator._client = client
    coordinator.coordinator_id = 1
    coordinator.group_id = GROUP
    coordinator.member_id = member_id
    coordinator.generation = 4
    coordinator._group_instance_id = group_instance_id
    coordinator._rejoin_needed_fut = asyncio.get_running_loop().create_future()
    return coordinator


async def settle() -> None:
    for _ in range(3):
        await asyncio.sleep(0)


def test_a_dropped_member_id_leaves_the_group() -> None:
    install_standin_repairs(100)

    async def drop_member_id() -> tuple[RecordingClient, GroupCoordinator]:
        client = RecordingClient()
        coordinator = joined_coordinator(client)
        coordinator.reset_generation()  # what aiokafka does on ILLEGAL_GENERATION / UNKNOWN_MEMBER_ID
        await settle()
        return client, coordinator

    client, coordinator = asyncio.run(drop_member_id())
    assert coordinator.member_id == JoinGroupRequest.UNKNOWN_MEMBER_ID and coordinator._rejoin_needed_fut.done()
    assert [(node, request._group, request._member_id) for node, request in client.sent] == [(1, GROUP, "member-1")]


@pytest.mark.parametrize(
    "member_id, instance_id", [(JoinGroupRequest.UNKNOWN_MEMBER_ID, None), ("member-1", "static-1")]
)
def test_no_leave_before_a_first_join_or_with_static_membership(member_id: str, instance_id: str | None) -> None:
    install_standin_repairs(100)

    async def reset() -> RecordingClient:
        client = RecordingClient()
        joined_coordinator(client, member_id, instance_id).reset_generation()
        await settle()
        return client

    assert asyncio.run(reset()).sent == []


def test_an_empty_assignment_means_rejoin_instead_of_a_dead_coordinator() -> None:
    install_standin_repairs(100)

    async def empty_assignment() -> GroupCoordinator:
        coordinator = joined_coordinator(RecordingClient())
        await coordinator._on_join_complete(5, "member-1", "faust", b"")
        return coordinator

    assert asyncio.run(empty_assignment())._rejoin_needed_fut.done()


def test_repairs_are_installed_once_and_keep_aiokafkas_names() -> None:
    install_standin_repairs(100)
    wrapped = (GroupCoordinator.reset_generation, GroupCoordinator._on_join_complete)
    install_standin_repairs(100)
    assert (GroupCoordinator.reset_generation, GroupCoordinator._on_join_complete) == wrapped
    assert [method.__name__ for method in wrapped] == ["reset_generation", "_on_join_complete"]


def test_a_leave_that_cannot_be_sent_is_only_logged() -> None:
    class FailingClient(RecordingClient):
        async def send(self, node_id: int, request: object, group: object = None) -> object:
            raise ConnectionError("coordinator gone")

    assert asyncio.run(leave_abandoned(FailingClient(), 1, GROUP, "member-1")) is None
    assert asyncio.run(leave_abandoned(RecordingClient(), None, GROUP, "member-1")) is None
    assert asyncio.run(leave_abandoned(RecordingClient(error_code=25), 1, GROUP, "member-1")) == 25


def test_a_closing_consumer_does_not_leave_twice() -> None:
    install_standin_repairs(100)

    async def close() -> RecordingClient:
        client = RecordingClient()
        coordinator = joined_coordinator(client)
        coordinator._closing = asyncio.get_running_loop().create_future()
        coordinator._closing.set_result(None)
        coordinator.reset_generation()  # what _maybe_leave_group does after its own LeaveGroup
        await settle()
        return client

    assert asyncio.run(close()).sent == []
