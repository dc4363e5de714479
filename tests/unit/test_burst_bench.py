"""bench/burst.py's arithmetic: where the bursts fall, each burst's peak backlog and how long it took to drain."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from burst import burst_windows, summarize_bursts

from streamstash.ops.loadgen import LoadShape


def test_windows_match_where_the_generator_bursts() -> None:
    shape = LoadShape(rate=1.0, jitter=0.0, burst_every=20.0, burst_factor=10.0, burst_seconds=5.0)
    windows = burst_windows(60.0, 20.0, 5.0)
    assert windows == [(0.0, 5.0), (20.0, 25.0), (40.0, 45.0)]

    class NoJitter:
        def uniform(self, low: float, high: float) -> float:
            return 0.0

    for tenth in range(600):
        t = tenth / 10
        bursting = shape.rate_at(t, NoJitter()) > 1.0  # type: ignore[arg-type]
        assert bursting == any(start <= t < end for start, end in windows), t


def test_no_windows_without_bursts_and_last_window_cut_at_the_end() -> None:
    assert burst_windows(60.0, 0.0, 5.0) == []
    assert burst_windows(22.0, 20.0, 5.0) == [(0.0, 5.0), (20.0, 22.0)]


def test_peak_is_found_after_the_burst_ends_and_drain_counts_from_its_end() -> None:
    # The backlog keeps rising for a second after the burst, then drains to 0 at t=9.
    points = [(0.0, 0), (2.0, 50), (4.0, 120), (5.0, 180), (6.0, 200), (7.5, 90), (9.0, 0), (10.0, 0)]
    [summary] = summarize_bursts(points, [(0.0, 5.0)])
    assert summary.peak == 200 and summary.peak_at == 6.0
    assert summary.drained_after == 4.0


def test_a_burst_still_draining_when_the_next_starts_is_not_drained_and_does_not_borrow_its_peak() -> None:
    points = [(0.0, 0), (4.0, 100), (8.0, 40), (10.0, 30), (12.0, 500), (16.0, 0)]
    first, second = summarize_bursts(points, [(0.0, 5.0), (10.0, 15.0)])
    assert first.drained_after is None and first.peak == 100
    assert second.peak == 500 and second.drained_after == 1.0


def test_settled_threshold_counts_a_small_remainder_as_caught_up() -> None:
    points = [(0.0, 0), (5.0, 3000), (7.0, 700), (8.0, 650)]
    [summary] = summarize_bursts(points, [(0.0, 5.0)], settled=800)
    assert summary.drained_after == 2.0
