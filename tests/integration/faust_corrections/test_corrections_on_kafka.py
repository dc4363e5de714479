"""Each correction of Faust's consumer (streamstash.kafka.compat.faust_consumer), proven on Apache Kafka.

Every scenario runs twice: with ``AtLeastOnceConsumer`` and with a variant that has Faust's own code back
for that correction alone (probe.py). The variant must lose records; the corrected consumer must not.
"Lost" is what streamstash's aggregator would make of the records: it keeps the newest raw position it
handled and takes any older record for a duplicate, so a record a consumer never handles, or handles only
after a later one of its partition, is lost to the aggregate (``support.counted``).

Each scenario is made deterministic by a second group member joining at a chosen moment, an agent holding
a record until the moment matters, and the hooks described in probe.py (the same hooks for both consumers).
"""

from __future__ import annotations

import pytest

from tests.conftest import Servers
from tests.helpers.waiting import wait_until
from tests.integration.faust_corrections.support import (
    Probes,
    committed,
    counted,
    create_topics,
    send,
    send_at_once,
    unique,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(150)]

# The variants with Faust's own code back prove the pinned Faust's behaviour, not streamstash's: they go with
# the slow tests (`make test-all`; run them when Faust's pin or these scenarios change). The corrected runs
# keep the same scenarios, made deterministic by probe.py's hooks, and assert their exact outcomes.
FAUSTS_OWN = pytest.mark.slow


@pytest.fixture
def kafka(servers: Servers) -> str:
    if servers.kafka_engine == "standin":
        pytest.skip("proves Faust's corrections against Apache Kafka's group protocol, not the stand-in's")
    return servers.kafka


def topic_names(prefix: str) -> tuple[str, str, str]:
    """A group of its own, the topic under test, and the topic of the member that joins to rebalance."""
    group = unique(prefix)
    return group, f"{group}-in", f"{group}-other"


@pytest.mark.parametrize("variant", [pytest.param("without_rewind", marks=FAUSTS_OWN), "corrected"])
def test_a_partition_never_committed_is_read_again_after_a_rebalance_dropped_its_records(
    variant: str, kafka: str, probes: Probes
) -> None:
    """1. A poll that spans the rebalance returns the never-committed partition's records while the flow is
    stopped; Faust drops them and seeks back to the committed offsets, but aiokafka's seek leaves a partition
    never committed where it is: past the records dropped."""
    group, topic, other = topic_names("rewind")
    create_topics(kafka, {topic: 2, other: 1})
    gate, victim = 0, 1
    settings = {"bootstrap": kafka, "app_id": group, "partitions": 2}
    member = probes.start("a", {**settings, "topic": topic, "variant": variant, "hooks": ["long_poll", "slow_seek"]})
    joiner = probes.start_later("b", {**settings, "topic": other})
    send(kafka, topic, gate, [{"warm": True}])
    member.wait_done(gate, 0)
    # The agent holds a record of the gate partition until the rebalance stops the flow: the victim's
    # records queue up behind it and are cleared unacknowledged, so the victim is never committed.
    send(kafka, topic, gate, [{"hold": "revoke"}])
    member.wait_started(gate, 1)
    records = send(kafka, topic, victim, [{"n": n} for n in range(10)])
    assert committed(kafka, group, topic, 2)[victim] is None
    joiner.go()
    generation = member.wait_rebalanced()
    member.wait_flowing(generation)
    sentinel = send(kafka, topic, victim, [{"sentinel": True}])[0]
    member.wait_done(victim, sentinel)

    dropped = [entry["records"] for entry in member.journal.of("fetched_while_stopped")]
    assert {f"{topic}:{victim}": len(records)} in dropped, "the poll that spanned the rebalance brought them"
    done = member.journal.done_offsets(victim)
    if variant == "corrected":
        assert counted(done) == [*records, sentinel]
    else:
        assert done == [sentinel], f"Faust alone should have skipped {records} for good, handled {done}"


