"""Keeping the Kafka client's own complaints readable while Kafka is away.

aiokafka logs a connection error every ~100 ms per connection during an outage; the collector
already reports the outage itself (one WARNING with figures every few seconds), so the same
client message is let through once per ``interval`` seconds, with how many were held back.
"""

from __future__ import annotations

import logging
import time

CLIENT_LOGGERS = ("aiokafka", "kafka")


class RepeatedClientMessages(logging.Filter):
    def __init__(self, interval: float = 30.0) -> None:
        super().__init__()
        self.interval = interval
        self._last: dict[tuple[str, str], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(CLIENT_LOGGERS):
            return True
        key = (record.name, str(record.msg))
        now = time.monotonic()
        last, held = self._last.get(key, (float("-inf"), 0))
        if now - last < self.interval:
            self._last[key] = (last, held + 1)
            return False
        self._last[key] = (now, 0)
        if held:
            record.repeated = held  # shown as a field by the JSON formatter
        return True


def quiet_repeated_client_messages(interval: float = 30.0) -> None:
    """Install the filter on the root handlers (client loggers propagate to them)."""
    message_filter = RepeatedClientMessages(interval)
    for handler in logging.getLogger().handlers:
        handler.addFilter(message_filter)
