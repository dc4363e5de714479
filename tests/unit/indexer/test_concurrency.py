from __future__ import annotations

import pytest

from streamstash.services.indexer.concurrency import AdaptiveConcurrency


def settle_baseline(controller: AdaptiveConcurrency, latency: float, now: float, samples: int = 5) -> None:
    for _ in range(samples):
        controller.on_response(latency, throttled=False, now=now)


def step(controller: AdaptiveConcurrency, backlog: int, now: float, saturated: bool = True) -> int:
    if saturated:
        controller.on_saturated()
    return controller.on_backlog(backlog, now)


def test_grows_one_per_interval_while_backlog_grows_and_latency_is_stable() -> None:
    controller = AdaptiveConcurrency(max_limit=4, interval_s=1.0)
    settle_baseline(controller, 0.1, now=0)
    assert step(controller, 100, now=0) == 1  # the first call only records the backlog
    assert step(controller, 200, now=0.5) == 1  # too soon
    assert step(controller, 300, now=1.0) == 2
    assert step(controller, 400, now=2.0) == 3
    assert step(controller, 500, now=3.0) == 4
    assert step(controller, 600, now=4.0) == 4  # bounded by max_in_flight


def test_holds_while_the_backlog_shrinks_or_slots_are_not_all_used() -> None:
    controller = AdaptiveConcurrency(max_limit=8, interval_s=1.0)
    settle_baseline(controller, 0.1, now=0)
    step(controller, 1000, now=0)
    assert step(controller, 900, now=1) == 1  # catching up: no need for more
    assert step(controller, 950, now=2, saturated=False) == 1  # a free slot was left: more would not help
    assert step(controller, 0, now=3) == 1  # nothing behind


def test_halves_on_429_once_per_interval() -> None:
    controller = AdaptiveConcurrency(max_limit=16, initial=16, interval_s=1.0)
    controller.on_response(0.1, throttled=True, now=10.0)
    assert controller.limit == 8
    for _ in range(5):  # the same overload answers every request in flight
        controller.on_response(0.1, throttled=True, now=10.2)
    assert controller.limit == 8
    controller.on_response(0.1, throttled=True, now=11.5)
    assert controller.limit == 4
    for moment in (13, 14, 15, 16):
        controller.on_response(0.1, throttled=True, now=moment)
    assert controller.limit == 1  # never below the minimum


def test_shrinks_when_latency_rises_above_the_baseline() -> None:
    controller = AdaptiveConcurrency(max_limit=8, initial=6, interval_s=1.0, latency_tolerance=2.0)
    settle_baseline(controller, 0.1, now=0)
    step(controller, 1000, now=0)
    for _ in range(6):
        controller.on_response(0.5, throttled=False, now=1)
    assert controller.latency_rising
    assert step(controller, 2000, now=1) == 5  # backlog grows, but Elasticsearch does not keep up


def test_unreachable_drops_to_the_minimum() -> None:
    controller = AdaptiveConcurrency(max_limit=8, initial=8)
    controller.on_unreachable(now=3)
    assert controller.limit == 1


def test_not_adaptive_means_always_the_maximum() -> None:
    controller = AdaptiveConcurrency(max_limit=6, adaptive=False)
    assert controller.limit == 6
    controller.on_response(0.1, throttled=True, now=1)
    controller.on_unreachable(now=2)
    assert controller.on_backlog(0, now=5) == 6


def test_rejects_nonsense_bounds() -> None:
    with pytest.raises(ValueError):
        AdaptiveConcurrency(max_limit=0)
    with pytest.raises(ValueError):
        AdaptiveConcurrency(max_limit=4, latency_tolerance=1.0)


def simulate(capacity: int, max_limit: int, seconds: int = 60) -> list[int]:
    """A cluster that serves ``capacity`` requests in parallel at 100 ms; beyond that requests queue
    (latency grows in proportion) and past twice that it answers 429. The backlog grows whenever
    fewer than ``capacity`` requests are in flight (the producers outpace the indexer)."""
    controller = AdaptiveConcurrency(max_limit=max_limit, interval_s=1.0)
    backlog = 10_000
    limits = []
    for second in range(seconds):
        now = float(second)
        in_flight = controller.limit
        latency = 0.1 * max(1.0, in_flight / capacity)
        for tick in range(10):
            controller.on_response(latency, throttled=in_flight > 2 * capacity, now=now + tick / 10)
        backlog += 500 * (capacity - min(in_flight, capacity)) + 100
        controller.on_saturated()
        limits.append(controller.on_backlog(backlog, now + 0.99))
    return limits


@pytest.mark.parametrize("capacity", [1, 3, 6])
def test_settles_near_what_elasticsearch_can_take(capacity: int) -> None:
    limits = simulate(capacity=capacity, max_limit=16)
    tail = limits[-20:]
    assert min(tail) >= max(1, capacity - 1), limits
    assert max(tail) <= 2 * capacity + 1, limits  # never stuck in the 429 zone
