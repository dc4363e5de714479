"""A state directory per running instance of a service on one host.

Each instance owns ``<state_dir>/<service>/slot-<n>``, holding an exclusive lock on ``slot-<n>.lock``
for as long as it runs: two instances on one host never share a directory (the aggregator's RocksDB
tables, the group member a restart hands over), and an instance restarted after a crash (the kernel
drops a dead process's locks) takes slot 0 again and finds its predecessor's state there.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

MAX_SLOTS = 256


class StateSlot:
    def __init__(self, directory: Path, number: int, lock: IO[bytes]) -> None:
        self.directory = directory
        self.number = number
        self._lock = lock  # kept open: closing it would release the lock

    def release(self) -> None:
        self._lock.close()


def claim_slot(base: Path) -> StateSlot:
    """The lowest free slot under `base`: a restart finds what the crashed instance left there."""
    base.mkdir(parents=True, exist_ok=True)
    for number in range(MAX_SLOTS):
        lock = open(base / f"slot-{number}.lock", "ab")  # noqa: SIM115 - held for the process's life
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            continue
        lock.truncate(0)
        lock.write(str(os.getpid()).encode())
        lock.flush()
        directory = base / f"slot-{number}"
        directory.mkdir(exist_ok=True)
        return StateSlot(directory, number, lock)
    raise RuntimeError(f"{base}: all {MAX_SLOTS} state slots are in use")
