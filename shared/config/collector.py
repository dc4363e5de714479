"""Settings of the collector: its inputs and how it batches lines into Kafka records."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from streamstash.config.base import StrictModel
from streamstash.config.common import BatchSettings, Compression
from streamstash.config.security import TlsListener

ONE_MIB = 1024 * 1024


class MultilineSettings(StrictModel):
    """Join continuation lines (stack traces) into one event, per source."""

    pattern: str = Field(description="Regex tested against each line.", examples=[r"^\s"])
    negate: bool = Field(False, description="Invert the pattern's result.", examples=[True])
    what: Literal["previous", "next"] = Field(
        "previous", description="A matching line belongs to the previous or the next line.", examples=["previous"]
    )
    max_lines: int = Field(500, ge=2, description="Flush an event once it has this many lines.", examples=[1000])
    timeout_ms: int = Field(
        1000, ge=1, description="Flush a pending event after this long without a new line.", examples=[2000]
    )


class InputCommon(StrictModel):
    max_line_bytes: int = Field(
        ONE_MIB, ge=64, description="Longer lines are truncated and tagged `_truncated`.", examples=[65536]
    )
    multiline: MultilineSettings | None = Field(None, description="Multiline joining for this input.")
    add_fields: dict[str, str] = Field(
        default_factory=dict, description="Fields added to every event.", examples=[{"env": "prod"}]
    )


class FileInput(InputCommon):
    type: Literal["file"] = Field("file", description="Tail files and globs.", examples=["file"])
    paths: list[str] = Field(min_length=1, description="Files or globs to tail.", examples=[["/var/log/app/*.log"]])
    exclude: list[str] = Field(default_factory=list, description="Globs of files to skip.", examples=[["*.gz"]])
    start_position: Literal["beginning", "end"] = Field(
        "end", description="Where a file never seen before is read from.", examples=["beginning"]
    )
    poll_interval_ms: int = Field(
        250,
        ge=10,
        description="How often globs are matched and idle files checked; a file that just had lines is "
        "looked at again in 50 ms, its wait doubling back to this while it stays idle.",
        examples=[1000],
    )
    exit_at_eof: bool = Field(
        False,
        description="Stop the input once every file is read to its end (batch jobs, tests).",
        examples=[True],
    )


class StdinInput(InputCommon):
    type: Literal["stdin"] = Field("stdin", description="Read lines from standard input (pipes).", examples=["stdin"])


class DockerInput(InputCommon):
    """Follow the logs of running containers through the Docker Engine API, and of those started later.

    A container is followed when it carries every label in `labels` and, if any of `names`, `ids`
    or `images` is given, matches at least one of them. Each line keeps the engine's timestamp
    and its stream (stdout/stderr); after a restart the collector resumes where the lines it
    published end.
    """

    type: Literal["docker"] = Field("docker", description="Follow Docker containers' logs.")
    docker_url: str = Field(
        "unix:///var/run/docker.sock",
        pattern=r"^(unix|tcp|http)://.+",
        description="Docker Engine API address: `unix://<socket>` or `tcp://<host>:<port>` (plain HTTP).",
        examples=["unix:///var/run/docker.sock"],
    )
    names: list[str] = Field(default_factory=list, description="Container names (globs).", examples=[["web-*"]])
    ids: list[str] = Field(default_factory=list, description="Container id prefixes.", examples=[["3f2a"]])
    labels: dict[str, str] = Field(
        default_factory=dict, description="Labels a container must carry.", examples=[{"streamstash.collect": "true"}]
    )
    images: list[str] = Field(
        default_factory=list, description="Image name globs (with or without the tag).", examples=[["nginx:*"]]
    )
    streams: list[Literal["stdout", "stderr"]] = Field(
        ["stdout", "stderr"], description="Streams to follow.", examples=[["stdout"]]
    )
    start_position: Literal["beginning", "end"] = Field(
        "beginning",
        description="Where a container already running at the first start (no checkpoint yet) is "
        "read from: its whole log, or only lines from then on. Containers started later are read from their "
        "first line.",
        examples=["end"],
    )


class UdpInput(InputCommon):
    type: Literal["udp"] = Field(
        "udp", description="Listen for UDP datagrams (syslog, log4net's UdpAppender).", examples=["udp"]
    )
    host: str = Field("127.0.0.1", description="Bind address.", examples=["0.0.0.0"])  # noqa: S104 - an example
    port: int = Field(ge=0, le=65535, description="Port to listen on.", examples=[5514])
    syslog: bool = Field(True, description="Recognise RFC 3164/5424 syslog and keep its fields.", examples=[False])
    queue_datagrams: int = Field(
        10_000,
        ge=1,
        description="Datagrams held while the collector's buffers are full; UDP cannot push back, so "
        'beyond this they are lost and counted (`streamstash_events_lost{reason="buffer_full"}`).',
        examples=[50000],
    )


class TcpInput(InputCommon):
    type: Literal["tcp"] = Field(
        "tcp", description="Listen for TCP connections (syslog over TCP, nc).", examples=["tcp"]
    )
    host: str = Field("127.0.0.1", description="Bind address.", examples=["0.0.0.0"])  # noqa: S104 - an example
    port: int = Field(ge=0, le=65535, description="Port to listen on.", examples=[5514])
    syslog: bool = Field(True, description="Recognise RFC 3164/5424 syslog and keep its fields.", examples=[False])
    framing: Literal["auto", "newline", "octet-counting"] = Field(
        "auto", description="Line framing; auto recognises RFC 6587 octet counting.", examples=["newline"]
    )
    tls: TlsListener | None = Field(
        None,
        description="Accept TLS only (syslog over TLS, RFC 5425: octet counting, which `framing: auto` "
        "recognises); a plaintext sender is refused.",
        examples=[{"cert_file": "/etc/streamstash/syslog.pem", "key_file": "/etc/streamstash/syslog-key.pem"}],
    )


class BeatsInput(InputCommon):
    """Receive events from Filebeat, Winlogbeat, Metricbeat, ... (the lumberjack v2 protocol, optionally over TLS).

    Point a Beat's `output.logstash` here. A window of events is acknowledged to the Beat only once Kafka holds
    them, so a Beat re-sends whatever a crash or restart interrupted; each event's id comes from its content, so
    a re-sent event overwrites its Elasticsearch document instead of doubling it. The event's `message` and
    `@timestamp` become the envelope's, every other field of the Beat (`host`, `agent`, `log`, `fields`, ...)
    stays as the Beat sent it, its `@metadata` goes to `@metadata` (with the sender's address under
    `[@metadata][ip_address]`, as in Logstash).
    """

    type: Literal["beats"] = Field(
        "beats", description="Listen for Beats (Logstash's beats input).", examples=["beats"]
    )
    host: str = Field(
        "127.0.0.1",
        description="Bind address; 0.0.0.0 to take a fleet.",
        examples=["0.0.0.0"],  # noqa: S104
    )
    port: int = Field(5044, ge=0, le=65535, description="Port to listen on.", examples=[5044])
    client_inactivity_timeout: float = Field(
        60,
        gt=0,
        description="Seconds a connection may stay silent with nothing to acknowledge before it is closed.",
        examples=[300],
    )
    max_window_size: int = Field(
        65536, ge=1, description="Largest window (events per acknowledgement) a Beat may open.", examples=[4096]
    )
    max_frame_bytes: int = Field(
        64 * ONE_MIB,
        ge=1024,
        description="Largest frame (one event, or a compressed group) accepted; a larger one closes the "
        "connection. Messages longer than `max_line_bytes` are truncated and tagged `_truncated`.",
        examples=[16 * ONE_MIB],
    )
    keepalive_interval: float = Field(
        5,
        gt=0,
        description="While a window waits for Kafka, the Beat is told every this many seconds that it is alive "
        "(a repeated acknowledgement), so it does not time out and send the window again.",
        examples=[10],
    )
    content_ids: bool = Field(
        True,
        description="Give each event an id made from its bytes (or the Beat's `[@metadata][_id]`), so an event "
        "re-sent after a crash becomes the same document; off, ids come from the event's place in `logs.raw`.",
        examples=[False],
    )
    ssl_enabled: bool = Field(
        False, description="Speak TLS (Logstash's `ssl_enabled`, formerly `ssl`).", examples=[True]
    )
    ssl_certificate: Path | None = Field(
        None, description="The server's certificate chain (PEM).", examples=["/etc/streamstash/beats.crt"]
    )
    ssl_key: Path | None = Field(
        None, description="The server's private key (PEM).", examples=["/etc/streamstash/beats.key"]
    )
    ssl_key_passphrase: SecretStr | None = Field(
        None, description="Passphrase of an encrypted `ssl_key`.", examples=["${BEATS_KEY_PASSPHRASE}"]
    )
    ssl_certificate_authorities: list[Path] = Field(
        default_factory=list,
        description="CAs that sign the Beats' client certificates (PEM files).",
        examples=[["/etc/streamstash/beats-ca.crt"]],
    )
    ssl_client_authentication: Literal["none", "optional", "required"] = Field(
        "none",
        description="Ask Beats for a client certificate signed by `ssl_certificate_authorities`: `required` "
        "refuses those without one (mutual TLS), `optional` checks one when given. Logstash's older "
        "`ssl_verify_mode` none/peer/force_peer.",
        examples=["required"],
    )
    ssl_supported_protocols: list[Literal["TLSv1.2", "TLSv1.3"]] = Field(
        ["TLSv1.2", "TLSv1.3"], description="TLS versions accepted.", examples=[["TLSv1.3"]]
    )
    ssl_cipher_suites: list[str] = Field(
        default_factory=list,
        description="TLS 1.2 cipher suites (OpenSSL names); empty: OpenSSL's defaults.",
        examples=[["ECDHE-RSA-AES256-GCM-SHA384"]],
    )
    ssl_handshake_timeout: float = Field(10, gt=0, description="Seconds a TLS handshake may take.", examples=[30])

    @model_validator(mode="before")
    @classmethod
    def _old_names(cls, values: object) -> object:
        if isinstance(values, dict):
            values = dict(values)
            if "ssl" in values:
                values.setdefault("ssl_enabled", values.pop("ssl"))
            mode = values.pop("ssl_verify_mode", None)
            if mode is not None:
                values.setdefault(
                    "ssl_client_authentication",
                    {"none": "none", "peer": "optional", "force_peer": "required"}.get(mode, mode),
                )
        return values

    @field_validator("multiline")
    @classmethod
    def _no_multiline(cls, value: MultilineSettings | None) -> MultilineSettings | None:
        if value is not None:
            raise ValueError("the beats input takes whole events: join lines in the Beat (Filebeat's `multiline`)")
        return value

    @model_validator(mode="after")
    def _tls_is_complete(self) -> BeatsInput:
        if self.ssl_enabled and (self.ssl_certificate is None or self.ssl_key is None):
            raise ValueError("`ssl_enabled` needs `ssl_certificate` and `ssl_key`")
        if self.ssl_client_authentication != "none" and not self.ssl_certificate_authorities:
            raise ValueError("`ssl_client_authentication` needs `ssl_certificate_authorities`")
        if self.ssl_client_authentication != "none" and not self.ssl_enabled:
            raise ValueError("`ssl_client_authentication` needs `ssl_enabled`")
        return self


InputSettings = Annotated[
    FileInput | StdinInput | DockerInput | UdpInput | TcpInput | BeatsInput, Field(discriminator="type")
]


class SpillSettings(StrictModel):
    """Where batches go once the memory buffer is full (Kafka unreachable): segment files replayed in order."""

    enabled: bool = Field(
        True, description="Spill to disk; off: inputs are paused as soon as memory is full.", examples=[True]
    )
    max_bytes: int = Field(
        1024 * ONE_MIB,
        ge=ONE_MIB,
        description="Disk the spill may use; when full, inputs are paused (UDP drops and counts).",
        examples=[10 * 1024 * ONE_MIB],
    )
    segment_bytes: int = Field(
        64 * ONE_MIB,
        ge=64 * 1024,
        description="Size of one segment file; a segment is deleted once all its batches are acknowledged.",
        examples=[16 * ONE_MIB],
    )


class CollectorSettings(StrictModel):
    """How the collector batches lines and where it keeps checkpoints."""

    batch: BatchSettings = Field(default_factory=BatchSettings, description="Micro-batch bounds per source.")
    buffer_max_events: int = Field(
        200_000,
        ge=1000,
        description="Events held in memory while Kafka is unreachable; beyond it batches "
        "spill to disk (`spill`), and once that is full too the inputs are paused.",
        examples=[1000000],
    )
    spill: SpillSettings = Field(
        default_factory=SpillSettings, description="Disk buffer under `<state_dir>/collector/spill`."
    )
    checkpoint_interval_ms: int = Field(
        500,
        ge=0,
        description="Least time between two writes of the checkpoint file while running (it is written "
        "on a Kafka acknowledgement or a monitor tick once this has passed; 0: on every one). Positions "
        "acknowledged after the last write are found again in `logs.raw` record headers after a crash, so a "
        "longer interval costs a longer start-up scan, never a repeated or skipped line; stopping always "
        "writes (and fsyncs) the file.",
        examples=[5000],
    )
    drain_timeout_s: float = Field(
        15.0,
        ge=0,
        description="On stop, how long to wait for Kafka to take what is buffered; the rest is spilled "
        "to disk and sent by the next run.",
        examples=[60],
    )
    compression: Compression | None = Field(
        None,
        description="Compression of the records sent to `logs.raw`; unset: `kafka.compression`.",
        examples=["lz4"],
    )
