"""A test-only Faust app, run as its own process, to prove the consumer's corrections on Apache Kafka.

``python -m tests.integration.faust_corrections.probe`` reads its settings as JSON from the environment
variable ``PROBE`` (:class:`ProbeSettings`). Its one agent journals every record it starts and finishes
(partition, offset, generation) as JSON lines, so the test can tell which records were skipped. A
record's value says what the agent does with it: ``{"hold": "revoke"}`` holds the agent until a rebalance
has stopped the flow (so Faust clears what is queued behind it, unacknowledged), ``{"hold": "forever"}``
holds it until the process is killed, ``{"sleep": s}`` makes it a slow record.

The consumer is ``AtLeastOnceConsumer`` or a variant of it with Faust's own code back for exactly one
correction (numbered as in ``streamstash.kafka.compat.faust_consumer``). Hooks widen a window that exists
without them, so that the race a correction is about happens on every run rather than now and then. They
only lengthen an await that waits for Kafka or for the consumer thread; the same hooks run with both
consumers of a test:

- ``long_poll``: the read loop's polls wait up to 10 s for records instead of Faust's 1 s. A poll in flight
  when a rebalance begins then comes back with the first records of the new assignment, while Faust's flow
  is stopped, however long the broker takes to answer the new assignment's first fetches (an idle partition
  on the same broker holds that fetch for ``fetch_max_wait_ms``, 1.5 s in Faust) - as polls do on a busy
  topic, where they come back within milliseconds.
- ``slow_seek``: after a rebalance, ``seek_to_committed`` takes ``slow_seek_s`` longer after moving the positions, as when the OffsetFetch
  requests it sends one partition after another (``AIOKafkaConsumer.committed``) are slow. The read loop
  polls at least once a second, so it runs while the seek is under way.
- ``held_commit``: the first commit that starts once 10 records are done (an OffsetCommit request) takes
  until a rebalance has begun, and 1 s more.

Observation only (every probe): the journal also gets each resumption of the flow, each commit round's
decision, the start of each revocation, each commit the read loop awaits, and any record the read loop
comes back with after the generation changed, and each record the read loop hands on ("read") and each of
its polls with the number of records it returned ("poll").
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP, TransportT

from streamstash.kafka.compat.faust_consumer import AtLeastOnceConsumer

LONG_POLL_S = 10.0
HELD_COMMIT_AFTER = 10
HELD_COMMIT_MAX_S = 30.0
HELD_COMMIT_AFTER_REBALANCE_S = 1.0
HOLD_POLL_S = 0.02


class Journal:
    def __init__(self, path: str) -> None:
        self._file = open(path, "a", buffering=1)  # noqa: SIM115 - for the process's life

    def write(self, entry: str, **fields: Any) -> None:
        self._file.write(json.dumps({"e": entry, "t": time.monotonic(), "pid": os.getpid(), **fields}) + "\n")


# Variants: AtLeastOnceConsumer with Faust's own code back for exactly one correction ---------------------


class WithoutRewind(AtLeastOnceConsumer):
    """1 off: Faust's ``seek_to_committed``, which leaves partitions never committed where they are."""

    seek_to_committed = faust_aiokafka.Consumer.seek_to_committed  # type: ignore[assignment]


class WithoutStoppedSeek(AtLeastOnceConsumer):
    """2 off: Faust's ``perform_seek``, which runs with the flow as its caller left it."""

    async def perform_seek(self) -> None:
        await faust_aiokafka.Consumer.perform_seek(self)
        self.holes.forget_all()


class WithoutHeadGuard(AtLeastOnceConsumer):
    """3 off: Faust's ``_new_offset``, which commits past a single unacknowledged head (or any, never committed)."""

    _new_offset = faust_aiokafka.Consumer._new_offset  # type: ignore[assignment]


class WithoutBufferWake(AtLeastOnceConsumer):
    """5 off: Faust's ``on_buffer_drop`` and ``_wait_next_records``: a poll in flight waits out its timeout."""

    on_buffer_drop = faust_aiokafka.Consumer.on_buffer_drop  # type: ignore[assignment]
    _wait_next_records = faust_aiokafka.Consumer._wait_next_records  # type: ignore[assignment]


VARIANTS: dict[str, type[AtLeastOnceConsumer]] = {
    "corrected": AtLeastOnceConsumer,
    "without_rewind": WithoutRewind,
    "without_stopped_seek": WithoutStoppedSeek,
    "without_head_guard": WithoutHeadGuard,
    "without_buffer_wake": WithoutBufferWake,
}


# Hooks ---------------------------------------------------------------------------------------------------


