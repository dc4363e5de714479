"""docker-compose.yml, Dockerfile and deploy/pipeline.compose.yml agree with each other and with the CLI.

No Docker needed: the files are parsed (PyYAML resolves the `<<` merge keys the same way Compose does).
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from streamstash import names

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
PIPELINE_FILE = ROOT / "deploy" / "pipeline.compose.yml"
PIPELINE_IN_CONTAINER = "/etc/streamstash/pipeline.yml"
STATE_IN_CONTAINER = "/var/lib/streamstash"

PIPELINE_SERVICES = ("collector", "parser", "aggregator", "indexer")
ES_NODES = ("es01", "es02", "es03")
ALL_SERVICES = {"kafka", *ES_NODES, "kibana", "topics", *PIPELINE_SERVICES, "demo-producer"}
ONE_SHOT = {"topics", "kibana-setup"}  # kibana-setup: loads deploy/kibana once Kibana is up
LOADS_PIPELINE = ("topics", *PIPELINE_SERVICES)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment as a dict, whichever of the two Compose forms it uses."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {key: "" if value is None else str(value) for key, value in env.items()}


def volume_specs(service: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(source, target, mode) of each short-syntax or long-syntax volume."""
    specs = []
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            specs.append((volume.get("source", ""), volume["target"], "ro" if volume.get("read_only") else "rw"))
        else:
            parts = volume.split(":")
            specs.append((parts[0], parts[1], parts[2] if len(parts) > 2 else "rw"))
    return specs


def command_words(service: dict[str, Any]) -> list[str]:
    command = service["command"]
    return shlex.split(command) if isinstance(command, str) else list(command)


def is_named_volume(source: str) -> bool:
    return bool(source) and not source.startswith(("/", ".", "~", "$"))


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    logical: list[str] = []
    pending = ""
    for line in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        logical.append(pending + stripped)
        pending = ""
    return [(text.split(None, 1)[0].upper(), text.split(None, 1)[1] if " " in text else "") for text in logical]


# ---- the file as a whole ----


def test_all_services_present(services: dict[str, Any]) -> None:
    assert set(services) >= ALL_SERVICES


def test_compose_spec_file_without_version(compose: dict[str, Any]) -> None:
    assert "version" not in compose


def test_every_long_running_service_has_a_healthcheck(services: dict[str, Any]) -> None:
    for name, service in services.items():
        if name in ONE_SHOT:
            assert service.get("restart") == "no", f"{name} is a one-shot job and must not be restarted"
            continue
        healthcheck = service.get("healthcheck")
        assert healthcheck and not healthcheck.get("disable"), f"{name} has no healthcheck"
        assert healthcheck["test"][0] in ("CMD", "CMD-SHELL"), name


def test_depends_on_targets_exist_and_conditions_are_meaningful(services: dict[str, Any]) -> None:
    for name, service in services.items():
        depends = service.get("depends_on", {})
        assert isinstance(depends, dict), f"{name}: use the long depends_on form with conditions"
        for target, spec in depends.items():
            assert target in services, f"{name} depends on unknown service {target}"
            condition = spec["condition"]
            if condition == "service_healthy":
                assert "healthcheck" in services[target], f"{name} waits for {target} to be healthy, it has no check"
            elif condition == "service_completed_successfully":
                assert target in ONE_SHOT, f"{name} waits for {target} to complete, but it runs forever"


def test_named_volumes_declared_and_used(compose: dict[str, Any], services: dict[str, Any]) -> None:
    declared = set(compose.get("volumes") or {})
    used = {
        source for service in services.values() for source, _, _ in volume_specs(service) if is_named_volume(source)
    }
    assert used <= declared, f"undeclared volumes: {used - declared}"
    assert declared <= used, f"declared but unused volumes: {declared - used}"

    def named_volume_at(service: str, target: str) -> str:
        sources = [source for source, mount, _ in volume_specs(services[service]) if mount == target]
        assert len(sources) == 1 and is_named_volume(sources[0]), f"{service}: no named volume at {target}"
        return sources[0]

    kafka_volume = named_volume_at("kafka", environment(services["kafka"])["KAFKA_LOG_DIRS"])
    es_volumes = {named_volume_at(node, "/usr/share/elasticsearch/data") for node in ES_NODES}
    state_volumes = {named_volume_at(svc, STATE_IN_CONTAINER) for svc in ("collector", "aggregator")}
    everything = [kafka_volume, *es_volumes, *state_volumes]
    assert len(es_volumes) == 3 and len(state_volumes) == 2
    assert len(set(everything)) == len(everything), "each store needs its own volume"


