"""The load generator's rate shape: steady around the base rate, ~burst_factor times it during bursts."""

from __future__ import annotations

import io
import random
from pathlib import Path
from statistics import mean

import pytest

from streamstash.ops import loadgen
from streamstash.ops.loadgen import LoadShape, replay_lines


def test_rate_is_base_rate_outside_bursts_and_ten_times_inside() -> None:
    shape = LoadShape(rate=100.0, jitter=0.2, burst_every=30.0, burst_factor=10.0, burst_seconds=5.0)
    rng = random.Random(7)
    ticks = [step / 10 for step in range(1200)]  # 120 simulated seconds
    burst = [shape.rate_at(t, rng) for t in ticks if t % 30 < 5]
    steady = [shape.rate_at(t, rng) for t in ticks if t % 30 >= 5]
    assert min(steady) >= 80 and max(steady) <= 120
    assert min(burst) >= 800 and max(burst) <= 1200
    assert 9 <= mean(burst) / mean(steady) <= 11


def test_no_bursts_when_burst_every_is_zero() -> None:
    shape = LoadShape(rate=50.0, jitter=0.0, burst_every=0.0)
    rng = random.Random(1)
    assert {shape.rate_at(t, rng) for t in range(100)} == {50.0}


class FakeClock:
    """Stands in for time.monotonic/time.sleep so replay_lines runs 60 simulated seconds instantly."""

    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_replay_lines_bursts_to_about_ten_times_the_rate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "lines.log"
    source.write_text("a\nb\n\nc\n", encoding="utf-8")
    clock = FakeClock()
    monkeypatch.setattr(loadgen.time, "monotonic", clock.monotonic)
    monkeypatch.setattr(loadgen.time, "sleep", clock.sleep)
    written_at: list[float] = []

    class Recorder(io.StringIO):
        def write(self, text: str) -> int:
            written_at.append(clock.now)
            return super().write(text)

    out = Recorder()
    shape = LoadShape(rate=20.0, jitter=0.1, burst_every=20.0, burst_factor=10.0, burst_seconds=5.0)
    count = replay_lines(source, shape, 6000, out, seed=3)
    assert count == 6000
    assert out.getvalue().splitlines()[:4] == ["a", "b", "c", "a"]  # blank lines skipped, file looped
    end = int(written_at[-1] // 20) * 20  # only whole 20 s periods
    in_burst = sum(1 for t in written_at if t < end and t % 20 < 5)
    steady = sum(1 for t in written_at if t < end and t % 20 >= 5)
    periods = end / 20
    assert periods >= 3
    burst_rate, steady_rate = in_burst / (5 * periods), steady / (15 * periods)
    assert 15 <= steady_rate <= 25
    assert 8 <= burst_rate / steady_rate <= 12


def test_replay_lines_real_clock_short_run(tmp_path: Path) -> None:
    source = tmp_path / "lines.log"
    source.write_text("x\n", encoding="utf-8")
    out = io.StringIO()
    assert replay_lines(source, LoadShape(rate=2000.0, jitter=0.0), 50, out, seed=1) == 50
    assert out.getvalue() == "x\n" * 50


def test_replay_lines_refuses_an_empty_file(tmp_path: Path) -> None:
    source = tmp_path / "empty.log"
    source.write_text("\n \n", encoding="utf-8")
    with pytest.raises(ValueError):
        replay_lines(source, LoadShape(), 1, io.StringIO())


def test_sleeps_that_overshoot_do_not_slow_the_rate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A real sleep wakes late; the schedule absorbs it instead of adding it to every line."""
    source = tmp_path / "lines.log"
    source.write_text("x\n", encoding="utf-8")
    clock = FakeClock()
    monkeypatch.setattr(loadgen.time, "monotonic", clock.monotonic)
    monkeypatch.setattr(loadgen.time, "sleep", lambda seconds: clock.sleep(seconds + 0.0002))  # 0.2 ms late
    replay_lines(source, LoadShape(rate=4000.0, jitter=0.0), 20_000, io.StringIO(), seed=5)
    assert 20_000 / clock.now == pytest.approx(4000, rel=0.05)
