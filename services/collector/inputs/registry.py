"""Every input type, once: its settings model (from the pipeline's `inputs[]`) and how it is built.

Adding an input is one entry in ``INPUTS`` (and its settings model in ``streamstash.config.collector``);
a test checks that every settings model of the pipeline schema has an entry here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from streamstash.config.collector import BeatsInput as BeatsSettings
from streamstash.config.collector import DockerInput as DockerSettings
from streamstash.config.collector import FileInput as FileSettings
from streamstash.config.collector import InputCommon
from streamstash.config.collector import StdinInput as StdinSettings
from streamstash.config.collector import TcpInput as TcpSettings
from streamstash.config.collector import UdpInput as UdpSettings
from streamstash.runtime.metrics import ServiceMetrics
from streamstash.services.collector.checkpoints import CheckpointStore
from streamstash.services.collector.inputs.base import Input
from streamstash.services.collector.inputs.beats import BeatsInput
from streamstash.services.collector.inputs.docker import DockerInput
from streamstash.services.collector.inputs.file import FileInput
from streamstash.services.collector.inputs.network import TcpInput, UdpInput
from streamstash.services.collector.inputs.stdin import StdinInput


@dataclass(frozen=True)
class InputContext:
    """What an input may need besides its settings."""

    checkpoints: CheckpointStore
    metrics: ServiceMetrics
    topic: str  # where its lines go (for the metrics' labels)
    drain_timeout_s: float  # how long stopping may take (a Beat's connections are drained within it)
    flush: Callable[[str], None] | None = None  # seal a source's batch now (the publisher's), for inputs that wait


@dataclass(frozen=True)
class InputType:
    build: Callable[[Any, InputContext], Input]
    # Resumes from checkpoints, which crash recovery may move first: starts once recovery is done.
    # Others start at once and are buffered (memory, spill) while Kafka cannot be reached.
    waits_for_recovery: bool = False


def _beats(settings: BeatsSettings, context: InputContext) -> BeatsInput:
    source = BeatsInput(settings, context.metrics, context.topic, context.drain_timeout_s)
    source.flush = context.flush  # a Beat waits for its window's acknowledgement: no linger after its last event
    return source


INPUTS: dict[type[InputCommon], InputType] = {
    FileSettings: InputType(
        lambda settings, context: FileInput(settings, context.checkpoints), waits_for_recovery=True
    ),
    DockerSettings: InputType(
        lambda settings, context: DockerInput(settings, context.checkpoints), waits_for_recovery=True
    ),
    StdinSettings: InputType(lambda settings, context: StdinInput(settings)),
    UdpSettings: InputType(lambda settings, context: UdpInput(settings, context.metrics, context.topic)),
    TcpSettings: InputType(lambda settings, context: TcpInput(settings)),
    BeatsSettings: InputType(_beats),
}


@dataclass(frozen=True)
class BuiltInput:
    source: Input
    waits_for_recovery: bool


def build_input(settings: InputCommon, context: InputContext) -> BuiltInput:
    kind = INPUTS.get(type(settings))
    if kind is None:
        raise NotImplementedError(f"input type {getattr(settings, 'type', type(settings).__name__)!r} is not available")
    return BuiltInput(kind.build(settings, context), kind.waits_for_recovery)
