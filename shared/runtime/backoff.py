"""Waits between retries: exponential, capped, and jittered so that many clients do not retry in step."""

from __future__ import annotations

import random

FIRST_S = 0.2
MAX_S = 10.0


def retry_delay(attempt: int, first_s: float = FIRST_S, max_s: float = MAX_S) -> float:
    """The wait before retry ``attempt`` (1 for the first): ``first_s * 2**attempt`` capped at ``max_s``,
    of which a random half to all is taken."""
    return min(max_s, first_s * 2**attempt) * random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not secrecy
