"""Server processes of the local stack: started in their own session (so they outlive the command that
started them), recognised by pid and command line, and stopped by process group."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

POLL_SECONDS = 0.05
CMDLINE_WAIT_S = 0.5

# Servers started by this process, by pid: kept so they are reaped (no zombie, no ResourceWarning).
_children: dict[int, subprocess.Popen[bytes]] = {}


def spawn(command: list[str], log_file: Path, cwd: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start ``command`` in a session of its own, its stdout and stderr appended to ``log_file``."""
    with open(log_file, "ab") as log:
        process = subprocess.Popen(  # noqa: S603 - the stack's own servers (java, noida-db), argv built here
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            start_new_session=True,
            close_fds=True,
            env=env,
        )
    _children[process.pid] = process
    return process


def exited(pid: int) -> int | None:
    """The exit code of a server this process started, once it ended; None while it runs (or unknown)."""
    child = _children.get(pid)
    if child is None:
        return None
    code = child.poll()
    if code is not None:
        _children.pop(pid, None)
    return code


def alive(pid: int) -> bool:
    child = _children.get(pid)
    if child is not None:
        if child.poll() is not None:
            _children.pop(pid, None)
            return False
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # an unreaped zombie is not running
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def runs(pid: int, marker: bytes) -> bool:
    """True if ``pid`` is alive and its command line holds ``marker`` (the pid was not reused by another
    program; best effort: where /proc is missing, alive is enough)."""
    if not alive(pid):
        return False
    deadline = time.monotonic() + CMDLINE_WAIT_S
    while True:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except FileNotFoundError:
            return not Path("/proc/self").exists()
        except OSError:
            return True
        # Empty while the process is still inside execve (seen a few times in 300 fresh starts on a busy host).
        if cmdline or time.monotonic() >= deadline:
            return marker in cmdline
        time.sleep(POLL_SECONDS / 10)


def signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)  # started with start_new_session: the pid leads its own group
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(POLL_SECONDS)
    return not alive(pid)


def stop(pid: int, timeout: float, hard: bool = False) -> None:
    """SIGTERM (SIGKILL with ``hard``) to the process group; SIGKILL once ``timeout`` passed."""
    signal_group(pid, signal.SIGKILL if hard else signal.SIGTERM)
    if not wait_gone(pid, timeout):
        signal_group(pid, signal.SIGKILL)
        wait_gone(pid, 5.0)
    child = _children.pop(pid, None)
    if child is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=1.0)
