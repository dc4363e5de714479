"""The collector's input registry: one entry per input type of the pipeline schema."""

from __future__ import annotations

import typing
from pathlib import Path

from streamstash.config import parse_pipeline
from streamstash.config.collector import InputSettings
from streamstash.services.collector.app import build_inputs
from streamstash.services.collector.checkpoints import CheckpointStore
from streamstash.services.collector.inputs.registry import INPUTS


def schema_input_models() -> set[type]:
    union = typing.get_args(InputSettings)[0]  # Annotated[Union[...], discriminator]
    return set(typing.get_args(union))


def test_every_input_type_of_the_schema_has_a_registry_entry() -> None:
    models = schema_input_models()
    assert len(models) >= 5, models
    assert set(INPUTS) == models


def test_a_pipeline_of_every_input_builds_them_and_says_which_wait_for_recovery(tmp_path: Path) -> None:
    config = parse_pipeline(
        f"""
state_dir: {tmp_path}
inputs:
  - {{type: file, paths: ["{tmp_path}/*.log"]}}
  - {{type: docker}}
  - {{type: stdin}}
  - {{type: udp, port: 0}}
  - {{type: tcp, port: 0}}
  - {{type: beats, port: 0}}
""",
        env={},
    )
    built = build_inputs(config, CheckpointStore(tmp_path / "checkpoints.json"))
    assert [(type(entry.source).__name__, entry.waits_for_recovery) for entry in built] == [
        ("FileInput", True),
        ("DockerInput", True),
        ("StdinInput", False),
        ("UdpInput", False),
        ("TcpInput", False),
        ("BeatsInput", False),
    ]
