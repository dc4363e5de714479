"""An HTTP proxy in front of Elasticsearch that can refuse `_bulk` with 429 for a window (fault tests)."""

from __future__ import annotations

import asyncio
import threading
import time

import aiohttp
from aiohttp import web

_HOP_HEADERS = {"host", "content-length", "transfer-encoding", "connection", "content-encoding"}


class RefusingProxy:
    """Forwards everything to ``upstream``; while refusing, answers every `_bulk` with 429 and counts it.
    Runs its own event loop in a thread so synchronous tests can drive it."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.refused = 0
        self.forwarded_bulks = 0
        self._refuse_until = 0.0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def refuse_bulk_for(self, seconds: float) -> None:
        self._refuse_until = time.monotonic() + seconds

    @property
    def refusing(self) -> bool:
        return time.monotonic() < self._refuse_until

    def __enter__(self) -> RefusingProxy:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._start())
        self._ready.set()
        self._loop.run_forever()

    async def _start(self) -> None:
        self._session = aiohttp.ClientSession(auto_decompress=False)
        app = web.Application(client_max_size=1 << 30)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def _stop(self) -> None:
        await self._runner.cleanup()
        await self._session.close()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        if request.path.endswith("/_bulk"):
            if self.refusing:
                self.refused += 1
                return web.json_response(
                    {
                        "error": {"type": "es_rejected_execution_exception", "reason": "fault test: rejected"},
                        "status": 429,
                    },
                    status=429,
                )
            self.forwarded_bulks += 1
        headers = {k: v for k, v in request.headers.items() if k.lower() not in {"host", "content-length"}}
        async with self._session.request(
            request.method, self.upstream + request.path_qs, data=body, headers=headers
        ) as upstream:
            payload = await upstream.read()
            out = {k: v for k, v in upstream.headers.items() if k.lower() not in _HOP_HEADERS}
            if "content-encoding" in {k.lower() for k in upstream.headers}:
                out["Content-Encoding"] = upstream.headers["Content-Encoding"]
            return web.Response(status=upstream.status, body=payload, headers=out)
