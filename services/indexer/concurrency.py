"""How many bulk requests to keep in flight: additive increase, multiplicative decrease (AIMD).

More requests in parallel help only while Elasticsearch has idle capacity; past that they queue in
its write thread pool, latency climbs and it starts answering 429. The controller therefore

* grows the limit by one per interval while the consumer's backlog does not shrink, every slot was
  in use (more would have been sent), and latency stays near its baseline (Elasticsearch keeps up);
* halves it on a 429 (at most once per interval: one overload answers many requests at once);
* takes one away when latency rises above ``latency_tolerance`` times the baseline;
* drops to the minimum on connection errors (Elasticsearch away: probe gently when it returns).

The baseline is a lower envelope of request latency: it follows a faster request at once and a
slower one only slowly, so a lasting change (bigger documents) is eventually accepted as normal.
Pure logic: time comes in as arguments, so tests drive it without clocks or servers.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class ControllerState:
    limit: int
    baseline_s: float | None
    recent_s: float | None


class AdaptiveConcurrency:
    RECENT_WEIGHT = 0.3  # EWMA weight of a new sample in the recent latency
    BASELINE_RISE_WEIGHT = 0.02  # how fast the baseline follows slower requests
    BASELINE_FALL_WEIGHT = 0.5  # ... and faster ones
    MIN_SAMPLES = 3  # requests seen before latency is judged at all

    def __init__(
        self,
        max_limit: int,
        min_limit: int = 1,
        initial: int | None = None,
        adaptive: bool = True,
        latency_tolerance: float = 2.0,
        interval_s: float = 1.0,
    ) -> None:
        if not 1 <= min_limit <= max_limit:
            raise ValueError(f"need 1 <= min_limit ({min_limit}) <= max_limit ({max_limit})")
        if latency_tolerance <= 1:
            raise ValueError("latency_tolerance must be above 1")
        self.min_limit = min_limit
        self.max_limit = max_limit
        self.adaptive = adaptive
        self.latency_tolerance = latency_tolerance
        self.interval_s = interval_s
        start = min_limit if initial is None else initial
        self.limit = max(min_limit, min(max_limit, start)) if adaptive else max_limit
        self.baseline_s: float | None = None
        self.recent_s: float | None = None
        self._samples = 0
        self._last_adjust: float | None = None
        self._last_decrease: float | None = None
        self._last_backlog: int | None = None
        self._saturated = False

    # ---- signals ------------------------------------------------------------------------------------

    def on_response(self, latency_s: float, throttled: bool, now: float) -> None:
        """A bulk request answered after ``latency_s``; ``throttled``: it (or an item) got a 429."""
        self._samples += 1
        if self.recent_s is None or self.baseline_s is None:
            self.recent_s = self.baseline_s = latency_s
        else:
            self.recent_s += self.RECENT_WEIGHT * (latency_s - self.recent_s)
            weight = self.BASELINE_FALL_WEIGHT if latency_s < self.baseline_s else self.BASELINE_RISE_WEIGHT
            self.baseline_s += weight * (latency_s - self.baseline_s)
        if throttled and self.adaptive and self._may_decrease(now):
            self._set(self.limit // 2, now)
            self._last_decrease = now

    def on_unreachable(self, now: float) -> None:
        """A connection error or timeout: Elasticsearch is away, or drowning."""
        if self.adaptive:
            self._set(self.min_limit, now)
            self._last_decrease = now

    def on_saturated(self) -> None:
        """A full bulk was ready but every slot was taken: a higher limit would have been used."""
        self._saturated = True

    def on_backlog(self, backlog: int, now: float) -> int:
        """Periodic decision from the consumer's backlog (records behind the partition ends).

        Returns the limit to use from now on.
        """
        if not self.adaptive:
            return self.limit
        if self._last_adjust is None:
            self._last_adjust = now
            self._last_backlog = backlog
            return self.limit
        if now - self._last_adjust < self.interval_s:
            return self.limit
        growing = backlog > 0 and (self._last_backlog is None or backlog >= self._last_backlog)
        if self.latency_rising:
            if self._may_decrease(now):
                self._set(self.limit - 1, now)
                self._last_decrease = now
        elif growing and self._saturated:
            self._set(self.limit + 1, now)
        self._last_adjust = now
        self._last_backlog = backlog
        self._saturated = False
        return self.limit

    # ---- state ------------------------------------------------------------------------------------

    @property
    def latency_rising(self) -> bool:
        if self._samples < self.MIN_SAMPLES or self.recent_s is None or self.baseline_s is None:
            return False
        return self.recent_s > self.baseline_s * self.latency_tolerance

    def state(self) -> ControllerState:
        return ControllerState(self.limit, self.baseline_s, self.recent_s)

    def _may_decrease(self, now: float) -> bool:
        return self._last_decrease is None or now - self._last_decrease >= self.interval_s

    def _set(self, limit: int, now: float) -> None:
        self.limit = max(self.min_limit, min(self.max_limit, limit))
        self._last_adjust = now