# ---- Kafka ----


def test_kafka_runs_the_tests_broker_version_and_settings(services: dict[str, Any]) -> None:
    """The compose broker is the tests' broker: same Kafka version, same settings (broker_properties)."""
    from streamstash.stack import artifacts
    from streamstash.stack.kafka_broker import broker_properties

    kafka = services["kafka"]
    assert kafka["image"] == f"apache/kafka:{artifacts.KAFKA.version}"
    env = environment(kafka)
    compose = {
        key.removeprefix("KAFKA_").lower().replace("_", "."): value
        for key, value in env.items()
        if key.startswith("KAFKA_")
    }
    expected = broker_properties("kafka", 9092, 9093, env["KAFKA_LOG_DIRS"])
    expected["listeners"] = expected["listeners"].replace("kafka:", ":")  # the container binds every interface
    assert compose == expected


def test_kafka_is_single_node_kraft(services: dict[str, Any]) -> None:
    kafka = services["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    env = environment(kafka)
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    node_id = env["KAFKA_NODE_ID"]
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == f"{node_id}@kafka:9093"
    assert "CONTROLLER://:9093" in env["KAFKA_LISTENERS"] and "PLAINTEXT://:9092" in env["KAFKA_LISTENERS"]
    assert env["KAFKA_ADVERTISED_LISTENERS"] == "PLAINTEXT://kafka:9092"
    assert env["KAFKA_CONTROLLER_LISTENER_NAMES"] == "CONTROLLER"
    assert env["KAFKA_NUM_PARTITIONS"] == "6"
    assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "1"
    assert env["KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"] == "1"
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert "kafka-broker-api-versions.sh --bootstrap-server localhost:9092" in " ".join(kafka["healthcheck"]["test"])
    assert not any("zookeeper" in name or "zookeeper" in str(svc.get("image", "")) for name, svc in services.items())
    assert not any(key.startswith("KAFKA_ZOOKEEPER") for key in env)


# ---- Elasticsearch / Kibana ----


def test_elasticsearch_nodes_form_one_cluster(services: dict[str, Any]) -> None:
    envs = {node: environment(services[node]) for node in ES_NODES}
    assert len({env["cluster.name"] for env in envs.values()}) == 1
    for node, env in envs.items():
        assert services[node]["image"].startswith("docker.elastic.co/elasticsearch/elasticsearch:8.")
        assert env["node.name"] == node
        assert set(env["discovery.seed_hosts"].split(",")) == set(ES_NODES) - {node}
        assert set(env["cluster.initial_master_nodes"].split(",")) == set(ES_NODES)
        assert env["xpack.security.enabled"] == "false"
        assert re.search(r"-Xms\S+ -Xmx\S+", env["ES_JAVA_OPTS"])
        assert services[node]["ulimits"]["memlock"] == {"soft": -1, "hard": -1}
        health = " ".join(services[node]["healthcheck"]["test"])
        assert "_cluster/health?wait_for_status=yellow" in health and "curl -fs" in health
    images = {services[node]["image"] for node in ES_NODES}
    assert len(images) == 1
    kibana = services["kibana"]
    assert kibana["image"].split(":")[1] == images.pop().split(":")[1], "Kibana and Elasticsearch versions differ"
    assert "http://es01:9200" in environment(kibana)["ELASTICSEARCH_HOSTS"]
    assert kibana["depends_on"]["es01"]["condition"] == "service_healthy"
    assert "/api/status" in " ".join(kibana["healthcheck"]["test"])
    assert any(str(port).endswith("5601") for port in kibana["ports"])


def test_dollar_signs_are_escaped_for_compose() -> None:
    """Compose interpolates ${VAR} and $VAR in the file; a literal $ must be written $$."""
    text = "\n".join(line.split("#", 1)[0] for line in COMPOSE_FILE.read_text(encoding="utf-8").splitlines())
    for match in re.finditer(r"\$(?!\$)(\{[A-Za-z_][A-Za-z0-9_]*(:?[-?+][^}]*)?\}|[A-Za-z_])?", text):
        if match.start() > 0 and text[match.start() - 1] == "$":
            continue
        assert match.group(1), f"unescaped $ at offset {match.start()}: {text[match.start() : match.start() + 30]!r}"


# ---- the streamstash services ----


def test_pipeline_services_share_one_image(services: dict[str, Any]) -> None:
    builds = []
    for name in (*PIPELINE_SERVICES, "topics", "demo-producer"):
        build = services[name]["build"]
        context, dockerfile = (
            (build, "Dockerfile")
            if isinstance(build, str)
            else (build.get("context", "."), build.get("dockerfile", "Dockerfile"))
        )
        builds.append((context, dockerfile, services[name].get("image")))
        assert (ROOT / context / dockerfile).resolve() == DOCKERFILE
    assert len(set(builds)) == 1, f"services build different images: {set(builds)}"


def cli_subcommands() -> set[str]:
    typer = pytest.importorskip("typer")
    from streamstash.services.cli import app

    return set(typer.main.get_command(app).commands)


def test_commands_are_cli_subcommands(services: dict[str, Any]) -> None:
    subcommands = cli_subcommands()
    for name in LOADS_PIPELINE:
        assert command_words(services[name]) == [name, "--config", PIPELINE_IN_CONTAINER]
    for name in (*LOADS_PIPELINE, "demo-producer"):
        assert command_words(services[name])[0] in subcommands, f"{name}: not a streamstash subcommand"


def test_pipeline_services_are_scalable_and_wired(services: dict[str, Any]) -> None:
    for name in PIPELINE_SERVICES:
        service = services[name]
        assert "container_name" not in service, f"{name}: container_name prevents --scale"
        assert "ports" not in service, f"{name}: host ports prevent --scale"
        assert service["restart"] == "unless-stopped"
        env = environment(service)
        assert env["STREAMSTASH_KAFKA"] == "kafka:9092"
        assert env["STREAMSTASH_ELASTICSEARCH"] == "http://es01:9200"
        assert env[names.ENV_HTTP_HOST] == "0.0.0.0"
        assert (f"./{PIPELINE_FILE.relative_to(ROOT)}", PIPELINE_IN_CONTAINER, "ro") in volume_specs(service)
        depends = service["depends_on"]
        assert depends["kafka"]["condition"] == "service_healthy"
        assert depends["topics"]["condition"] == "service_completed_successfully"
        health = service["healthcheck"]["test"]
        assert health[:2] == ["CMD", "python"] and "http://127.0.0.1:9600/healthz" in health[-1]
    assert services["indexer"]["depends_on"]["es01"]["condition"] == "service_healthy"
    topics = services["topics"]
    assert topics["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert (f"./{PIPELINE_FILE.relative_to(ROOT)}", PIPELINE_IN_CONTAINER, "ro") in volume_specs(topics)


def test_http_port_matches_the_healthcheck() -> None:
    from streamstash.config import load_pipeline

    config = load_pipeline(PIPELINE_FILE, env=compose_env_of("parser"))
    assert config.http.port == 9600 and config.http.host == "0.0.0.0"


def compose_env_of(service: str) -> dict[str, str]:
    return environment(yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))["services"][service])


