"""Settings of the collector: its inputs and how it batches lines into Kafka records."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from streamstash.config.base import StrictModel
from streamstash.config.common import BatchSettings

ONE_MIB = 1024 * 1024


class MultilineSettings(StrictModel):
    """Join continuation lines (stack traces) into one event, per source."""

    pattern: str = Field(description="Regex tested against each line.", examples=[r"^\s"])
    negate: bool = Field(False, description="Invert the pattern's result.", examples=[True])
    what: Literal["previous", "next"] = Field(
        "previous", description="A matching line belongs to the previous or the next line.", examples=["previous"]
    )
    max_lines: int = Field(500, ge=2, description="Flush an event once it has this many lines.", examples=[1000])
    timeout_ms: int = Field(1000, ge=1, description="Flush a pending event after this long without a new line.",
                            examples=[2000])


class InputCommon(StrictModel):
    max_line_bytes: int = Field(ONE_MIB, ge=64, description="Longer lines are truncated and tagged `_truncated`.",
                                examples=[65536])
    multiline: MultilineSettings | None = Field(None, description="Multiline joining for this input.")
    add_fields: dict[str, str] = Field(default_factory=dict, description="Fields added to every event.",
                                       examples=[{"env": "prod"}])


class FileInput(InputCommon):
    type: Literal["file"] = "file"
    paths: list[str] = Field(min_length=1, description="Files or globs to tail.", examples=[["/var/log/app/*.log"]])
    exclude: list[str] = Field(default_factory=list, description="Globs of files to skip.", examples=[["*.gz"]])
    start_position: Literal["beginning", "end"] = Field(
        "end", description="Where a file never seen before is read from.", examples=["beginning"]
    )
    poll_interval_ms: int = Field(250, ge=10, description="How often files and globs are checked.", examples=[1000])
    exit_at_eof: bool = Field(
        False, description="Stop the input once every file is read to its end (batch jobs, tests).",
        examples=[True],
    )


class StdinInput(InputCommon):
    type: Literal["stdin"] = "stdin"


class DockerInput(InputCommon):
    type: Literal["docker"] = "docker"
    docker_url: str = Field("unix:///var/run/docker.sock", description="Docker Engine API address.",
                            examples=["unix:///var/run/docker.sock"])
    names: list[str] = Field(default_factory=list, description="Container names (globs).", examples=[["web-*"]])
    ids: list[str] = Field(default_factory=list, description="Container id prefixes.", examples=[["3f2a"]])
    labels: dict[str, str] = Field(default_factory=dict, description="Labels a container must carry.",
                                   examples=[{"streamstash.collect": "true"}])
    images: list[str] = Field(default_factory=list, description="Image name globs.", examples=[["nginx:*"]])
    streams: list[Literal["stdout", "stderr"]] = Field(["stdout", "stderr"], description="Streams to follow.",
                                                       examples=[["stdout"]])


class UdpInput(InputCommon):
    type: Literal["udp"] = "udp"
    host: str = Field("127.0.0.1", description="Bind address.", examples=["0.0.0.0"])
    port: int = Field(ge=0, le=65535, description="Port to listen on.", examples=[5514])
    syslog: bool = Field(True, description="Recognise RFC 3164/5424 syslog and keep its fields.", examples=[False])


class TcpInput(InputCommon):
    type: Literal["tcp"] = "tcp"
    host: str = Field("127.0.0.1", description="Bind address.", examples=["0.0.0.0"])
    port: int = Field(ge=0, le=65535, description="Port to listen on.", examples=[5514])
    syslog: bool = Field(True, description="Recognise RFC 3164/5424 syslog and keep its fields.", examples=[False])
    framing: Literal["auto", "newline", "octet-counting"] = Field(
        "auto", description="Line framing; auto recognises RFC 6587 octet counting.", examples=["newline"]
    )


InputSettings = Annotated[FileInput | StdinInput | DockerInput | UdpInput | TcpInput, Field(discriminator="type")]


class CollectorSettings(StrictModel):
    """How the collector batches lines and where it keeps checkpoints."""

    batch: BatchSettings = Field(default_factory=BatchSettings, description="Micro-batch bounds per source.")
    buffer_max_events: int = Field(
        200_000, ge=1000, description="Events held in memory while Kafka is unreachable before inputs are paused.",
        examples=[1000000],
    )
    compression: Literal["none", "gzip", "lz4", "zstd"] = Field("lz4", description="Producer compression.",
                                                               examples=["zstd"])
