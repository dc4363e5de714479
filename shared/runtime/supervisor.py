"""`streamstash run`: the four services as separate processes, restarted with backoff, stopped together."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from streamstash import names
from streamstash.stack.ports import free_port

log = logging.getLogger(__name__)

STOP_ORDER = names.SERVICES  # collector first: what it flushes, the others still take in
STOP_TIMEOUT_S = 30.0
MAX_RESTARTS = 5
RESTART_WINDOW_S = 60.0


@dataclass
class Child:
    service: str
    argv: list[str]
    http_port: int
    process: subprocess.Popen[bytes] | None = None
    restarts: list[float] = field(default_factory=list)
    finished: bool = False  # exited 0 by itself (a finite input ran out): not restarted

    def start(self) -> None:
        # Own process group: a terminal's Ctrl-C reaches only the supervisor, which sends each service one
        # SIGTERM (a second signal would make a service exit without draining).
        # preexec_fn: the parent-death signal can only be asked for in the child, before exec; the supervisor
        # starts services from its one thread.
        self.process = subprocess.Popen(  # noqa: S603 - argv is ours: this interpreter and the entry module
            self.argv,
            process_group=0,
            preexec_fn=_die_with_parent,  # noqa: PLW1509
        )
        log.info(
            "service started", extra={"service": self.service, "pid": self.process.pid, "http_port": self.http_port}
        )


def _die_with_parent() -> None:
    """Linux: have the kernel SIGTERM the service if the supervisor dies without stopping it (kill -9)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
    except OSError:
        pass


def service_argv(
    service: str,
    config_path: Path,
    kafka: str,
    elasticsearch: str,
    http_port: int,
    kafka_standin: bool = False,
    distribution: str | None = None,
) -> list[str]:
    argv = [
        sys.executable,
        "-m",
        names.ENTRY_MODULE,
        service,
        "--config",
        str(config_path),
        "--kafka",
        kafka,
        "--elasticsearch",
        elasticsearch,
        "--http-port",
        str(http_port),
    ]
    if distribution:
        argv += ["--elasticsearch-distribution", distribution]
    return [*argv, "--kafka-standin"] if kafka_standin else argv


class Supervisor:
    def __init__(
        self,
        config_path: Path,
        kafka: str,
        elasticsearch: str,
        state_dir: Path,
        http_host: str = "127.0.0.1",
        services: tuple[str, ...] = names.SERVICES,
        kafka_standin: bool = False,
        distribution: str | None = None,
    ) -> None:
        self.children = []
        for service in services:
            port = free_port(http_host)
            argv = service_argv(service, config_path, kafka, elasticsearch, port, kafka_standin, distribution)
            self.children.append(Child(service, argv, port))
        self.state_file = state_dir / "run.json"
        self._stopping = False

    def run(self, until: Callable[[], bool] | None = None) -> int:
        """Start every service and watch them until a signal, a service failing for good, or ``until()``."""
        previous = {signum: signal.signal(signum, self._on_signal) for signum in (signal.SIGINT, signal.SIGTERM)}
        try:
            for child in self.children:
                child.start()
            self._write_state()
            return self._watch(until)
        finally:
            self.stop()
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            self.state_file.unlink(missing_ok=True)

    @property
    def interrupted(self) -> bool:
        return self._stopping

    def _on_signal(self, signum: int, _frame: object) -> None:
        if self._stopping:
            for child in self.children:
                if child.process and child.process.poll() is None:
                    child.process.kill()
            os._exit(130)
        self._stopping = True

    def _watch(self, until: Callable[[], bool] | None) -> int:
        while not self._stopping:
            if until is not None and until():
                return 0
            for child in self.children:
                code = child.process.poll() if child.process else None
                if code is None or child.finished:
                    continue
                if code == 0:
                    child.finished = True
                    log.info("service finished", extra={"service": child.service})
                    continue
                now = time.monotonic()
                child.restarts = [at for at in child.restarts if now - at < RESTART_WINDOW_S]
                if len(child.restarts) >= MAX_RESTARTS:
                    log.error(
                        "service keeps failing, stopping the pipeline",
                        extra={"service": child.service, "exit_code": code, "restarts": len(child.restarts)},
                    )
                    return 1
                delay = 2 ** len(child.restarts)
                log.warning(
                    "service exited, restarting",
                    extra={"service": child.service, "exit_code": code, "restart_in_s": delay},
                )
                time.sleep(delay)
                child.restarts.append(time.monotonic())
                child.start()
                self._write_state()
            time.sleep(0.2)
        return 0

    def stop(self) -> None:
        for child in sorted(self.children, key=lambda c: STOP_ORDER.index(c.service)):
            service, process = child.service, child.process
            if process is None or process.poll() is not None:
                continue
            process.terminate()
            try:
                process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                log.error("service did not stop in time, killing it", extra={"service": service})
                process.kill()
                process.wait()

    def _write_state(self) -> None:
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        state = {
            child.service: {"pid": child.process.pid if child.process else None, "http_port": child.http_port}
            for child in self.children
        }
        self.state_file.write_text(json.dumps(state, indent=2))