def test_collector_reads_the_docker_socket_read_only(services: dict[str, Any]) -> None:
    assert ("/var/run/docker.sock", "/var/run/docker.sock", "ro") in volume_specs(services["collector"])
    for name, service in services.items():
        if name != "collector":
            assert all(source != "/var/run/docker.sock" for source, _, _ in volume_specs(service)), name


def test_demo_producer_is_what_the_collector_follows(services: dict[str, Any]) -> None:
    from streamstash.config import load_pipeline

    config = load_pipeline(PIPELINE_FILE, env=compose_env_of("collector"))
    docker_inputs = [spec for spec in config.inputs if spec.type == "docker"]
    assert docker_inputs, "the compose pipeline has no docker input"
    wanted = docker_inputs[0].labels
    assert wanted

    def labels(service: dict[str, Any]) -> dict[str, str]:
        raw = service.get("labels") or {}
        if isinstance(raw, list):
            raw = dict(item.split("=", 1) for item in raw)
        return {key: str(value) for key, value in raw.items()}

    producer = services["demo-producer"]
    assert wanted.items() <= labels(producer).items()
    # The collector must not follow its own output (nor the other services': they log to stdout too).
    for name in PIPELINE_SERVICES:
        assert not wanted.items() <= labels(services[name]).items(), f"{name} would be collected"
    words = command_words(producer)
    assert words[0] == "generate"
    data_file = words[words.index("--file") + 1]
    mounts = {target: source for source, target, mode in volume_specs(producer) if mode == "ro"}
    assert "/data" in mounts and data_file.startswith("/data/")
    assert (ROOT / mounts["/data"] / data_file.removeprefix("/data/")).is_file()


