"""Access to private state of Faust and aiokafka that streamstash needs and neither exposes.

Each accessor is defensive: a missing attribute (an object not started yet, or another version) reads
as "unknown" instead of raising. ``tests/unit/test_compat.py`` checks, on the pinned versions, that every
attribute read here still exists, so an upgrade that moves one fails there and not in a running service.
Two functions here change state: ``abandon_unsent`` and ``wake_fetch_waiters``.
"""

from __future__ import annotations

from typing import Any

from aiokafka.errors import IllegalStateError
from faust.exceptions import ConsumerNotStarted
from faust.types import TP


def aiokafka_consumer(app: Any) -> Any:
    """The aiokafka consumer under a Faust app's consumer thread, None before it exists."""
    return getattr(getattr(app.consumer, "_thread", None), "_consumer", None)


def coordinator_known(consumer: Any) -> bool:
    """An aiokafka consumer in a group forgets its coordinator when Kafka stops answering (a failed
    heartbeat, fetch or commit) and finds it again once Kafka is back: readiness follows it."""
    coordinator = getattr(consumer, "_coordinator", None)
    return coordinator is not None and coordinator.coordinator_id is not None


def faust_coordinator_known(app: Any) -> bool:
    consumer = aiokafka_consumer(app)
    return consumer is not None and coordinator_known(consumer)


def coordination_error(app: Any) -> BaseException | None:
    """The error that ended the aiokafka consumer's group coordination task, if it ended with one.

    aiokafka logs "Unexpected error in coordinator routine" and never rejoins after it.
    """
    task = getattr(getattr(aiokafka_consumer(app), "_coordinator", None), "_coordination_task", None)
    if task is None or not task.done() or task.cancelled():
        return None
    error: BaseException | None = task.exception()
    return error


def member_id(consumer: Any) -> str | None:
    """The member id an aiokafka consumer got from the group coordinator ("" until the first join)."""
    try:
        return consumer._coordinator.member_id or None
    except AttributeError:
        return None


def faust_member_id(app: Any) -> str | None:
    """The member id of a Faust app's consumer (None if it cannot be read)."""
    try:
        return member_id(app.consumer._thread._ensure_consumer())
    except Exception:  # noqa: BLE001 - without the id a restart just waits for the session timeout
        return None


def faust_done_offset(consumer: Any, tp: TP) -> int | None:
    """Where a Faust consumer stands on ``tp`` for lag: what it committed, else the next offset to read.

    Faust keeps both in plain dicts (``_committed_offset``, ``_read_offset``); None once revoked.
    """
    try:
        done = consumer._committed_offset.get(tp)
        if done is None:
            read = consumer._read_offset.get(tp)
            done = read + 1 if read is not None else None
    except (ConsumerNotStarted, IllegalStateError, AssertionError, KeyError, AttributeError):
        return None
    return done if isinstance(done, int) else None


async def force_metadata_update(consumer: Any) -> None:
    """Refresh an aiokafka consumer's cluster metadata now (it has no public way to)."""
    await consumer._client.force_metadata_update()


async def abandon_unsent(producer: Any) -> None:
    """Stop an aiokafka producer's sender, so that its ``stop()`` no longer waits for Kafka.

    ``AIOKafkaProducer.stop()`` waits until its accumulator is empty or its sender task has ended, and the
    accumulator empties only as Kafka takes the batches. A collector that has spilled those batches calls
    this first, so that its stop takes ``drain_timeout_s`` and not that plus the producer's own wait.
    The batches are left unresolved: failing them (``fail_all``) trips over a batch queued again for a retry
    (its done-callback removes it from a set it is no longer in: KeyError in aiokafka 0.14).
    """
    sender = getattr(producer, "_sender", None)
    if sender is not None:
        await sender.close()


def wake_fetch_waiters(consumer_thread: Any) -> None:
    """Make a poll that Faust's consumer thread is waiting in look again at the partitions it may return.

    aiokafka's ``Fetcher.fetched_records`` returns records only of the partitions it was given, and waits
    for new ones until its timeout otherwise. Faust gives it its set of active partitions (the same set
    object) and leaves a partition out of it while that partition's stream buffer is under pressure. When
    the pressure drops, Faust puts the partition back into the set but wakes no one, so the records
    already fetched for it wait until the poll times out (1 s in ``Consumer._drain_messages``). The
    fetcher belongs to the consumer thread's event loop, so the waiters are resolved from that loop.
    """
    fetcher = getattr(getattr(consumer_thread, "_consumer", None), "_fetcher", None)
    loop = getattr(consumer_thread, "thread_loop", None)
    if fetcher is None or loop is None or loop.is_closed():
        return
    loop.call_soon_threadsafe(_resolve_fetch_waiters, fetcher)


def _resolve_fetch_waiters(fetcher: Any) -> None:
    for waiter in list(getattr(fetcher, "_fetch_waiters", ())):
        if not waiter.done():
            waiter.set_result(None)
