from __future__ import annotations

import json
from pathlib import Path

from streamstash.services.collector.checkpoints import CheckpointStore
from streamstash.services.collector.recovery import merge_ranges
from streamstash.services.collector.spill import Spill, SpillMeta


def meta(sequence: int, key: str = "file:h:1:2", count: int = 10, positions: dict | None = None) -> SpillMeta:
    return SpillMeta(key=key, batch_id=f"b{sequence}", sequence=sequence, count=count, positions=positions or {})


def test_spill_round_trip_and_segments_deleted_once_every_batch_is_acknowledged(tmp_path: Path) -> None:
    spill = Spill(tmp_path, max_bytes=10_000_000, segment_bytes=64 * 1024)
    values = [bytes([n]) * 30_000 for n in range(5)]
    refs = [spill.append(meta(n), value) for n, value in enumerate(values)]
    assert [spill.read(ref) for ref in refs] == values
    assert len(list(tmp_path.glob("segment-*.spill"))) == 3  # two 30 kB batches fit in a 64 kB segment
    assert spill.events == 50
    spill.release(refs[0], 10)
    assert len(list(tmp_path.glob("segment-*.spill"))) == 3  # its neighbour in segment 1 still waits
    spill.release(refs[1], 10)
    assert len(list(tmp_path.glob("segment-*.spill"))) == 2
    for ref in refs[2:]:
        spill.release(ref, 10)
    assert list(tmp_path.glob("segment-*.spill")) == []
    assert (spill.bytes_used, spill.events) == (0, 0)


def test_spill_is_bounded_by_bytes(tmp_path: Path) -> None:
    spill = Spill(tmp_path, max_bytes=100_000, segment_bytes=64 * 1024)
    appended = 0
    while spill.has_room():
        spill.append(meta(appended), b"x" * 20_000)
        appended += 1
    assert appended == 5
    assert 100_000 <= spill.bytes_used < 120_000


def test_a_new_run_reads_left_batches_in_sequence_order_and_ignores_a_torn_tail(tmp_path: Path) -> None:
    spill = Spill(tmp_path, max_bytes=10_000_000, segment_bytes=64 * 1024)
    positions = {"file:1:2": [0, 120, "/var/log/app.log"]}
    spill.append(meta(7, positions=positions), b"seven")
    spill.append(meta(3), b"three")
    spill.close()
    segment = next(tmp_path.glob("segment-*.spill"))
    with open(segment, "ab") as handle:
        handle.write(b"\x00\x00\x00\x40partial")  # the process died while writing a record
    again = Spill(tmp_path, max_bytes=10_000_000, segment_bytes=64 * 1024)
    loaded = again.load()
    assert [(m.sequence, again.read(ref)) for m, ref in loaded] == [(3, b"three"), (7, b"seven")]
    assert loaded[1][0].positions == positions
    new_ref = again.append(meta(8), b"eight")  # written to a new segment, after the old ones
    assert again.read(new_ref) == b"eight"
    for m, ref in loaded:
        again.release(ref, m.count)
    again.release(new_ref, 10)
    assert list(tmp_path.glob("segment-*.spill")) == []


def test_recovery_moves_a_checkpoint_over_the_ranges_that_continue_it(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path / "cp.json")
    store.set("file:1:2", {"path": "/a.log", "offset": 100})
    moved = merge_ranges(store, {"file:1:2": [(150, 200, "/a.log"), (100, 150, "/a.log"), (40, 100, "/a.log")]})
    assert moved == {"file:1:2": 200}
    assert store.get("file:1:2") == {"path": "/a.log", "offset": 200}


def test_recovery_never_jumps_a_hole(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path / "cp.json")
    store.set("file:1:2", {"path": "/a.log", "offset": 100})
    assert merge_ranges(store, {"file:1:2": [(120, 200, "/a.log")]}) == {}
    assert store.get("file:1:2")["offset"] == 100


def test_recovery_of_a_source_whose_first_batch_was_never_saved(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path / "cp.json")
    merge_ranges(store, {"file:1:3": [(0, 80, "/b.log"), (80, 90, "/b.log.1")]})
    assert store.get("file:1:3") == {"path": "/b.log.1", "offset": 90}


def test_checkpoint_file_keeps_instance_positions_and_offsets_and_reads_the_first_format(tmp_path: Path) -> None:
    path = tmp_path / "cp.json"
    store = CheckpointStore(path)
    store.set("file:1:2", {"path": "/a.log", "offset": 5})
    store.set_kafka_offsets("logs.raw", {0: 10, 1: 3})
    store.save()
    again = CheckpointStore(path)
    assert (again.instance, again.get("file:1:2"), again.kafka_offsets) == (
        store.instance,
        {"path": "/a.log", "offset": 5},
        {0: 10, 1: 3},
    )
    path.write_text(json.dumps({"file:1:2": {"path": "/a.log", "offset": 7}}))
    old = CheckpointStore(path)
    assert old.get("file:1:2")["offset"] == 7 and old.kafka_offsets == {}


def test_advance_never_moves_a_checkpoint_back(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path / "cp.json")
    store.advance("k", "/a", 50)
    store.advance("k", "/a", 20)
    assert store.get("k")["offset"] == 50


def test_unreadable_checkpoint_starts_over_instead_of_failing(tmp_path: Path) -> None:
    path = tmp_path / "cp.json"
    path.write_text("{not json")
    assert CheckpointStore(path).positions == {}
