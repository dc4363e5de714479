"""Whether Kafka keeps up with the collector, and the WARNINGs while it does not.

Kafka is unhealthy from the first failed send, or a send unanswered for ``STALL_S``, until the next
acknowledgement. While it is, or anything is spilled, or inputs are paused, the collector is not ready
(/readyz) and logs a WARNING with the figures every ``REPORT_EVERY_S``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable

from streamstash.services.collector.batches import SealedBatch

log = logging.getLogger(__name__)

STALL_S = 5.0  # a send unanswered this long means Kafka is not keeping up (or away)
REPORT_EVERY_S = 5.0


class KafkaHealth:
    def __init__(self, figures: Callable[[], dict[str, object]]) -> None:
        self.healthy = True
        self._figures = figures
        self._last_report = 0.0

    def send_failed(self, exc: BaseException, batch: SealedBatch, attempt: int, delay: float) -> None:
        if self.healthy:
            self.healthy = False
            self._last_report = time.monotonic()
            log.warning(
                "kafka send failed, buffering and retrying",
                extra={
                    **self._figures(),
                    "source": batch.key,
                    "attempt": attempt,
                    "error": repr(exc),
                    "retry_in_s": round(delay, 2),
                },
            )

    def acknowledged(self) -> None:
        if not self.healthy:
            self.healthy = True
            log.info("kafka reachable again", extra=self._figures())

    def check(self, now: float, in_flight: Iterable[SealedBatch], troubled: bool) -> None:
        """Notice a stalled send; while anything is wrong, report the figures every few seconds."""
        if self.healthy and any(batch.sent_at is not None and now - batch.sent_at > STALL_S for batch in in_flight):
            self.healthy = False
            self._last_report = now
            log.warning("kafka does not acknowledge, buffering", extra=self._figures())
        if (troubled or not self.healthy) and now - self._last_report >= REPORT_EVERY_S:
            self._last_report = now
            log.warning("buffering while kafka is unreachable or behind", extra=self._figures())
