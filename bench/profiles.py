"""py-spy profiles of running services, taken by the benches (`--profile DIR`) and summarised as top frames.

Each service gets `py-spy record --pid P --format raw --nonblocking`: collapsed stacks, one line per distinct
stack with its sample count, written when py-spy gets SIGINT. `--nonblocking` does not stop the process to
sample it, so the profile costs the service next to nothing (at the price of an occasional torn stack).
With `PYSPY_GIL=1` in the environment py-spy samples only the thread holding the GIL (`--gil`): raw samples
over-weight threads waiting in system calls (the aggregator's `EpollSelector.select`: 34% of its self
samples in bench/aggregator_service.py, under 1% with `--gil`).
"""

from __future__ import annotations

import collections
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

SAMPLE_RATE = 200  # samples per second


@dataclass
class Profile:
    name: str
    path: Path
    log: Path
    command: list[str]
    process: subprocess.Popen[bytes]


def py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(found).exists():
        raise SystemExit("--profile needs py-spy: pip install -e '.[bench]'")
    return found


def start(name: str, pid: int, directory: Path) -> Profile:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.txt"
    command = [py_spy(), "record", "--pid", str(pid), "--format", "raw", "--rate", str(SAMPLE_RATE)]
    command += ["--nonblocking", "--output", str(path)]
    if os.environ.get("PYSPY_GIL"):
        command.append("--gil")
    log = directory / f"{name}.py-spy.log"
    with log.open("wb") as output:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
    return Profile(name, path, log, command, process)


def stop(profile: Profile) -> None:
    profile.process.send_signal(signal.SIGINT)
    try:
        profile.process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        profile.process.kill()


def frame_name(frame: str) -> str:
    """`function (path/to/module.py:line)` -> `function (module.py)`: lines of one function counted together."""
    function, _, where = frame.partition(" (")
    module = where.rsplit("/", 1)[-1].split(":", 1)[0]
    return f"{function} ({module})" if module else function


def top_frames(path: Path, count: int = 12) -> tuple[int, list[tuple[str, int]], list[tuple[str, int]]]:
    """Samples in all, then the frames with the most samples of their own (self), and the most samples with
    them anywhere on the stack (inclusive), from py-spy's raw output. Inclusive leaves out the frames under
    nearly every sample (the event loop, the CLI, the worker): they say where the process is, not what costs."""
    own: collections.Counter[str] = collections.Counter()
    anywhere: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, samples = line.rpartition(" ")
        if not stack or not samples.isdigit():
            continue
        weight = int(samples)
        frames = [frame_name(frame) for frame in stack.split(";")]
        total += weight
        own[frames[-1]] += weight
        for frame in set(frames):
            anywhere[frame] += weight
    telling = collections.Counter({frame: samples for frame, samples in anywhere.items() if samples < 0.7 * total})
    return total, own.most_common(count), telling.most_common(count)


def summarise(profile: Profile, count: int = 12) -> str:
    if not profile.path.exists():
        return f"profile {profile.name}: py-spy wrote nothing (see {profile.log})"
    total, own, anywhere = top_frames(profile.path, count)
    lines = [f"profile {profile.name}: {total:,} samples, {profile.path}", "  self:"]
    lines += [f"    {samples / total:6.1%}  {frame}" for frame, samples in own]
    lines.append("  inclusive:")
    lines += [f"    {samples / total:6.1%}  {frame}" for frame, samples in anywhere]
    return "\n".join(lines)