class Mixin:
    """What the hooks below use of the consumer they are mixed into."""

    app: Any
    journal: Journal
    flow_active: bool
    done_records = 0  # the agent counts them
    slow_seek_s: float


class LongPoll(Mixin):
    async def _getmany(self, active_partitions: set[TP] | None, timeout: float) -> Any:
        return await super()._getmany(active_partitions, max(timeout, LONG_POLL_S))  # type: ignore[misc]


class SlowSeek(Mixin):
    first_generation: int | None = None

    async def seek_to_committed(self) -> Mapping[TP, int]:
        committed = await super().seek_to_committed()  # type: ignore[misc]
        generation = self.app.consumer_generation_id
        if self.first_generation is None:
            self.first_generation = generation
        if generation != self.first_generation:  # the seeks after a rebalance, not at the start
            await asyncio.sleep(self.slow_seek_s)
        return committed  # type: ignore[no-any-return]


class HeldCommit(Mixin):
    held = False

    async def _commit(self, offsets: Mapping[TP, int]) -> bool:
        hold = not self.held and self.done_records >= HELD_COMMIT_AFTER and not self.app.rebalancing
        if hold:
            self.held = True
            self.journal.write("commit_held")
            deadline = time.monotonic() + HELD_COMMIT_MAX_S
            while not self.app.rebalancing and time.monotonic() < deadline:
                await asyncio.sleep(HOLD_POLL_S)
            await asyncio.sleep(HELD_COMMIT_AFTER_REBALANCE_S)
        try:
            return await super()._commit(offsets)  # type: ignore[misc, no-any-return]
        finally:
            if hold:
                self.journal.write("commit_released")


HOOKS: dict[str, type] = {"long_poll": LongPoll, "slow_seek": SlowSeek, "held_commit": HeldCommit}


class Journaled(Mixin):
    def resume_flow(self) -> None:
        super().resume_flow()  # type: ignore[misc]
        self.journal.write("flow", g=self.app.consumer_generation_id)

    async def commit(self, *args: Any, **kwargs: Any) -> bool:
        read_loop = sys._getframe(1).f_code.co_name == "_drain_messages"
        if read_loop:
            self.journal.write("read_loop_commit")
        try:
            return await super().commit(*args, **kwargs)  # type: ignore[misc, no-any-return]
        finally:
            if read_loop:
                self.journal.write("read_loop_commit_end")

    async def on_partitions_revoked(self, revoked: set[TP]) -> None:
        self.journal.write("revoking")
        await super().on_partitions_revoked(revoked)  # type: ignore[misc]

    async def getmany(self, timeout: float) -> Any:
        # Where the read loop asks for the next record it has stored the previous one's offset as read.
        async for tp, message in super().getmany(timeout):  # type: ignore[misc]
            self.journal.write("read", p=tp.partition, o=message.offset)
            yield tp, message
            if message.generation_id != self.app.consumer_generation_id:
                now = self.app.consumer_generation_id
                self.journal.write("stale", p=tp.partition, o=message.offset, g=message.generation_id, now=now)

    async def _wait_next_records(self, timeout: float) -> Any:
        records, active = await super()._wait_next_records(timeout)  # type: ignore[misc]
        self.journal.write("poll", n=sum(len(batch) for batch in (records or {}).values()))
        return records, active

    async def _getmany(self, active_partitions: set[TP] | None, timeout: float) -> Any:
        records = await super()._getmany(active_partitions, timeout)  # type: ignore[misc]
        if records and not self.flow_active:
            # Faust drops these (Consumer.getmany) and seeks back to the committed offsets.
            counts = {f"{tp.topic}:{tp.partition}": len(batch) for tp, batch in records.items()}
            self.journal.write("fetched_while_stopped", records=counts)
        return records

    def _filter_committable_offsets(self, tps: Any) -> dict[TP, int]:
        offsets: dict[TP, int] = super()._filter_committable_offsets(tps)  # type: ignore[misc]
        self.journal.write("commit_round", offsets={f"{tp.topic}:{tp.partition}": o for tp, o in offsets.items()})
        return offsets


def consumer_class(settings: ProbeSettings, journal: Journal) -> type[AtLeastOnceConsumer]:
    bases = (Journaled, *(HOOKS[hook] for hook in settings.hooks), VARIANTS[settings.variant])
    return type(f"Probe_{settings.variant}", bases, {"journal": journal, "slow_seek_s": settings.slow_seek_s})


# The app -------------------------------------------------------------------------------------------------


