"""State slots and the group-member handover between a crashed instance and its restart, without Kafka."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from streamstash.config.common import KafkaSettings
from streamstash.membership import (
    MEMBER_FILE,
    aiokafka_member_id,
    faust_member_id,
    forget_member,
    leave_for_predecessor,
    recorded_member,
    remember_member,
)
from streamstash.slots import claim_slot

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
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import time
        from pathlib import Path
        from streamstash.slots import claim_slot
        slot = claim_slot(Path({str(base)!r}))
        print(slot.number, flush=True)
        time.sleep(60)
    """)], stdout=subprocess.PIPE, text=True)
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


def test_an_unreachable_coordinator_is_logged_and_the_record_dropped(tmp_path: Path,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    remember_member(tmp_path, GROUP, "parser-1-4f2c")
    settings = KafkaSettings(bootstrap_servers="127.0.0.1:1")  # nothing listens on port 1
    with caplog.at_level(logging.WARNING, logger="streamstash.membership"):
        left = asyncio.run(leave_for_predecessor(settings, GROUP, tmp_path, client_id="t"))
    assert left == "parser-1-4f2c"
    assert any(getattr(record, "member_id", None) == "parser-1-4f2c" for record in caplog.records)
    assert recorded_member(tmp_path, GROUP) is None  # a stale id is not sent again on every start
