"""A test double of the Docker Engine API, served by aiohttp over a unix socket.

No Docker engine runs where these tests run (no daemon, no privileges to start one), so this
double stands in for it. It speaks real HTTP on a unix socket, the way ``/var/run/docker.sock``
does, and answers what the collector's Docker input and the ``docker`` package ask for:
``/_ping``, ``/version``, ``/containers/json`` (``all``, ``filters``: label, status, id, name),
``/containers/{id}/json``, ``/containers/{id}/logs`` (``follow``, ``stdout``, ``stderr``,
``timestamps``, ``since``, ``tail``) and ``/events`` (``filters``: type, event, label), each also
under an API version prefix (``/v1.45/...``).

Logs behave like the engine's json-file driver: every write becomes messages, one per line, and a
line longer than ``partial_bytes`` becomes several "partial" messages (only the last one has the
newline), each stamped with its own RFC 3339 nanosecond timestamp. A container without a TTY is
answered with the multiplexed stream (8-byte frame headers, one frame per message), a TTY
container with the raw stream and ``\\r\\n`` line ends. Responses are written in pieces of
varying size, so frames and lines arrive cut at arbitrary points. A follow stream ends once the
container stopped and its messages were sent.

``handed_over`` tells a test when every message of a container has left the engine *and* the
client has read every byte of it from the socket, so a test can stop or kill the client at a
point it chose (lines taken from the engine, not yet published) instead of at a random one.

The engine runs on its own thread and event loop; tests drive it with plain blocking calls.
"""

from __future__ import annotations

import asyncio
import fcntl
import itertools
import json
import secrets
import struct
import termios
import threading
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web

T = TypeVar("T")

API_VERSION = "1.45"
STDOUT, STDERR = 1, 2
_STREAM_CODES = {"stdout": STDOUT, "stderr": STDERR}
_FRAME = struct.Struct(">BxxxI")
# Sizes the responses are cut into, so headers, payloads and lines straddle HTTP chunks.
_PIECE_SIZES = (1, 5, 8, 3, 13, 300, 7, 4096, 2, 9, 65536)


