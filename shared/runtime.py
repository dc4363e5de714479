"""Running a service process: logging, signals (first drains, second exits at once), the health endpoint."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Awaitable, Callable

from streamstash.config import PipelineConfig
from streamstash.logs import configure_logging

log = logging.getLogger(__name__)

EXIT_AT_ONCE = 130
DRAIN_TIMEOUT_S = 30.0


def install_stop_signals(loop: asyncio.AbstractEventLoop, stop: asyncio.Event, service: str) -> None:
    def on_signal(signum: int) -> None:
        if stop.is_set():
            log.warning("second signal, exiting at once", extra={"service": service, "signal": signum})
            os._exit(EXIT_AT_ONCE)
        log.info("stopping: draining in-flight work", extra={"service": service, "signal": signum})
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal, signum)


def run_service(service: str, config: PipelineConfig, main: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    """Run ``main(stop)`` until it returns; ``stop`` is set by SIGINT/SIGTERM."""
    configure_logging(service, config.logging.level, config.logging.json_format)

    async def supervise() -> None:
        stop = asyncio.Event()
        install_stop_signals(asyncio.get_running_loop(), stop, service)
        await main(stop)

    asyncio.run(supervise())