@pytest.mark.parametrize("variant", [pytest.param("without_stopped_seek", marks=FAUSTS_OWN), "corrected"])
def test_no_record_is_handed_on_while_an_app_with_a_table_seeks_after_a_rebalance(
    variant: str, kafka: str, probes: Probes
) -> None:
    """2. With a table, the recovery has the flow running when it seeks the agents' partitions and clears the
    agents' queues after the seek: what the read loop handed on meanwhile is gone, its position past it."""
    group, topic, other = topic_names("seek")
    create_topics(kafka, {topic: 1, other: 1})
    settings = {"bootstrap": kafka, "app_id": group, "partitions": 1}
    member = probes.start(
        "a", {**settings, "topic": topic, "variant": variant, "table": True, "hooks": ["slow_seek"], "slow_seek_s": 2.5}
    )
    joiner = probes.start_later("b", {**settings, "topic": other})
    send(kafka, topic, 0, [{"warm": True}])
    member.wait_done(0, 0)
    send(kafka, topic, 0, [{"hold": "revoke"}])
    member.wait_started(0, 1)
    # Read again after the rebalance: a slow record first keeps the agent busy while the rest is queued.
    records = send(kafka, topic, 0, [{"sleep": 3.5}] + [{"n": n} for n in range(10)])
    joiner.go()
    generation = member.wait_rebalanced()
    member.wait_flowing(generation)
    sentinel = send(kafka, topic, 0, [{"sentinel": True}])[0]
    member.wait_done(0, sentinel)

    handled = counted(member.journal.done_offsets(0))
    if variant == "corrected":
        assert handled == [0, 1, *records, sentinel]
    else:
        assert handled == [0, 1, records[0], sentinel], f"Faust alone should have dropped {records[1:]}"


@pytest.mark.parametrize("variant", [pytest.param("without_head_guard", marks=FAUSTS_OWN), "corrected"])
def test_nothing_is_committed_past_a_record_still_in_flight(variant: str, kafka: str, probes: Probes) -> None:
    """3. faust-streaming/faust#606: with agent concurrency 3, a record still being processed at the head
    of a committed partition (0) and of one never committed (1) while later ones are acknowledged; then
    kill -9. A commit past the head loses that record: the next member starts after it."""
    group, topic, _ = topic_names("head")
    create_topics(kafka, {topic: 2})
    settings = {"bootstrap": kafka, "app_id": group, "partitions": 2, "topic": topic, "variant": variant}
    member = probes.start("a", {**settings, "concurrency": 3})
    member.wait_assigned()
    send(kafka, topic, 0, [{"warm": n} for n in range(3)])
    wait_until(lambda: committed(kafka, group, topic, 2)[0] == 3, timeout=30, message="partition 0 committed at 3")
    after = {0: send(kafka, topic, 0, [{"hold": "forever"}] + [{"n": n} for n in range(4)])}
    after[1] = send(kafka, topic, 1, [{"hold": "forever"}] + [{"n": n} for n in range(4)])
    for partition, offsets in after.items():
        member.wait_done(partition, offsets[-1])
    member.wait_commit_round_after([(partition, offsets[-1]) for partition, offsets in after.items()])
    kept = committed(kafka, group, topic, 2)
    member.kill9()

    successor = probes.start("a2", {**settings, "holds": False})
    sentinels = {partition: send(kafka, topic, partition, [{"sentinel": True}])[0] for partition in after}
    for partition, sentinel in sentinels.items():
        successor.wait_done(partition, sentinel)
    handled_after_kill = {partition: successor.journal.done_offsets(partition) for partition in after}
    if variant == "corrected":
        assert kept == {0: 3, 1: None}, "nothing may be committed past a record in flight"
        assert handled_after_kill == {partition: [*after[partition], sentinels[partition]] for partition in after}
    else:
        assert kept == {0: after[0][-1] + 1, 1: after[1][-1] + 1}, "Faust alone commits past the record in flight"
        assert handled_after_kill == {partition: [sentinel] for partition, sentinel in sentinels.items()}