def rfc3339_nano(ts_ns: int) -> str:
    seconds, nanos = divmod(ts_ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{nanos:09d}Z"


@dataclass
class Message:
    stream: int
    ts_ns: int
    content: bytes  # with its newline, unless a partial message or an unfinished last line


@dataclass
class FakeContainer:
    id: str
    name: str
    image: str
    labels: dict[str, str]
    tty: bool
    running: bool = False
    messages: list[Message] = field(default_factory=list)
    log_streams: int = 0  # follow requests being answered right now
    changed: asyncio.Condition | None = None

    def summary(self) -> dict[str, Any]:
        return {
            "Id": self.id,
            "Names": [f"/{self.name}"],
            "Image": self.image,
            "ImageID": "sha256:" + "0" * 64,
            "Command": "/bin/app",
            "Created": 1714557600,
            "Labels": self.labels,
            "State": "running" if self.running else "exited",
            "Status": "Up 1 second" if self.running else "Exited (0) 1 second ago",
        }

    def inspect(self) -> dict[str, Any]:
        return {
            "Id": self.id,
            "Name": f"/{self.name}",
            "Created": "2024-05-01T10:00:00.000000000Z",
            "Image": "sha256:" + "0" * 64,
            "State": {
                "Status": "running" if self.running else "exited",
                "Running": self.running,
                "Paused": False,
                "Restarting": False,
                "Pid": 4242 if self.running else 0,
                "ExitCode": 0,
            },
            "Config": {
                "Hostname": self.id[:12],
                "Image": self.image,
                "Labels": self.labels,
                "Tty": self.tty,
                "AttachStdout": True,
                "AttachStderr": True,
            },
        }


@dataclass(eq=False)
class _FollowStream:
    container: FakeContainer
    request: web.Request
    sent: int = 0  # messages of container.messages before this index were written to the client

    def connected(self) -> bool:
        transport = self.request.transport
        return transport is not None and not transport.is_closing()

    def unread_bytes(self) -> int:
        """Bytes written to the client it has not read yet: still in our buffer, or in its socket."""
        transport = self.request.transport
        if transport is None:
            return 0
        # On a unix stream socket, data the peer has not consumed stays charged to the sender's
        # send queue, so TIOCOUTQ (SIOCOUTQ) is zero exactly when the client read everything.
        queued = fcntl.ioctl(transport.get_extra_info("socket").fileno(), termios.TIOCOUTQ, b"\0\0\0\0")
        return transport.get_write_buffer_size() + struct.unpack("i", queued)[0]


class FakeDockerEngine:
    def __init__(self, socket_path: Path, partial_bytes: int = 16 * 1024, api_version: str = API_VERSION) -> None:
        self.socket_path = socket_path
        self.partial_bytes = partial_bytes
        self.api_version = api_version
        self.containers: dict[str, FakeContainer] = {}
        self.requests: list[str] = []  # "GET /v1.45/containers/<id>/logs?..." as received
        self._subscribers: list[tuple[asyncio.Queue[dict[str, Any] | None], dict[str, list[str]]]] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fake-docker", daemon=True)
        self._runner: web.AppRunner | None = None
        self._pieces = itertools.cycle(_PIECE_SIZES)
        self._generation = 0  # bumped by interrupt_streams()
        self._follows: list[_FollowStream] = []
        # The engine ends follow streams of a container that stopped; False plays one that does not.
        self.end_streams_on_exit = True

    # -- lifecycle ----------------------------------------------------------------------------

    def __enter__(self) -> FakeDockerEngine:
        self._thread.start()
        self._call(self._serve())
        return self

    def __exit__(self, *_exc: object) -> None:
        self._call(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    async def _serve(self) -> None:
        app = web.Application()
        routes = [
            ("/_ping", self._ping),
            ("/version", self._version),
            ("/containers/json", self._list),
            ("/containers/{id}/json", self._inspect),
            ("/containers/{id}/logs", self._logs),
            ("/events", self._events),
        ]
        for path, handler in routes:
            app.router.add_get(path, handler)
            app.router.add_get("/v{version:[0-9.]+}" + path, handler)
        app.middlewares.append(self._record)
        self._runner = web.AppRunner(app, shutdown_timeout=1)
        await self._runner.setup()
        await web.UnixSite(self._runner, str(self.socket_path)).start()

    async def _shutdown(self) -> None:
        for queue, _filters in self._subscribers:
            queue.put_nowait(None)
        for container in self.containers.values():
            container.running = False
            await self._notify(container)
        if self._runner is not None:
            await self._runner.cleanup()

    def _call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(30)

    # -- what a test does (blocking, from any thread) -----------------------------------------

    def create(
        self,
        name: str,
        labels: dict[str, str] | None = None,
        image: str = "example/app:1.0",
        tty: bool = False,
        start: bool = True,
    ) -> str:
        container = FakeContainer(secrets.token_hex(32), name, image, dict(labels or {}), tty)
        self._call(self._add(container))
        if start:
            self.start(container.id)
        return container.id

    def start(self, container_id: str) -> None:
        self._call(self._set_running(container_id, True))

    def stop(self, container_id: str) -> None:
        self._call(self._set_running(container_id, False))

    def remove(self, container_id: str) -> None:
        self._call(self._remove(container_id))

    def write(self, container_id: str, data: str | bytes, stream: str = "stdout", ts_ns: int | None = None) -> None:
        """What the container prints; ``ts_ns`` stamps every message of it alike (else: now, per message)."""
        raw = data.encode() if isinstance(data, str) else data
        self._call(self._write(container_id, raw, _STREAM_CODES[stream], ts_ns))

    def interrupt_streams(self) -> None:
        """End every open log and events stream, as an engine restart does; containers keep running."""
        self._call(self._interrupt())

    def log_streams(self, container_id: str) -> int:
        return self.containers[container_id].log_streams

    def handed_over(self, container_id: str) -> bool:
        """Whether a client follows the container and has read every message of it off the socket."""
        return self._call(self._handed_over(container_id))

    def log_requests(self, container_id: str) -> list[str]:
        return [line for line in list(self.requests) if f"/containers/{container_id}/logs" in line]

    # -- state changes (on the engine's loop) -------------------------------------------------

    async def _add(self, container: FakeContainer) -> None:
        container.changed = asyncio.Condition()
        self.containers[container.id] = container
        self._publish(container, "create")

    async def _set_running(self, container_id: str, running: bool) -> None:
        container = self.containers[container_id]
        if container.running == running:
            return
        container.running = running
        self._publish(container, "start" if running else "die")
        await self._notify(container)

    async def _remove(self, container_id: str) -> None:
        container = self.containers.pop(container_id)
        container.running = False
        await self._notify(container)
        self._publish(container, "destroy")

    async def _write(self, container_id: str, raw: bytes, stream: int, ts_ns: int | None) -> None:
        container = self.containers[container_id]
        assert container.running, f"{container.name} is not running"
        if container.tty:
            stream = STDOUT  # a TTY has one stream, and turns \n into \r\n
            raw = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        pieces = [line + b"\n" for line in raw.split(b"\n")]
        pieces[-1] = pieces[-1][:-1]  # what follows the last newline: an unfinished line, maybe empty
        for piece in pieces:
            body = piece
            while body:
                limit = self.partial_bytes
                part, body = body[:limit], body[limit:]
                if body == b"\n" or body == b"\r\n":
                    part, body = part + body, b""
                container.messages.append(Message(stream, ts_ns if ts_ns is not None else time.time_ns(), part))
        await self._notify(container)

    async def _handed_over(self, container_id: str) -> bool:
        container = self.containers[container_id]
        # A stream whose client went away (killed) is ignored; such a handler only notices at its next write.
        streams = [stream for stream in self._follows if stream.container is container and stream.connected()]
        return bool(streams) and all(
            stream.sent == len(container.messages) and stream.unread_bytes() == 0 for stream in streams
        )

    async def _interrupt(self) -> None:
        self._generation += 1
        for queue, _filters in self._subscribers:
            queue.put_nowait(None)
        for container in self.containers.values():
            await self._notify(container)

    async def _notify(self, container: FakeContainer) -> None:
        assert container.changed is not None
        async with container.changed:
            container.changed.notify_all()

    def _publish(self, container: FakeContainer, action: str) -> None:
        now = time.time_ns()
        event = {
            "status": action,
            "id": container.id,
            "from": container.image,
            "Type": "container",
            "Action": action,
            "Actor": {
                "ID": container.id,
                "Attributes": {"name": container.name, "image": container.image, **container.labels},
            },
            "scope": "local",
            "time": now // 1_000_000_000,
            "timeNano": now,
        }
        for queue, filters in self._subscribers:
            if _event_matches(event, container, filters):
                queue.put_nowait(event)

    # -- the API --------------------------------------------------------------------------------

    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.requests.append(f"{request.method} {request.path_qs}")
        return await handler(request)

    async def _ping(self, _request: web.Request) -> web.Response:
        return web.Response(text="OK", headers={"Api-Version": self.api_version, "Ostype": "linux"})

    async def _version(self, _request: web.Request) -> web.Response:
        return web.json_response(
            {
                "Version": "26.1.0-fake",
                "ApiVersion": self.api_version,
                "MinAPIVersion": "1.24",
                "Os": "linux",
                "Arch": "amd64",
                "KernelVersion": "6.1.0",
                "GoVersion": "go1.22",
            }
        )

    async def _list(self, request: web.Request) -> web.Response:
        filters = _filters(request)
        include_stopped = request.query.get("all") in ("1", "true", "True")
        found = []
        for container in self.containers.values():
            statuses = filters.get("status")
            if statuses is not None:
                if ("running" if container.running else "exited") not in statuses:
                    continue
            elif not include_stopped and not container.running:
                continue
            if not _labels_match(container.labels, filters.get("label", [])):
                continue
            if "id" in filters and not any(container.id.startswith(prefix) for prefix in filters["id"]):
                continue
            if "name" in filters and not any(name in container.name for name in filters["name"]):
                continue
            found.append(container.summary())
        return web.json_response(found)

    def _find(self, reference: str) -> FakeContainer:
        for container in self.containers.values():
            if container.id == reference or container.name == reference.lstrip("/"):
                return container
        matches = [c for c in self.containers.values() if c.id.startswith(reference)]
        if len(matches) == 1:
            return matches[0]
        raise web.HTTPNotFound(
            text=json.dumps({"message": f"No such container: {reference}"}), content_type="application/json"
        )

    async def _inspect(self, request: web.Request) -> web.Response:
        return web.json_response(self._find(request.match_info["id"]).inspect())

    async def _logs(self, request: web.Request) -> web.StreamResponse:
        container = self._find(request.match_info["id"])
        query = request.query
        follow, timestamps = _flag(query, "follow"), _flag(query, "timestamps")
        wanted = {code for name, code in _STREAM_CODES.items() if _flag(query, name)}
        if not wanted:
            raise web.HTTPBadRequest(
                text=json.dumps({"message": "you must choose at least one stream"}), content_type="application/json"
            )
        since = _since_ns(query.get("since"))
        index = _tail_start(container, query.get("tail", "all"))
        content_type = (
            "application/vnd.docker.raw-stream" if container.tty else "application/vnd.docker.multiplexed-stream"
        )
        response = web.StreamResponse(headers={"Content-Type": content_type, "Api-Version": self.api_version})
        response.enable_chunked_encoding()
        await response.prepare(request)
        assert container.changed is not None
        container.log_streams += 1
        stream = _FollowStream(container, request)
        if follow:
            self._follows.append(stream)
        generation = self._generation
        try:
            while generation == self._generation:
                out = bytearray()
                for message in container.messages[index:]:
                    if message.stream in wanted and message.ts_ns >= since:
                        payload = (rfc3339_nano(message.ts_ns).encode() + b" " if timestamps else b"") + message.content
                        out += payload if container.tty else _FRAME.pack(message.stream, len(payload)) + payload
                index = len(container.messages)
                await self._send_in_pieces(response, bytes(out))
                stream.sent = index
                if not follow or (not container.running and self.end_streams_on_exit):
                    break
                async with container.changed:
                    await container.changed.wait_for(
                        lambda index=index: (
                            len(container.messages) > index
                            or generation != self._generation
                            or (not container.running and self.end_streams_on_exit)
                        )
                    )
            await response.write_eof()
        except ConnectionResetError:
            pass  # the client went away (the collector stopped, or gave up on this stream)
        finally:
            container.log_streams -= 1
            if stream in self._follows:
                self._follows.remove(stream)
        return response

    async def _send_in_pieces(self, response: web.StreamResponse, data: bytes) -> None:
        position = 0
        while position < len(data):
            size = next(self._pieces)
            await response.write(data[position : position + size])
            position += size

    async def _events(self, request: web.Request) -> web.StreamResponse:
        filters = _filters(request)
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        subscriber = (queue, filters)
        self._subscribers.append(subscriber)
        try:
            while (event := await queue.get()) is not None:
                await response.write(json.dumps(event).encode() + b"\n")
            await response.write_eof()
        except ConnectionResetError:
            pass
        finally:
            self._subscribers.remove(subscriber)
        return response


def _flag(query: Any, name: str) -> bool:
    return query.get(name, "0") in ("1", "true", "True")


def _filters(request: web.Request) -> dict[str, list[str]]:
    raw = json.loads(request.query.get("filters") or "{}")
    # The API accepts {"label": ["a=b"]} and the older {"label": {"a=b": true}}.
    return {
        key: list(value) if isinstance(value, list) else [k for k, v in value.items() if v]
        for key, value in raw.items()
    }


def _labels_match(labels: dict[str, str], wanted: list[str]) -> bool:
    for condition in wanted:
        key, has_value, value = condition.partition("=")
        if key not in labels or (has_value and labels[key] != value):
            return False
    return True


def _event_matches(event: dict[str, Any], container: FakeContainer, filters: dict[str, list[str]]) -> bool:
    if "type" in filters and event["Type"] not in filters["type"]:
        return False
    if "event" in filters and event["Action"] not in filters["event"]:
        return False
    return _labels_match(container.labels, filters.get("label", []))


def _since_ns(value: str | None) -> int:
    """``since`` as the engine reads it: ``<seconds>`` or ``<seconds>.<nanoseconds>`` (or empty)."""
    if not value or value == "0":
        return 0
    seconds, _, fraction = value.partition(".")
    return int(seconds) * 1_000_000_000 + (int(fraction.ljust(9, "0")[:9]) if fraction else 0)


def _tail_start(container: FakeContainer, tail: str) -> int:
    if tail in ("all", ""):
        return 0
    return max(0, len(container.messages) - int(tail))
