"""The local stack's OpenSearch node and search-engine choice, without starting a server; and how the
distribution reaches the services (settings, command line, supervisor)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from streamstash.cli import use_stack, with_overrides_no_stack
from streamstash.config import parse_pipeline
from streamstash.runtime.supervisor import service_argv
from streamstash.stack import artifacts, manager, opensearch_node
from streamstash.stack.kafka_broker import KafkaServer
from streamstash.stack.manager import STATE_VERSION, LocalStack, StackAddresses, StackError, servers_for
from streamstash.stack.opensearch_node import OpenSearchServer, node_settings, yaml_text
from streamstash.stack.servers import ELASTICSEARCH, KAFKA, SEARCH_TRANSPORT, Layout
from streamstash.stack.standin import StandinServer


def test_servers_for_each_kafka_and_search_engine() -> None:
    def kinds(kafka: str, search: str) -> list[tuple[str, tuple[str, ...]]]:
        return [(type(s).__name__, s.serves) for s in servers_for(kafka, search=search)]

    assert kinds("standin", "standin") == [("StandinServer", (KAFKA, ELASTICSEARCH))]
    assert kinds("apache", "standin") == [("StandinServer", (ELASTICSEARCH,)), ("KafkaServer", (KAFKA,))]
    assert kinds("apache", "opensearch") == [("OpenSearchServer", (ELASTICSEARCH,)), ("KafkaServer", (KAFKA,))]
    assert kinds("standin", "opensearch") == [("OpenSearchServer", (ELASTICSEARCH,)), ("StandinServer", (KAFKA,))]
    with pytest.raises(StackError, match="unknown search engine 'solr'"):
        servers_for("apache", search="solr")


def test_the_node_gets_its_heap_and_extra_settings() -> None:
    node, kafka = servers_for(
        "apache", 256, search="opensearch", search_heap_mb=384, search_settings=[("thread_pool.write.queue_size", "1")]
    )
    assert isinstance(node, OpenSearchServer) and isinstance(kafka, KafkaServer)
    assert node.heap_mb == 384 and kafka.heap_mb == 256
    assert node.settings == (("thread_pool.write.queue_size", "1"),)
    assert node.ports == (ELASTICSEARCH, SEARCH_TRANSPORT)


def test_node_settings_are_a_loopback_single_node_cluster(tmp_path: Path) -> None:
    settings = node_settings("127.0.0.1", 19200, 19300, tmp_path)
    assert settings["discovery.type"] == "single-node"
    assert (settings["network.host"], settings["http.port"], settings["transport.port"]) == (
        "127.0.0.1",
        "19200",
        "19300",
    )
    assert settings["path.data"] == str(tmp_path / "data")
    assert settings["cluster.routing.allocation.disk.threshold_enabled"] == "false"
    text = yaml_text({**settings, "node.attr.note": 'say "hi"'})
    assert yaml.safe_load(text) == {**settings, "node.attr.note": 'say "hi"'}  # every value a string


def test_prepare_writes_the_config_with_the_extra_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(artifacts.MavenEngine, "fetch", lambda self, say=None: tmp_path)
    monkeypatch.setattr(opensearch_node, "compile_launcher", lambda: tmp_path)
    layout = Layout(tmp_path, "127.0.0.1", {ELASTICSEARCH: 19200, SEARCH_TRANSPORT: 19300})
    OpenSearchServer(settings=(("thread_pool.write.size", "1"),)).prepare(layout)
    written = yaml.safe_load((tmp_path / "opensearch" / "config" / "opensearch.yml").read_text())
    assert written["http.port"] == "19200" and written["thread_pool.write.size"] == "1"
    assert "rootLogger.level" in (tmp_path / "opensearch" / "config" / "log4j2.properties").read_text()


def test_the_command_bounds_the_heap_and_names_the_launcher(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(artifacts, "java", lambda: "/usr/bin/java")
    monkeypatch.setattr(artifacts.MavenEngine, "classpath", lambda self: "/cache/opensearch-2.19.6/*")
    layout = Layout(tmp_path, "127.0.0.1", {ELASTICSEARCH: 19200, SEARCH_TRANSPORT: 19300})
    command = OpenSearchServer(heap_mb=384).command(layout)
    assert command[0] == "/usr/bin/java"
    assert "-Xmx384m" in command and "-Xms384m" in command
    assert opensearch_node.LAUNCHER in command
    assert command[-1] == "org.opensearch.transport.Netty4Plugin"
    assert OpenSearchServer().marker in " ".join(command).encode()


def test_no_java_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(artifacts, "java", lambda: None)
    monkeypatch.setattr(manager.processes, "spawn", lambda *a, **k: pytest.fail("nothing may start"))
    with pytest.raises(StackError, match=r"OpenSearch needs Java 17.*--search standin"):
        LocalStack(tmp_path, kafka_engine="standin", search="opensearch").up(timeout=5)


def test_no_jars_and_no_maven_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAMSTASH_ENGINES_DIR", str(tmp_path / "empty-cache"))
    monkeypatch.setattr(artifacts.shutil, "which", lambda name: None)
    monkeypatch.setattr(artifacts, "java", lambda: "/usr/bin/java")
    with pytest.raises(StackError, match=r"OpenSearch 2\.19\.\d+ is not fetched and Maven \(mvn\).*--search standin"):
        OpenSearchServer().check()


def test_no_javac_for_the_launcher_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAMSTASH_ENGINES_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(artifacts, "java", lambda: "/usr/bin/java")
    monkeypatch.setattr(artifacts, "runnable", lambda engine: None)
    monkeypatch.setattr(opensearch_node, "javac", lambda: None)
    with pytest.raises(StackError, match=r"launcher is not compiled yet and no `javac`"):
        OpenSearchServer().check()


def test_the_pom_pins_opensearch_2_19_with_the_transport_module() -> None:
    pom = artifacts.OPENSEARCH.pom.read_text()
    major, minor, _ = (int(part) for part in artifacts.OPENSEARCH.version.split("."))
    assert (major, minor) == (2, 19)
    assert "<artifactId>transport-netty4-client</artifactId>" in pom
    assert opensearch_node.launcher_source().is_file()


@pytest.fixture
def fake_node(tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A process that looks like the launcher (its command line holds the marker), in its own session."""
    program = tmp_path / opensearch_node.LAUNCHER
    program.symlink_to("/bin/sleep")
    with subprocess.Popen([str(program), "30"], start_new_session=True) as process:
        try:
            yield process
        finally:
            process.kill()


