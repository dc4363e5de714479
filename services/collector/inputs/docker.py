"""Docker input: follow the logs of selected containers through the Docker Engine API.

Discovery and inspection go through the ``docker`` package (its client is blocking, so each call
runs in a thread); the two long-lived streams -- ``/events`` and each container's ``/logs`` --
are read with aiohttp on the same socket, because the package's log reader drops which stream a
line came from and cannot be cancelled. The events stream is opened before containers are
listed, so a container starting in between is not missed; containers that start later are
picked up from their ``start`` event, and a container that exits is followed until the engine
ends its stream, so its last lines (an unfinished last line too) are read before it is dropped
(should the engine leave the stream open, it is closed ``DIE_GRACE_S`` after the ``die`` event).

Positions (``docker_stream.Position``) are checkpointed per container id when Kafka acknowledged
a line, through :class:`Advance`, so the publisher's record headers and crash recovery carry them
like file offsets. A container whose checkpoint outlives it is drained on start-up (it may have
written its last lines while the collector was down); its checkpoint goes when the container is
removed.
"""

from __future__ import annotations

import asyncio
import fnmatch
import json
import logging
import socket
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import aiohttp
import docker
import docker.errors
import requests

from streamstash import names
from streamstash.config.collector import DockerInput as DockerSettings
from streamstash.events.envelope import Event, Source, format_timestamp
from streamstash.services.collector.checkpoints import CheckpointStore
from streamstash.services.collector.docker_stream import (
    STDERR,
    STDOUT,
    ContainerLog,
    FramingError,
    LogLine,
    Position,
    format_nanos,
)
from streamstash.services.collector.inputs.base import Advance, Emit
from streamstash.services.collector.lines import decode_line
from streamstash.services.collector.multiline import LineSink, line_sink

log = logging.getLogger(__name__)

ENGINE_TIMEOUT_S = 30
MAX_BACKOFF_S = 10.0
_STREAMING = aiohttp.ClientTimeout(total=None, connect=ENGINE_TIMEOUT_S, sock_connect=ENGINE_TIMEOUT_S, sock_read=None)
_EVENTS = ("start", "die", "destroy")
DIE_GRACE_S = 5.0


@dataclass(frozen=True, slots=True)
class ContainerInfo:
    id: str
    name: str
    image: str
    labels: dict[str, str]
    tty: bool
    running: bool

    @classmethod
    def from_inspect(cls, data: dict[str, Any]) -> ContainerInfo:
        config = data.get("Config") or {}
        return cls(
            id=data["Id"],
            name=str(data.get("Name") or "").lstrip("/"),
            image=str(config.get("Image") or ""),
            labels=dict(config.get("Labels") or {}),
            tty=bool(config.get("Tty")),
            running=bool((data.get("State") or {}).get("Running")),
        )


class ContainerSelector:
    """Every label in ``labels``, and -- if any are given -- one of ``names``, ``ids``, ``images``."""

    def __init__(self, settings: DockerSettings) -> None:
        self.settings = settings

    def label_filters(self) -> list[str]:
        return [f"{key}={value}" for key, value in self.settings.labels.items()]

    def matches(self, container: ContainerInfo) -> bool:
        settings = self.settings
        if any(container.labels.get(key) != value for key, value in settings.labels.items()):
            return False
        if not (settings.names or settings.ids or settings.images):
            return True
        untagged = _untagged(container.image)
        return (
            any(fnmatch.fnmatchcase(container.name, pattern) for pattern in settings.names)
            or any(container.id.startswith(prefix) for prefix in settings.ids)
            or any(
                fnmatch.fnmatchcase(container.image, pattern) or fnmatch.fnmatchcase(untagged, pattern)
                for pattern in settings.images
            )
        )


def _untagged(image: str) -> str:
    image = image.split("@", 1)[0]
    slash = image.rfind("/")
    colon = image.rfind(":")
    return image[:colon] if colon > slash else image


def engine_endpoint(docker_url: str) -> tuple[str | None, str]:
    """``(unix socket path or None, URL origin)`` of a ``docker_url``."""
    parsed = urlparse(docker_url)
    if parsed.scheme in ("unix", "http+unix"):
        return parsed.path, "http://docker"
    if parsed.scheme in ("tcp", "http"):
        return None, f"http://{parsed.netloc}"
    raise ValueError(f"docker_url {docker_url!r}: only unix:// and tcp:// (plain HTTP) are supported")


