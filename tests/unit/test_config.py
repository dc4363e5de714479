from __future__ import annotations

from pathlib import Path

import pytest

from streamstash.config import ConfigError, load_pipeline, parse_pipeline
from streamstash.config.substitution import UnsetVariableError, substitute

REPO = Path(__file__).resolve().parents[2]


def test_substitution_forms() -> None:
    env = {"HOST": "kafka:9092", "EMPTY": ""}
    tree = {"a": "${HOST}", "b": "x-${MISSING:-dflt}-y", "c": ["$${HOST}", "${EMPTY:-z}"], "d": "${NOPE:-}", "e": 5}
    assert substitute(tree, env) == {"a": "kafka:9092", "b": "x-dflt-y", "c": ["${HOST}", "z"], "d": None, "e": 5}


def test_unset_variable_without_default_names_variable_and_key() -> None:
    with pytest.raises(UnsetVariableError) as caught:
        substitute({"kafka": {"bootstrap_servers": "${KAFKA_ADDR}"}}, {})
    assert caught.value.variable == "KAFKA_ADDR"
    assert caught.value.key_path == "kafka.bootstrap_servers"


def test_unset_variable_error_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "p.yml"
    path.write_text("kafka:\n  bootstrap_servers: ${KAFKA_ADDR}\n")
    with pytest.raises(ConfigError, match=r"p\.yml.*KAFKA_ADDR.*kafka\.bootstrap_servers"):
        load_pipeline(path, env={})


def test_unknown_keys_are_rejected_with_their_path() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_pipeline(
            "kafka:\n  bootstrap: x\nfilters:\n  - grok: {match: {message: a}, brek_on_match: true}\n",
            "pipe.yml",
            env={},
        )
    message = str(caught.value)
    assert "pipe.yml" in message
    assert "kafka.bootstrap: unknown key" in message
    assert "filters.0.grok.brek_on_match: unknown key" in message


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("inputs: [{type: carrier_pigeon}]", "inputs.0"),
        ("kafka:\n  partitions: many", "kafka.partitions"),
        ("filters: [{grok: {match: {message: a}}, date: {match: [t, ISO8601]}}]", "exactly one"),
        ("aggregations: [{name: a, task_id: x, metrics: {s: {type: sum}}}]", "needs a `field`"),
        ("- just\n- a list", "top level must be a mapping"),
        ("kafka: [unclosed", "not valid YAML"),
    ],
)
def test_broken_configs_give_readable_errors(text: str, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment.replace(".", r"\.").replace("`", "`")):
        parse_pipeline(text, "broken.yml", env={})


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_pipeline(tmp_path / "absent.yml")


def test_environment_provides_typed_values() -> None:
    config = parse_pipeline(
        "aggregations:\n  - name: a\n    task_id: '%{x}'\n    metrics: {c: {type: count}}\n"
        "    flush:\n      every: ${TASK_FLUSH_EVERY:-3}\n",
        env={"TASK_FLUSH_EVERY": "100"},
    )
    assert config.aggregations[0].flush.every == 100


def test_empty_addresses_mean_local_stack() -> None:
    config = parse_pipeline("kafka:\n  bootstrap_servers: ${K:-}\nelasticsearch:\n  hosts: ['${E:-}']\n", env={})
    assert config.uses_local_stack
    config = parse_pipeline(
        "kafka:\n  bootstrap_servers: ${K:-}\nelasticsearch:\n  hosts: ['${E:-}']\n",
        env={"K": "k:9092", "E": "http://e:9200"},
    )
    assert not config.uses_local_stack and config.elasticsearch.hosts == ["http://e:9200"]


def test_secrets_are_hidden_in_repr() -> None:
    config = parse_pipeline("elasticsearch:\n  username: elastic\n  password: hunter2\n  api_key: k3y\n", env={})
    assert "hunter2" not in repr(config) and "k3y" not in repr(config)


@pytest.mark.parametrize("example", sorted((REPO / "examples").glob("*.yml")), ids=lambda p: p.name)
def test_shipped_examples_validate(example: Path) -> None:
    load_pipeline(example, env={})
