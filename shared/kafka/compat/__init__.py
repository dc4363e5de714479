"""The one adapter between streamstash and the private parts of Faust and aiokafka (both pinned).

Every service process calls :func:`install` once, at start, before it builds a Kafka client; nothing
here is installed as a side effect of building a consumer.

- ``faust_consumer``: three corrections of Faust's consumer, where a rebalance or a record still in
  flight could make it skip a record for good (faust-streaming/faust#253/#256, #216/#596, #606), each
  proven on Apache Kafka by ``tests/integration/faust_corrections``. They fix Faust, not the broker, so
  they are on with every broker; the Faust services build their app with :class:`AtLeastOnceApp`.
- ``emulator``: three repairs for the noida-db stand-in (empty-fetch pacing, LeaveGroup for a member id
  aiokafka drops, a rejoin on an empty assignment). On only when ``kafka.standin`` is set.
- ``internals``: read-only access to private state (the consumer under a Faust app, member ids,
  whether the coordinator is known, committed offsets for lag, a metadata refresh).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from streamstash.config.common import KafkaSettings
from streamstash.kafka.compat.emulator import install_standin_repairs
from streamstash.kafka.compat.faust_consumer import AtLeastOnceApp, AtLeastOnceConsumer

__all__ = ["AtLeastOnceApp", "AtLeastOnceConsumer", "Installed", "install", "installed"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Installed:
    standin_repairs: bool
    empty_fetch_pause_ms: int


_installed: Installed | None = None


def install(settings: KafkaSettings) -> Installed:
    """Install what this process needs for the brokers of ``settings``; once per process.

    A second call with the same settings is a no-op; one that asks for other repairs is an error, since
    aiokafka's classes are process-wide and a repair cannot be taken back.
    """
    global _installed  # noqa: PLW0603 - the process's one adapter state
    wanted = Installed(
        standin_repairs=settings.standin, empty_fetch_pause_ms=settings.empty_fetch_pause_ms if settings.standin else 0
    )
    if _installed is not None:
        if _installed != wanted:
            raise RuntimeError(f"kafka.compat was installed as {_installed}, now asked for {wanted}")
        return _installed
    if wanted.standin_repairs:
        install_standin_repairs(wanted.empty_fetch_pause_ms)
    _installed = wanted
    log.info(
        "kafka adapter installed: Faust corrections on, stand-in repairs %s",
        "on" if wanted.standin_repairs else "off",
        extra={"standin_repairs": wanted.standin_repairs, "empty_fetch_pause_ms": wanted.empty_fetch_pause_ms},
    )
    return wanted


def installed() -> Installed | None:
    """What :func:`install` installed in this process, None before it ran."""
    return _installed