# ---- the pipeline file ----


def test_pipeline_file_validates_with_each_services_environment(services: dict[str, Any]) -> None:
    from streamstash.config import load_pipeline

    for name in LOADS_PIPELINE:
        env = environment(services[name])
        config = load_pipeline(PIPELINE_FILE, env=env)
        assert config.kafka.bootstrap_servers == "kafka:9092"
        assert config.kafka.partitions == 6
        assert config.elasticsearch.hosts == ["http://es01:9200"]
        assert str(config.state_dir) == STATE_IN_CONTAINER
        assert config.outputs.elasticsearch.index == "logs-%{+YYYY.MM.dd}"
        assert len(config.filters) == 2


def test_pipeline_variables_are_all_provided(services: dict[str, Any]) -> None:
    """Every ${VAR} without a default in the pipeline file is set on each service that loads it."""
    required = {
        match.group(1)
        for match in re.finditer(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", PIPELINE_FILE.read_text(encoding="utf-8"))
    }
    assert required, "the pipeline should take its addresses from the environment"
    for name in LOADS_PIPELINE:
        assert required <= set(environment(services[name])), (
            f"{name} lacks {required - set(environment(services[name]))}"
        )


# ---- Dockerfile / .dockerignore ----


def test_dockerfile_builds_the_project_as_non_root() -> None:
    instructions = dockerfile_instructions()
    from_lines = [args for op, args in instructions if op == "FROM"]
    assert from_lines and from_lines[-1].split()[0] == "python:3.11-slim"
    assert any(op == "RUN" and re.search(r"pip install\b.*\s\.(\s|$)", args + " ") for op, args in instructions)
    users = [args for op, args in instructions if op == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    entrypoints = [args for op, args in instructions if op == "ENTRYPOINT"]
    assert entrypoints and json.loads(entrypoints[-1]) == ["streamstash"]
    copied = " ".join(args for op, args in instructions if op in ("COPY", "ADD"))
    for needed in ("pyproject.toml", "README.md", "shared", "services"):  # what `pip install .` reads
        assert needed in copied


def test_dockerignore_keeps_local_state_out() -> None:
    patterns = {
        line.strip().rstrip("/")
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".venv", ".streamstash", ".git"} <= patterns
    assert any("__pycache__" in pattern for pattern in patterns)
    for needed in ("pyproject.toml", "README.md", "shared", "services"):
        assert needed not in patterns


def test_readme_shows_scaling_with_compose(services: dict[str, Any]) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    scaled = [
        name
        for command in re.findall(r"docker compose up[^\n`]*", readme)
        for name in re.findall(r"--scale (\w+)=\d+", command)
    ]
    assert "parser" in scaled
    for name in scaled:
        assert name in PIPELINE_SERVICES and name != "collector", f"README scales {name}"
        assert "container_name" not in services[name] and "ports" not in services[name]