@pytest.mark.parametrize("variant", [pytest.param("without_buffer_wake", marks=FAUSTS_OWN), "corrected"])
def test_a_partition_whose_stream_buffer_drained_is_read_again_at_once(
    variant: str, kafka: str, probes: Probes
) -> None:
    """5. A backlog fills the agent's queue, so Faust takes the partition out of the read loop's polls until
    the queue drains. Two members, so that one of them has no other partition (the assignor's topic goes to
    one member only): its polls then have no active partition at all. No poll may come back empty while its
    member's partition still holds records it has not read; Faust's own polls wait out their 1 s timeout."""
    group, topic, _ = topic_names("backlog")
    create_topics(kafka, {topic: 2})
    settings = {"bootstrap": kafka, "app_id": group, "topic": topic, "partitions": 2, "variant": variant}
    first = probes.start("a", settings)
    first.wait_assigned()
    second = probes.start("b", settings)
    second.wait_flowing(second.wait_assigned())
    first.wait_flowing(first.wait_rebalanced())
    records = 300  # the agents' queues hold 64 (stream_buffer_maxsize, as in the services)
    for partition in (0, 1):
        send_at_once(kafka, topic, partition, [{"sleep": 0.002}] * records)

    def every_record_done() -> bool:
        done = [set(member.journal.done_offsets(partition)) for member in (first, second) for partition in (0, 1)]
        return len(set().union(*done)) == records and sum(map(len, done)) == 2 * records

    wait_until(every_record_done, timeout=60, message="every record done")
    stalls = {}
    for member in (first, second):
        journal = member.journal
        reads = journal.of("read")
        (partition,) = {item["p"] for item in reads}  # each member reads one partition
        assert sorted(journal.done_offsets(partition)) == list(range(records))
        first_read, last_read = reads[0]["t"], reads[-1]["t"]
        stalls[member.name] = [
            item["t"] - first_read
            for item in journal.of("poll")
            if item["n"] == 0 and first_read < item["t"] < last_read
        ]
    if variant == "corrected":
        assert stalls == {"a": [], "b": []}
    else:
        assert all(stalls.values()), stalls


def test_a_rebalance_waits_for_the_commit_the_read_loop_awaits(kafka: str, probes: Probes) -> None:
    """Documents Faust's behaviour that made a former correction pointless (faust_consumer.py, "Removed"):
    a rebalance that begins while the read loop awaits a commit waits for that commit, so the read loop
    never comes back with a record of the previous generation. Fails if an upgrade of Faust changes that."""
    group, topic, other = topic_names("stale")
    create_topics(kafka, {topic: 1, other: 1})
    settings = {"bootstrap": kafka, "app_id": group, "partitions": 1}
    member = probes.start("a", {**settings, "topic": topic, "hooks": ["held_commit"], "commit_every": 10})
    joiner = probes.start_later("b", {**settings, "topic": other})
    member.wait_assigned()
    send(kafka, topic, 0, [{"n": n} for n in range(20)])
    wait_until(lambda: member.journal.of("commit_held"), timeout=30, message="a commit held")
    send(kafka, topic, 0, [{"n": n} for n in range(20, 40)])  # the read loop commits every 10 records
    wait_until(lambda: member.journal.of("read_loop_commit"), timeout=30, message="the read loop commits")
    joiner.go()
    generation = member.wait_rebalanced()
    member.wait_flowing(generation)
    sentinel = send(kafka, topic, 0, [{"sentinel": True}])[0]
    member.wait_done(0, sentinel)

    journal = member.journal
    revoking = journal.first("revoking", after=journal.first("commit_held"))
    spanning = [
        span for span in journal.spans("read_loop_commit", "read_loop_commit_end") if span[0] < revoking < span[1]
    ]
    assert spanning, "the rebalance began while the read loop awaited a commit"
    revoked = journal.first("revoked", after=revoking)
    assert spanning[0][1] <= revoked < journal.first("assigned", after=revoking), "and waited for that commit"
    assert journal.of("stale") == []
    assert counted(journal.done_offsets(0)) == list(range(sentinel + 1))
