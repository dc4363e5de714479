"""Running a service process: logging, and signals: the first drains (within a bounded time), the second exits at once.

The same rules hold for the asyncio services (collector, indexer: :func:`run_service`) and the Faust
ones (parser, aggregator: ``streaming.ServiceWorker``), through :class:`StopSignals`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
import time
from collections.abc import Awaitable, Callable

from streamstash.config import PipelineConfig
from streamstash.runtime.garbage import settle_garbage_collection
from streamstash.runtime.logs import configure_logging, flush_logs

log = logging.getLogger(__name__)

EXIT_AT_ONCE = 130  # a second signal: what a shell reports for an interrupted command
EXIT_SHUTDOWN_TIMEOUT = 124  # the drain outlasted shutdown_timeout_s (as timeout(1) reports it)
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopSignals:
    """What SIGINT/SIGTERM do to a service.

    The first calls ``begin_stop`` (drain in-flight work, commit, exit 0) and arms a watchdog thread
    that ends the process after ``timeout_s`` whatever the event loop is doing; the second exits at
    once. Exiting without a commit loses nothing: uncommitted records are read again after a restart
    and every stage writes them idempotently.
    """

    def __init__(self, service: str, timeout_s: float, begin_stop: Callable[[], None]) -> None:
        self.service = service
        self.timeout_s = timeout_s
        self.begin_stop = begin_stop
        self.first_at: float | None = None
        self._watchdog: threading.Timer | None = None

    def received(self, signum: int) -> None:
        """The event loop's handler (``loop.add_signal_handler``) of SIGINT and SIGTERM."""
        if self.first_at is not None:
            self._second(signum)
        self.first_at = time.monotonic()
        log.info(
            "stopping: draining in-flight work",
            extra={"service": self.service, "signal": signal.Signals(signum).name, "timeout_s": self.timeout_s},
        )
        self._watchdog = threading.Timer(self.timeout_s, self._expired)
        self._watchdog.daemon = True
        self._watchdog.start()
        self._exit_on_next_signal()
        self.begin_stop()

    def _exit_on_next_signal(self) -> None:
        """From now on also a plain Python handler: it runs between two bytecodes of the main thread, so a
        second signal ends the process even while a drain keeps the event loop busy.

        The event loop's handlers stay: a second signal that arrived together with the first is already
        queued for the loop (its wakeup fd), and only the loop's handler still sees it.
        """
        for signum in STOP_SIGNALS:
            signal.signal(signum, lambda number, _frame: self._second(number))

    def _second(self, signum: int) -> None:
        log.warning(
            "second signal, exiting at once",
            extra={
                "service": self.service,
                "signal": signal.Signals(signum).name,
                "stopping_for_s": round(time.monotonic() - (self.first_at or time.monotonic()), 3),
            },
        )
        _exit(EXIT_AT_ONCE)

    def _expired(self) -> None:
        log.error(
            "drain did not finish within shutdown_timeout_s, exiting; uncommitted work will be read again",
            extra={"service": self.service, "timeout_s": self.timeout_s},
        )
        _exit(EXIT_SHUTDOWN_TIMEOUT)


def _exit(code: int) -> None:
    flush_logs(0.3)
    os._exit(code)


def run_service(service: str, config: PipelineConfig, main: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    """Run ``main(stop)`` until it returns; ``stop`` is set by the first SIGINT/SIGTERM."""
    configure_logging(service, config.logging.level_for(service), config.logging.json_format)

    async def supervise() -> None:
        stop = asyncio.Event()
        signals = StopSignals(service, config.shutdown_timeout_s, stop.set)
        loop = asyncio.get_running_loop()
        for signum in STOP_SIGNALS:
            loop.add_signal_handler(signum, signals.received, signum)
        await main(stop)
        if signals.first_at is not None:
            log.info(
                "stopped", extra={"service": service, "drained_in_s": round(time.monotonic() - signals.first_at, 3)}
            )

    settle_garbage_collection(service)
    asyncio.run(supervise())
