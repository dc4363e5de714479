"""Structured logging: JSON lines, written by a background thread so a slow stderr never blocks the loop.

Call sites pass their fields through ``extra={...}`` and keep the sentence short; the formatter puts
the fields first and the sentence last.
"""

from __future__ import annotations

import atexit
import json
import logging
import logging.handlers
import queue
import sys
import time
from collections.abc import Callable

import orjson

# Attributes every LogRecord has; anything else came from `extra=` and is a structured field.
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
        }
        entry.update(
            (key, value)
            for key, value in record.__dict__.items()
            if key not in _RECORD_ATTRIBUTES and not key.startswith("_")
        )
        entry["msg"] = record.getMessage()
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        try:
            return orjson.dumps(entry, default=str).decode()
        except TypeError:  # orjson refuses ints beyond 64 bits (e.g. Docker log positions); json does not
            return json.dumps(entry, default=str, ensure_ascii=False)


THIRD_PARTY_LOGGERS = ("aiokafka", "kafka", "elastic_transport", "opensearch", "faust", "mode", "urllib3")
REPEAT_WINDOW_S = 10.0


class RepeatSuppressor(logging.Filter):
    """Lets one of a client library's identical messages through per ``window_s``, with how many were held back.

    While a broker is away aiokafka logs the same connection error every retry (ten lines a second
    per client); the first one says all there is, and the count says how long it went on.
    """

    def __init__(
        self,
        window_s: float = REPEAT_WINDOW_S,
        prefixes: tuple[str, ...] = THIRD_PARTY_LOGGERS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.window_s = window_s
        self.prefixes = prefixes
        self.clock = clock
        self._last: dict[tuple[str, int, object], tuple[float, int]] = {}  # -> (let through at, held back since)

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(self.prefixes):
            return True
        key = (record.name, record.levelno, record.msg)
        now = self.clock()
        shown_at, held = self._last.get(key, (None, 0))
        if shown_at is not None and now - shown_at < self.window_s:
            self._last[key] = (shown_at, held + 1)
            return False
        if held:
            record.repeated_before = held  # a structured field: how many like it were held back
        if len(self._last) > 1000:  # bounded: messages are templates, but be safe
            self._last.clear()
        self._last[key] = (now, 0)
        return True


class _Writer:
    """The one queue listener of the process (configure_logging may be called again, e.g. by a test)."""

    listener: logging.handlers.QueueListener | None = None


def configure_logging(service: str, level: str = "INFO", json_format: bool = True) -> None:
    """Route every logger through one queue to a stderr writer thread.

    Callers only format the record and put it on an unbounded queue, so a slow or blocked stderr
    never holds up the event loop (the queue grows instead).
    """
    handler = logging.StreamHandler(sys.stderr)
    if json_format:
        handler.setFormatter(JsonFormatter(service))
    else:
        handler.setFormatter(logging.Formatter(f"%(asctime)s {service} %(levelname)s %(name)s: %(message)s"))
    log_queue: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    listener = logging.handlers.QueueListener(log_queue, handler, respect_handler_level=False)
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    queue_handler = logging.handlers.QueueHandler(log_queue)
    queue_handler.addFilter(RepeatSuppressor())
    root.addHandler(queue_handler)
    root.setLevel(level)
    # Third-party clients are chatty at INFO (one line per connection or rebalance step).
    for noisy in THIRD_PARTY_LOGGERS:
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
    if _Writer.listener is not None:
        _Writer.listener.stop()
    else:
        atexit.register(_stop_writer)  # once: a reconfiguration replaces the listener, not the exit hook
    _Writer.listener = listener
    listener.start()


def _stop_writer() -> None:
    if _Writer.listener is not None:
        _Writer.listener.stop()
        _Writer.listener = None


def flush_logs(timeout_s: float = 1.0) -> None:
    """Write what is queued, waiting at most ``timeout_s``: for exits that skip atexit (``os._exit``)."""
    listener = _Writer.listener
    thread = getattr(listener, "_thread", None)
    if listener is None or thread is None:
        return
    listener.enqueue_sentinel()
    thread.join(timeout_s)