class DockerInput:
    name = names.SOURCE_DOCKER

    def __init__(self, settings: DockerSettings, checkpoints: CheckpointStore) -> None:
        self.settings = settings
        self.checkpoints = checkpoints
        self.selector = ContainerSelector(settings)
        self.host = socket.gethostname()
        self.followers: dict[str, asyncio.Task[None]] = {}
        self.logs: dict[str, ContainerLog] = {}  # positions of this run, by container id
        self._started_again: set[str] = set()  # a start event arrived while the container was followed
        self._last_stream: dict[str, str] = {}  # by source key
        self._client: docker.APIClient | None = None
        self._session: aiohttp.ClientSession | None = None
        self._origin = ""
        self._sink: LineSink | None = None
        self._first_discovery = True
        self._responses: dict[str, aiohttp.ClientResponse] = {}  # open log streams, by container id

    # -- wiring -------------------------------------------------------------------------------

    async def run(self, emit: Emit) -> None:
        socket_path, self._origin = engine_endpoint(self.settings.docker_url)
        self._client = await self._connect()
        # One connection per followed container plus the events stream: no pool limit.
        connector = aiohttp.UnixConnector(path=socket_path, limit=0) if socket_path else aiohttp.TCPConnector(limit=0)
        try:
            async with (
                aiohttp.ClientSession(connector=connector) as session,
                line_sink(self.settings.multiline, emit) as sink,
            ):
                self._session, self._sink = session, sink
                try:
                    await self._watch_forever()
                finally:
                    for task in self.followers.values():
                        task.cancel()
                    await asyncio.gather(*self.followers.values(), return_exceptions=True)
        finally:
            await asyncio.to_thread(self._client.close)

    async def _connect(self) -> docker.APIClient:
        attempt = 0
        while True:
            try:
                client = await asyncio.to_thread(
                    docker.APIClient, base_url=self.settings.docker_url, version="auto", timeout=ENGINE_TIMEOUT_S
                )
                log.info(
                    "connected to the docker engine",
                    extra={"docker_url": self.settings.docker_url, "api_version": client.api_version},
                )
                return client
            except docker.errors.DockerException as exc:
                attempt += 1
                delay = _backoff(attempt)
                log.warning(
                    "docker engine unreachable, retrying",
                    extra={"docker_url": self.settings.docker_url, "error": str(exc), "retry_in_s": delay},
                )
                await asyncio.sleep(delay)

    def _url(self, path: str) -> str:
        assert self._client is not None
        return f"{self._origin}/v{self._client.api_version}{path}"

    # -- discovery ----------------------------------------------------------------------------

    async def _watch_forever(self) -> None:
        attempt = 0
        while True:
            try:
                await self._watch()
                attempt = 0
            except (aiohttp.ClientError, docker.errors.DockerException, requests.RequestException, ValueError) as exc:
                attempt += 1
                log.warning(
                    "docker events stream failed, reconnecting",
                    extra={"docker_url": self.settings.docker_url, "error": repr(exc), "retry_in_s": _backoff(attempt)},
                )
            await asyncio.sleep(_backoff(attempt))

    async def _watch(self) -> None:
        """Subscribe to container events, then list containers, then handle events until the stream ends."""
        assert self._session is not None
        filters = {"type": ["container"], "event": list(_EVENTS)}
        if self.settings.labels:
            filters["label"] = self.selector.label_filters()
        async with self._session.get(
            self._url("/events"), params={"filters": json.dumps(filters)}, timeout=_STREAMING
        ) as response:
            response.raise_for_status()
            await self._discover()
            async for raw in response.content:
                if not raw.strip():
                    continue
                try:
                    event = json.loads(raw)
                except ValueError:
                    log.warning("unreadable docker event", extra={"event": raw[:200].decode(errors="replace")})
                    continue
                await self._on_event(event)

    async def _discover(self) -> None:
        assert self._client is not None
        running = await asyncio.to_thread(
            self._client.containers, filters={"label": self.selector.label_filters()} if self.settings.labels else None
        )
        ids = [container["Id"] for container in running]
        prefix = self._checkpoint_key("")
        remembered = [key[len(prefix) :] for key in list(self.checkpoints.positions) if key.startswith(prefix)]
        at_start = self._first_discovery
        self._first_discovery = False
        for container_id in ids + [known for known in remembered if known not in ids]:
            await self._consider(container_id, at_start=at_start)
        log.info("docker containers discovered", extra={"running": len(ids), "followed": len(self.followers)})

    async def _on_event(self, event: dict[str, Any]) -> None:
        if event.get("Type", "container") != "container":
            return
        action = str(event.get("Action") or event.get("status") or "")
        container_id = str((event.get("Actor") or {}).get("ID") or event.get("id") or "")
        if not container_id:
            return
        if action == "start":
            await self._consider(container_id, at_start=False, started=True)
        elif action == "die" and container_id in self._responses:
            # The engine ends a follow stream once the container stopped and its log was sent; should
            # it not, the stream is closed after a grace period, so the follower finishes anyway.
            response = self._responses[container_id]
            asyncio.get_running_loop().call_later(DIE_GRACE_S, self._close_if_open, container_id, response)
        elif action == "destroy" and container_id not in self.followers:
            self._forget(container_id)

    def _close_if_open(self, container_id: str, response: aiohttp.ClientResponse) -> None:
        if self._responses.get(container_id) is response:
            log.warning(
                "log stream still open after the container died, closing it",
                extra={"container_id": container_id[:12], "grace_s": DIE_GRACE_S},
            )
            response.close()

    async def _consider(self, container_id: str, at_start: bool, started: bool = False) -> None:
        if container_id in self.followers:
            if started:  # it exited and started again before its follower noticed
                self._started_again.add(container_id)
            return
        info = await self._inspect(container_id)
        if info is None:
            self._forget(container_id)
            return
        if not self.selector.matches(info) or container_id in self.followers:
            return
        container_log = self.logs.get(container_id)
        if container_log is None:
            saved = self.checkpoints.get(self._checkpoint_key(container_id))
            position = Position.decode(int(saved["offset"])) if saved else None
            emit_from = (
                time.time_ns()
                if (at_start and position is None and info.running and self.settings.start_position == "end")
                else None
            )
            container_log = ContainerLog(info.tty, self.settings.max_line_bytes, position, emit_from)
            self.logs[container_id] = container_log
        self._started_again.discard(container_id)
        self.followers[container_id] = asyncio.create_task(
            self._follow(info, container_log), name=f"docker:{info.name}"
        )

    async def _inspect(self, container_id: str) -> ContainerInfo | None:
        assert self._client is not None
        try:
            return ContainerInfo.from_inspect(await asyncio.to_thread(self._client.inspect_container, container_id))
        except docker.errors.NotFound:
            return None

    def _forget(self, container_id: str) -> None:
        self.logs.pop(container_id, None)
        self.checkpoints.forget(self._checkpoint_key(container_id))

    # -- following ----------------------------------------------------------------------------

    async def _follow(self, info: ContainerInfo, container_log: ContainerLog) -> None:
        key = self._checkpoint_key(info.id)
        log.info(
            "following container",
            extra={
                "container_id": info.id[:12],
                "container_name": info.name,
                "tty": info.tty,
                "since": container_log.since(),
            },
        )
        attempt = 0
        try:
            while True:
                try:
                    received = await self._read_logs(info, container_log)
                except (aiohttp.ClientError, FramingError, TimeoutError) as exc:
                    received = False
                    log.warning(
                        "container log stream broken",
                        extra={"container_id": info.id[:12], "container_name": info.name, "error": repr(exc)},
                    )
                except Exception:  # a bug must not silently end collection from this container
                    received = False
                    log.exception(
                        "reading a container log stream failed",
                        extra={"container_id": info.id[:12], "container_name": info.name},
                    )
                current = await self._inspect_quietly(info.id)
                if current is None or not current.running:
                    if container_log.unframed_bytes:
                        log.warning(
                            "container log stream ended inside a frame",
                            extra={"container_id": info.id[:12], "bytes": container_log.unframed_bytes},
                        )
                    for line in container_log.finish():
                        await self._emit(info, key, line)
                    assert self._sink is not None
                    await self._sink.flush(key)
                    if current is not None and info.id in self._started_again:
                        self._started_again.discard(info.id)
                        container_log.restart()
                        continue
                    log.info(
                        "stopped following container",
                        extra={
                            "container_id": info.id[:12],
                            "container_name": info.name,
                            "reason": "removed" if current is None else "exited",
                        },
                    )
                    self._last_stream.pop(key, None)
                    if current is None:
                        self._forget(info.id)
                    return
                # Still running: the connection broke. Ask again from the end of the last line handed out.
                container_log.restart()
                attempt = 0 if received else attempt + 1
                await asyncio.sleep(_backoff(attempt) if attempt else 0)
        finally:
            if self.followers.get(info.id) is asyncio.current_task():
                del self.followers[info.id]

    async def _inspect_quietly(self, container_id: str) -> ContainerInfo | None:
        attempt = 0
        while True:
            try:
                return await self._inspect(container_id)
            except (docker.errors.DockerException, requests.RequestException) as exc:
                attempt += 1
                log.warning(
                    "cannot inspect container, retrying",
                    extra={"container_id": container_id[:12], "error": str(exc), "retry_in_s": _backoff(attempt)},
                )
                await asyncio.sleep(_backoff(attempt))

    async def _read_logs(self, info: ContainerInfo, container_log: ContainerLog) -> bool:
        """Read one log response to its end; whether anything arrived."""
        assert self._session is not None
        params = {
            "follow": "1",
            "timestamps": "1",
            "stdout": "1" if STDOUT in self.settings.streams else "0",
            "stderr": "1" if STDERR in self.settings.streams else "0",
        }
        since = container_log.since()
        if since is not None:
            params["since"] = str(since)
        async with self._session.get(
            self._url(f"/containers/{info.id}/logs"), params=params, timeout=_STREAMING
        ) as response:
            if response.status == 404:
                return False
            response.raise_for_status()
            self._responses[info.id] = response
            try:
                return await self._read_lines(info, container_log, response)
            finally:
                if self._responses.get(info.id) is response:
                    del self._responses[info.id]

    async def _read_lines(
        self, info: ContainerInfo, container_log: ContainerLog, response: aiohttp.ClientResponse
    ) -> bool:
        key = self._checkpoint_key(info.id)
        received = False
        async for chunk in response.content.iter_any():
            received = True
            for line in container_log.feed(chunk):
                await self._emit(info, key, line)
            if container_log.engine_errors:
                log.warning(
                    "docker engine reported an error in a log stream",
                    extra={"container_id": info.id[:12], "errors": container_log.engine_errors[:5]},
                )
                container_log.engine_errors.clear()
        if container_log.skipped_missing:
            log.warning(
                "fewer published lines found than checkpointed; the engine rotated them away?",
                extra={"container_id": info.id[:12], "missing": container_log.skipped_missing},
            )
            container_log.skipped_missing = 0
        return received

    async def _emit(self, info: ContainerInfo, key: str, line: LogLine) -> None:
        assert self._sink is not None
        decoded = decode_line(line.raw, self.settings.max_line_bytes)
        tags = decoded.tags
        if line.truncated and names.TAG_TRUNCATED not in tags:
            tags.append(names.TAG_TRUNCATED)
        if line.ts_ns is None:
            tags.append(names.TAG_TIMESTAMP_FAILURE)
            timestamp = format_timestamp(time.time())
        else:
            timestamp = format_nanos(line.ts_ns)
        event = Event(
            message=decoded.message,
            timestamp=timestamp,
            source=Source(
                kind=names.SOURCE_DOCKER,
                host=self.host,
                container_id=info.id,
                container_name=info.name,
                image=info.image,
                labels=info.labels or None,
                stream=line.stream,
            ),
            tags=tags,
            fields=dict(self.settings.add_fields),
            raw_b64=decoded.raw_b64,
        )
        if self._last_stream.get(key, line.stream) != line.stream:
            await self._sink.flush(key)  # a multiline event never mixes stdout and stderr
        self._last_stream[key] = line.stream
        await self._sink.emit(key, event, Advance(self.checkpoints, key, info.name, line.start, line.end))

    @staticmethod
    def _checkpoint_key(container_id: str) -> str:
        return f"{names.SOURCE_DOCKER}:{container_id}"


def _backoff(attempt: int) -> float:
    return round(min(MAX_BACKOFF_S, 0.25 * 2 ** max(attempt - 1, 0)), 2) if attempt else 0.25
