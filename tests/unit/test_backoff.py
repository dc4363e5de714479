"""Retry waits double from the first, stop growing at the cap, and are jittered within the upper half."""

from __future__ import annotations

import pytest

from streamstash.runtime.backoff import retry_delay


@pytest.mark.parametrize(("attempt", "ceiling"), [(1, 0.4), (2, 0.8), (3, 1.6), (6, 10.0), (40, 10.0)])
def test_retry_delay_doubles_up_to_the_cap_within_the_upper_half(attempt: int, ceiling: float) -> None:
    delays = [retry_delay(attempt) for _ in range(200)]
    assert all(ceiling / 2 <= delay <= ceiling for delay in delays)
    assert len(set(delays)) > 1  # jittered


def test_first_wait_and_cap_can_be_chosen() -> None:
    assert 0.5 <= retry_delay(1, first_s=0.5, max_s=1.0) <= 1.0
    assert retry_delay(10, first_s=0.5, max_s=1.0) <= 1.0