@dataclass
class ProbeSettings:
    bootstrap: str
    app_id: str
    topic: str
    partitions: int
    journal: str
    variant: str = "corrected"
    hooks: list[str] = field(default_factory=list)
    slow_seek_s: float = 4.0
    table: bool = False
    concurrency: int = 1
    holds: bool = True  # False: a restarted probe processes held records like any other
    commit_every: int = 100
    start_after: str | None = None  # a file: the worker starts (and joins the group) once it exists

    @classmethod
    def from_env(cls) -> ProbeSettings:
        return cls(**json.loads(os.environ["PROBE"]))


def exit_if_orphaned(parent: int) -> None:
    """A probe outlives no test run that was killed (its parent, the test, is then gone)."""
    if os.getppid() != parent:
        os._exit(1)


def build(settings: ProbeSettings, parent: int) -> faust.App:
    journal = Journal(settings.journal)
    consumer_cls = consumer_class(settings, journal)

    class ProbeApp(faust.App):
        def _new_transport(self) -> TransportT:
            transport = super()._new_transport()
            transport.Consumer = consumer_cls  # type: ignore[misc]
            return transport

    app = ProbeApp(
        settings.app_id,
        broker=f"kafka://{settings.bootstrap}",
        store="memory://",
        datadir=os.path.join(os.path.dirname(settings.journal), f"faust-{os.getpid()}"),
        web_enabled=False,
        topic_partitions=settings.partitions,
        topic_replication_factor=1,
        consumer_auto_offset_reset="earliest",
        # As the streamstash services run Faust (streamstash.kafka.faust_app.make_app).
        broker_max_poll_records=50,
        stream_buffer_maxsize=64,
        broker_commit_every=settings.commit_every,
        broker_commit_interval=1.0,
        agent_supervisor="mode.CrashingSupervisor",  # a crashing agent ends the worker: the test sees it exit
        # Notice a rebalance within half a second instead of Faust's 3 s.
        broker_heartbeat_interval=0.5,
        broker_session_timeout=6.0,
        key_serializer="raw",
        value_serializer="raw",
    )
    topic = app.topic(settings.topic, key_type=bytes, value_type=bytes, partitions=settings.partitions)
    table = app.Table("probe-seen", default=int, partitions=settings.partitions) if settings.table else None

    @app.agent(topic, concurrency=settings.concurrency)
    async def probe(stream: faust.StreamT) -> None:
        consumer = cast(Any, app.consumer)
        async for event in stream.events():
            message = event.message
            where = {"p": message.partition, "o": message.offset, "g": message.generation_id}
            journal.write("start", **where)
            spec = json.loads(event.value or b"{}")
            if settings.holds and spec.get("hold") == "revoke":
                while consumer.flow_active:
                    await asyncio.sleep(HOLD_POLL_S)
            elif settings.holds and spec.get("hold") == "forever":
                await asyncio.Event().wait()
            if spec.get("sleep"):
                await asyncio.sleep(float(spec["sleep"]))
            if table is not None:
                table[str(message.partition)] = message.offset
            journal.write("done", **where)
            consumer.done_records += 1

    @app.on_partitions_revoked.connect
    async def revoked(_app: Any, revoked: Any, **kwargs: Any) -> None:
        journal.write("revoked", tps=sorted(f"{tp.topic}:{tp.partition}" for tp in revoked))

    @app.on_partitions_assigned.connect
    async def assigned(_app: Any, assigned: Any, **kwargs: Any) -> None:
        tps = sorted(f"{tp.topic}:{tp.partition}" for tp in assigned if tp.topic == settings.topic)
        journal.write("assigned", g=app.consumer_generation_id, tps=tps)

    @app.on_rebalance_complete.connect
    async def rebalanced(_app: Any, **kwargs: Any) -> None:
        journal.write("rebalanced", g=app.consumer_generation_id)

    @app.task
    async def started() -> None:
        journal.write("running", variant=settings.variant, hooks=settings.hooks)

    @app.timer(1.0)
    async def exit_with_the_test() -> None:
        exit_if_orphaned(parent)

    return app


class WithExtras(logging.Formatter):
    """Faust's and aiokafka's lines as they are, and the ``extra=`` fields of streamstash's after them."""

    standard = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        extras = {key: value for key, value in vars(record).items() if key not in self.standard}
        line = super().format(record)
        return f"{line} {json.dumps(extras, default=str)}" if extras else line


def main() -> None:
    settings = ProbeSettings.from_env()
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(WithExtras("%(asctime)s %(name)s %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    parent = os.getppid()
    app = build(settings, parent)
    while settings.start_after and not os.path.exists(settings.start_after):
        exit_if_orphaned(parent)
        time.sleep(0.05)
    worker = faust.Worker(app, loglevel="INFO", quiet=True, redirect_stdouts=False, override_logging=False)
    worker.execute_from_commandline()


if __name__ == "__main__":
    main()
