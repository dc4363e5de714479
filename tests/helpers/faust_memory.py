"""Faust apps in memory, for testing a service's agents with `agent.test_context()`: the real app
(`make_app`, the same agents and table), a `memory://` store, and in-memory channels instead of topics."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import faust
from faust.types import ChannelT, EventT

from streamstash.config import PipelineConfig
from streamstash.kafka import compat
from streamstash.kafka.faust_app import make_app

# make_app names brokers; nothing connects to them while agents run in test contexts.
UNUSED_BROKER = "127.0.0.1:1"


@contextmanager
def memory_app(config: PipelineConfig, service: str) -> Iterator[faust.App]:
    """The service's Faust app with a memory store; call from a sync fixture (make_app runs its own loop)."""
    compat.install(config.kafka)
    app = make_app(config, service, store="memory://")
    try:
        yield app
    finally:
        app.state_slot.release()


class Outbox:
    """What agents sent to a channel, in order."""

    def __init__(self, channel: ChannelT) -> None:
        self.channel = channel
        self._subscriber = channel.clone(is_iterator=True)  # kept: the channel holds subscribers weakly

    async def take(self, timeout: float = 10.0) -> EventT:
        return await self._subscriber.get(timeout=timeout)

    async def take_all(self, count: int, timeout: float = 10.0) -> list[EventT]:
        return [await self.take(timeout) for _ in range(count)]

    def empty(self) -> bool:
        return self._subscriber.empty()
