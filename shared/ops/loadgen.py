"""A load generator: replay a file's lines at a random rate with periodic bursts (demo producer, soak tests)."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

MAX_CATCH_UP_S = 1.0


@dataclass(frozen=True)
class LoadShape:
    rate: float = 10.0
    jitter: float = 0.5
    burst_every: float = 0.0
    burst_factor: float = 10.0
    burst_seconds: float = 5.0

    def rate_at(self, elapsed: float, rng: random.Random) -> float:
        rate = self.rate * (1 + rng.uniform(-self.jitter, self.jitter))
        if self.burst_every > 0 and (elapsed % self.burst_every) < self.burst_seconds:
            rate *= self.burst_factor
        return max(rate, 0.001)


def replay_lines(path: Path, shape: LoadShape, count: int, out: TextIO, seed: int | None = None) -> int:
    """Write lines from ``path`` (looping) to ``out``; stops after ``count`` lines if count > 0."""
    lines = [line for line in path.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
    if not lines:
        raise ValueError(f"{path}: no lines to replay")
    rng = random.Random(seed)  # noqa: S311 - the shape of the load, not a secret
    started = due = time.monotonic()
    written = 0
    while count <= 0 or written < count:
        # Each line has a due time on one schedule; sleeping from line to line instead loses every
        # sleep's overshoot and a 10x burst came out at 8x.
        now = time.monotonic()
        if due > now:
            time.sleep(due - now)
        elif now - due > MAX_CATCH_UP_S:
            due = now  # stalled (e.g. a blocked stdout): go on from here instead of writing a backlog at once
        out.write(lines[written % len(lines)] + "\n")
        out.flush()
        written += 1
        due += rng.expovariate(shape.rate_at(due - started, rng))
    return written
