"""Stop signals and logging of a service process, on a real process (no Kafka needed).

Each test runs a small service through ``run_service`` in a child process, signals it and watches how
and when it ends: drains and exits 0, exits 124 once ``shutdown_timeout_s`` is over, exits 130 at
once on a second signal. And logging keeps the event loop going while nobody reads stderr.
"""

from __future__ import annotations

import json
import select
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from streamstash.runtime.service import EXIT_AT_ONCE, EXIT_SHUTDOWN_TIMEOUT

SERVICE = textwrap.dedent("""
    import asyncio, sys
    from streamstash.config import PipelineConfig
    from streamstash.runtime.service import run_service

    drain_s = float(sys.argv[1])
    config = PipelineConfig.model_validate({"shutdown_timeout_s": float(sys.argv[2])})

    async def main(stop):
        print("running", flush=True)
        await stop.wait()
        await asyncio.sleep(drain_s)  # the drain: in-flight work finishing

    run_service("indexer", config, main)
""")


def start(drain_s: float, timeout_s: float) -> subprocess.Popen[str]:
    child = subprocess.Popen(
        [sys.executable, "-c", SERVICE, str(drain_s), str(timeout_s)],
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "running", child.stderr.read() if child.stderr else ""
    return child


def logged(child: subprocess.Popen[str]) -> list[dict]:
    assert child.stderr is not None
    return [json.loads(line) for line in child.stderr.read().splitlines() if line.startswith("{")]


def test_first_signal_drains_then_exits_zero() -> None:
    child = start(drain_s=1.0, timeout_s=20)
    sent = time.monotonic()
    child.send_signal(signal.SIGTERM)
    code = child.wait(20)
    took = time.monotonic() - sent
    assert code == 0
    assert took >= 1.0, "exited before the drain finished"
    messages = [entry["msg"] for entry in logged(child)]
    assert "stopping: draining in-flight work" in messages and "stopped" in messages


def test_a_drain_longer_than_the_timeout_is_cut_short() -> None:
    child = start(drain_s=60, timeout_s=1.5)
    sent = time.monotonic()
    child.send_signal(signal.SIGINT)
    code = child.wait(20)
    took = time.monotonic() - sent
    assert code == EXIT_SHUTDOWN_TIMEOUT
    assert 1.5 <= took < 10, took
    assert any(entry["level"] == "ERROR" and "shutdown_timeout_s" in entry["msg"] for entry in logged(child))


@pytest.mark.parametrize("second", [signal.SIGTERM, signal.SIGINT])
def test_a_second_signal_exits_at_once(second: signal.Signals) -> None:
    child = start(drain_s=60, timeout_s=60)
    child.send_signal(signal.SIGTERM)
    time.sleep(0.3)  # let the first one be handled: this is about a *second* signal
    sent = time.monotonic()
    child.send_signal(second)
    code = child.wait(20)
    assert code == EXIT_AT_ONCE
    assert time.monotonic() - sent < 2
    assert any(entry["msg"] == "second signal, exiting at once" for entry in logged(child))


def test_two_signals_sent_together_still_exit_at_once() -> None:
    """Both arrive before the event loop handles the first: the second must not be lost with it."""
    for _ in range(3):
        child = start(drain_s=60, timeout_s=60)
        child.send_signal(signal.SIGTERM)
        child.send_signal(signal.SIGINT)
        assert child.wait(20) == EXIT_AT_ONCE


LOGGER = textwrap.dedent("""
    import asyncio, logging, os, sys, time
    from streamstash.runtime.logs import configure_logging

    configure_logging("parser", "INFO")
    log = logging.getLogger("busy")

    async def main():
        started = time.monotonic()
        for number in range(5000):
            log.info("a line", extra={"number": number, "payload": "x" * 1000})
        return time.monotonic() - started

    print(asyncio.run(main()), flush=True)
    os._exit(0)  # the writer thread is stuck on the full pipe, by design of this test
""")


def test_logging_never_waits_for_a_stderr_nobody_reads() -> None:
    """5 MB of log lines into a pipe that holds 64 KB and is never read: the loop is not held up."""
    child = subprocess.Popen(
        [sys.executable, "-c", LOGGER],
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert child.stdout is not None
        answered, _, _ = select.select([child.stdout], [], [], 30)
        assert answered, "the child is stuck: logging blocked on the full stderr pipe"
        seconds = float(child.stdout.readline())
        assert child.wait(20) == 0
    finally:
        child.kill()
        child.wait()
    assert seconds < 5, f"logging 5000 lines took {seconds:.2f}s: the caller waited for stderr"
