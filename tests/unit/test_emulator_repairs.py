"""The pause after an empty fetch: wrapped once, only after empty answers, and aiokafka's method still fits."""

from __future__ import annotations

import asyncio
import time

import pytest
from aiokafka.consumer.fetcher import Fetcher

from streamstash.kafka.compat import emulator as fetch_pacing  # the pacing repair


@pytest.fixture(autouse=True)
def _restore_pause():
    before = fetch_pacing.pause_s()
    yield
    fetch_pacing.pace_empty_fetches(int(before * 1000))


def recording_fetch(answers: list[bool], calls: list[float]):
    async def _proc_fetch_request(self, assignment, node_id, request):
        calls.append(time.monotonic())
        return answers.pop(0)

    return _proc_fetch_request


def test_aiokafka_fetcher_is_wrapped_once_and_keeps_its_name() -> None:
    fetch_pacing.pace_empty_fetches(100)
    first = Fetcher._proc_fetch_request
    fetch_pacing.pace_empty_fetches(20)
    assert Fetcher._proc_fetch_request is first
    assert first.__name__ == "_proc_fetch_request"
    assert fetch_pacing.pause_s() == pytest.approx(0.02)


def test_an_empty_answer_pauses_and_an_answer_with_records_does_not() -> None:
    fetch_pacing.pace_empty_fetches(150)
    calls: list[float] = []
    paced = fetch_pacing._paced(recording_fetch([False, True], calls))

    async def two_fetches() -> list[float]:
        ends = []
        for _ in range(2):
            started = time.monotonic()
            await paced(None, None, 1, None)
            ends.append(time.monotonic() - started)
        return ends

    empty_took, with_records_took = asyncio.run(two_fetches())
    assert empty_took >= 0.15
    assert with_records_took < 0.1


def test_zero_turns_the_pause_off() -> None:
    fetch_pacing.pace_empty_fetches(0)
    paced = fetch_pacing._paced(recording_fetch([False], []))
    started = time.monotonic()
    asyncio.run(paced(None, None, 1, None))
    assert time.monotonic() - started < 0.1


def test_a_fetcher_method_of_another_shape_is_refused() -> None:
    async def _proc_fetch_request(self, node_id, request):
        return False

    with pytest.raises(RuntimeError, match="changed"):
        fetch_pacing._paced(_proc_fetch_request)


def test_a_pause_cancelled_by_close_ends_quietly_like_aiokafkas_own_fetch() -> None:
    fetch_pacing.pace_empty_fetches(5000)
    paced = fetch_pacing._paced(recording_fetch([False], []))

    async def cancel_during_pause() -> bool:
        task = asyncio.ensure_future(paced(None, None, 1, None))
        await asyncio.sleep(0.05)
        task.cancel()
        return await task  # aiokafka's Fetcher.close() awaits its cancelled fetch tasks like this

    assert asyncio.run(cancel_during_pause()) is False
