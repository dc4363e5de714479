from __future__ import annotations

import logging

from streamstash.services.collector.logfilter import RepeatedClientMessages


def record(name: str, message: str) -> logging.LogRecord:
    return logging.LogRecord(name, logging.ERROR, __file__, 1, message, ("x",), None)


def test_a_client_message_passes_once_per_interval_with_the_count_held_back(monkeypatch) -> None:
    clock = iter([0.0, 0.1, 0.2, 31.0])
    monkeypatch.setattr("streamstash.services.collector.logfilter.time.monotonic", lambda: next(clock))
    message_filter = RepeatedClientMessages(interval=30)
    records = [record("aiokafka.conn", "Unable connect to node %s") for _ in range(4)]
    assert [message_filter.filter(each) for each in records] == [True, False, False, True]
    assert records[3].repeated == 2


def test_our_own_messages_always_pass() -> None:
    message_filter = RepeatedClientMessages(interval=30)
    assert all(message_filter.filter(record("streamstash.services.collector", "kafka send failed")) for _ in range(5))
