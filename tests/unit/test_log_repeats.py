"""A client library's identical messages come once per window, with how many were held back."""

from __future__ import annotations

import logging

from streamstash.runtime.logs import RepeatSuppressor


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def record(name: str, msg: str, *args: object, level: int = logging.ERROR) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, msg, args, None)


def test_a_retry_storm_is_one_line_per_window_then_says_how_many_were_held() -> None:
    clock = Clock()
    suppressor = RepeatSuppressor(window_s=10, clock=clock)
    passed = []
    for step in range(100):  # ten a second for ten seconds, as aiokafka retries a dead broker
        clock.now = step / 10
        error = record("aiokafka", "Unable connect to node with id %s: %s", 1, "refused")
        if suppressor.filter(error):
            passed.append(error)
    clock.now = 10.5
    later = record("aiokafka", "Unable connect to node with id %s: %s", 1, "refused")
    assert len(passed) == 1
    assert suppressor.filter(later)
    assert later.repeated_before == 99


def test_different_messages_and_our_own_loggers_are_never_held() -> None:
    suppressor = RepeatSuppressor(window_s=10, clock=Clock())
    assert suppressor.filter(record("aiokafka.conn", "first"))
    assert suppressor.filter(record("aiokafka.conn", "second"))
    assert suppressor.filter(record("aiokafka.conn", "first", level=logging.WARNING))
    ours = [record("streamstash.services.indexer", "bulk failed") for _ in range(5)]
    assert all(suppressor.filter(each) for each in ours)