def _state(pid: int, search: str) -> dict[str, object]:
    return {
        "version": STATE_VERSION,
        "host": "127.0.0.1",
        "kafka_engine": "apache",
        "search": search,
        "ports": {KAFKA: 1, "kafka_controller": 3, ELASTICSEARCH: 2, SEARCH_TRANSPORT: 4},
        "servers": {"opensearch": {"pid": pid, "ready": True}},
    }


def test_a_running_opensearch_stack_is_not_taken_over_by_a_standin_request(
    tmp_path: Path, fake_node: subprocess.Popen[bytes]
) -> None:
    (tmp_path / "stack.json").write_text(json.dumps(_state(fake_node.pid, "opensearch")))
    with pytest.raises(StackError, match=r"search engine opensearch\).*search standin"):
        LocalStack(tmp_path, search="standin").up(timeout=1)
    assert fake_node.poll() is None
    assert LocalStack(tmp_path).log_files()[0].name == "opensearch.log"  # no engine asked: the running one


def test_the_stack_tells_the_services_the_distribution() -> None:
    config = parse_pipeline("kafka: {partitions: 1}\n", env={})
    stack = StackAddresses("127.0.0.1:1", "http://127.0.0.1:2", Path("."), "apache", search_engine="opensearch")
    assert use_stack(config, stack).elasticsearch.distribution == "opensearch"
    standin = StackAddresses("127.0.0.1:1", "http://127.0.0.1:2", Path("."), "apache")
    assert use_stack(config, standin).elasticsearch.distribution == "elasticsearch"


def test_the_command_line_sets_the_distribution_and_splits_hosts() -> None:
    config = parse_pipeline("kafka: {partitions: 1}\n", env={})
    updated = with_overrides_no_stack(config, None, "http://os01:9200, http://os02:9200", distribution="opensearch")
    assert updated.elasticsearch.hosts == ["http://os01:9200", "http://os02:9200"]
    assert updated.elasticsearch.distribution == "opensearch"
    argv = service_argv("indexer", Path("p.yml"), "k:9092", "http://os01:9200,http://os02:9200", 0, False, "opensearch")
    assert argv[argv.index("--elasticsearch-distribution") + 1] == "opensearch"
    assert argv[argv.index("--elasticsearch") + 1] == "http://os01:9200,http://os02:9200"
    assert "--elasticsearch-distribution" not in service_argv("indexer", Path("p.yml"), "k", "e", 0)


def test_standin_server_still_serves_kafka_alone_beside_opensearch() -> None:
    server = StandinServer((KAFKA,))
    assert server.ports == (KAFKA,)
    assert "--only" in server.command(Layout(Path("/tmp/x"), "127.0.0.1", {KAFKA: 1}))
