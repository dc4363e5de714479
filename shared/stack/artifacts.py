"""Engines fetched from Maven Central: where they are kept, whether they can run here, and fetching them.

Each engine is a Maven project file shipped in this package (``maven/<engine>.pom.xml``) whose
dependencies are the engine's jars. ``mvn dependency:copy-dependencies`` copies them, once, into
``<engines dir>/<engine>-<version>/`` (``$STREAMSTASH_ENGINES_DIR``, default
``$XDG_CACHE_HOME/streamstash`` or ``~/.cache/streamstash``): outside the repository and the venv, so a new
venv or a new checkout reuses them. Nothing is downloaded from anywhere but Maven Central (through
Maven's own settings, so a mirror configured in ``~/.m2/settings.xml`` is used).
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from streamstash import names
from streamstash.stack.errors import StackError

COMPLETE_MARKER = ".complete"
FETCH_TIMEOUT_S = 900.0


@dataclass(frozen=True)
class MavenEngine:
    """An engine whose jars a shipped Maven project file names."""

    name: str  # "kafka"
    title: str  # "Apache Kafka"

    @property
    def pom(self) -> Path:
        return Path(str(files("streamstash.stack").joinpath("maven", f"{self.name}.pom.xml")))

    @property
    def version(self) -> str:
        match = re.search(r"<engine\.version>([^<]+)</engine\.version>", self.pom.read_text(encoding="utf-8"))
        if match is None:
            raise StackError(f"{self.pom} names no <engine.version>")
        return match.group(1).strip()

    @property
    def directory(self) -> Path:
        return engines_dir() / f"{self.name}-{self.version}"

    def jars(self) -> Path | None:
        """The folder of the engine's jars if they were fetched whole, else None."""
        directory = self.directory
        return directory if (directory / COMPLETE_MARKER).is_file() else None

    def classpath(self) -> str:
        directory = self.jars()
        if directory is None:
            raise StackError(
                f"{self.title} {self.version} is not fetched yet: run `make engines` "
                f"(or `streamstash stack fetch`), which needs Maven ({self.directory})"
            )
        return str(directory / "*")

    def fetch(self, say: object = None) -> Path:
        """Fetch the jars with Maven unless they are there; the folder of the jars.

        Several processes may ask at once (test sessions, a benchmark, `make engines`): one fetches, the
        others wait for it, and none ever sees a folder being replaced.
        """
        ready = self.jars()
        if ready is not None:
            return ready
        self.directory.parent.mkdir(parents=True, exist_ok=True)
        with open(self.directory.with_name(self.directory.name + ".lock"), "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                return self.jars() or self._fetch(say)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _fetch(self, say: object) -> Path:
        mvn = shutil.which("mvn")
        if mvn is None:
            raise StackError(
                f"{self.title} {self.version} is not fetched and Maven (mvn) is not installed: "
                "install Maven, or use the stand-in (--kafka-engine standin)"
            )
        target = self.directory
        partial = target.with_name(target.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.parent.mkdir(parents=True, exist_ok=True)
        command = [
            mvn,
            "-q",
            "-B",
            "-f",
            str(self.pom),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={partial}",
            "-Dmdep.useRepositoryLayout=false",
        ]
        if callable(say):
            say(f"fetching {self.title} {self.version} from Maven Central into {target}")
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=FETCH_TIMEOUT_S, check=False)  # noqa: S603
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise StackError(f"fetching {self.title} {self.version} with Maven failed: {exc}") from exc
        if result.returncode != 0 or not any(partial.glob("*.jar")):
            tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-20:])
            raise StackError(
                f"fetching {self.title} {self.version} with Maven failed (exit {result.returncode}):\n"
                f"{' '.join(command)}\n{tail}"
            )
        (partial / COMPLETE_MARKER).write_text(self.version + "\n", encoding="utf-8")
        shutil.rmtree(target, ignore_errors=True)
        partial.replace(target)
        return target


KAFKA = MavenEngine("kafka", "Apache Kafka")
ENGINES = {KAFKA.name: KAFKA}


def engines_dir() -> Path:
    configured = os.environ.get(names.ENV_ENGINES_DIR)
    if configured:
        return Path(configured).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "streamstash"


def java() -> str | None:
    """The java launcher: ``$JAVA_HOME/bin/java`` if set, else the one on PATH."""
    home = os.environ.get("JAVA_HOME")
    if home and os.access(Path(home) / "bin" / "java", os.X_OK):
        return str(Path(home) / "bin" / "java")
    return shutil.which("java")


def runnable(engine: MavenEngine) -> str | None:
    """None if ``engine`` can run here (Java, and its jars or Maven to fetch them); else why not."""
    if java() is None:
        return "no java on PATH (nor JAVA_HOME)"
    if engine.jars() is None and shutil.which("mvn") is None:
        return f"{engine.title} {engine.version} is not fetched and Maven (mvn) is not installed"
    return None
