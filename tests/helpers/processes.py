"""Start streamstash services as real processes, the way `streamstash run` and docker-compose do."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from tests.helpers.waiting import wait_until


class ServiceProcess:
    def __init__(
        self,
        service: str,
        config: Path,
        kafka: str,
        elasticsearch: str,
        log_dir: Path,
        extra_env: dict[str, str] | None = None,
        name: str | None = None,
    ) -> None:
        self.service = service
        self.name = name or service
        self.log_path = log_dir / f"{self.name}.log"
        argv = [
            sys.executable,
            "-m",
            "streamstash.services.cli",
            service,
            "--config",
            str(config),
            "--kafka",
            kafka,
            "--elasticsearch",
            elasticsearch,
            "--http-port",
            "0",
        ]
        env = {**os.environ, **(extra_env or {})}
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT, env=env)
        self._terminated = False

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    @property
    def http_port(self) -> int:
        def find() -> int | None:
            for line in self.log_text().splitlines():
                if "serving metrics and health" in line:
                    match = re.search(r'"port": ?(\d+)', line)
                    if match:
                        return int(match.group(1))
            return None

        return wait_until(find, timeout=60, message=f"{self.name} never served /metrics")

    def alive(self) -> bool:
        return self.process.poll() is None

    def terminate(self) -> None:
        """SIGTERM, once: a second signal makes a service exit without draining."""
        if self.alive() and not self._terminated:
            self._terminated = True
            self.process.send_signal(signal.SIGTERM)

    def stop(self, timeout: float = 30) -> int:
        if self.alive():
            self.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        return self.process.returncode

    def kill9(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        self._log.close()

    def wait_exit(self, timeout: float) -> int:
        return self.process.wait(timeout)


def start_services(
    services: list[str], config: Path, kafka: str, elasticsearch: str, log_dir: Path
) -> list[ServiceProcess]:
    return [ServiceProcess(service, config, kafka, elasticsearch, log_dir) for service in services]


def stop_all(processes: list[ServiceProcess], timeout: float = 60) -> None:
    """SIGTERM to every process at once, as ``docker compose stop`` does, then wait for each to drain (they
    overlap; one signal each, as a second would cut a drain short)."""
    for process in processes:
        process.terminate()
    for process in processes:
        process.stop(timeout)
