"""The per-service HTTP endpoint: /metrics (Prometheus), /healthz (alive) and /readyz (ready to work)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from streamstash.config.common import HttpSettings
from streamstash.runtime.metrics import ServiceMetrics

log = logging.getLogger(__name__)


class HealthServer:
    def __init__(self, settings: HttpSettings, metrics: ServiceMetrics, ready: Callable[[], bool]) -> None:
        self.settings = settings
        self.metrics = metrics
        self.ready = ready
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    async def start(self) -> None:
        if not self.settings.enabled:
            return
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        from streamstash.runtime.startup import take_interim_socket  # the endpoint served while Kafka was awaited

        interim = take_interim_socket(self.settings)
        site: web.BaseSite = (
            web.SockSite(self._runner, interim)
            if interim is not None
            else web.TCPSite(self._runner, self.settings.host, self.settings.port)
        )
        await site.start()
        server = site._server  # noqa: SLF001 - aiohttp exposes no getter for the bound port
        sockets = server.sockets if isinstance(server, asyncio.Server) else []
        self.port = sockets[0].getsockname()[1] if sockets else self.settings.port
        if interim is not None:  # the same port was announced when the interim endpoint began
            log.debug("health endpoint taken over from the start-up one", extra={"port": self.port})
            return
        log.info("serving metrics and health", extra={"host": self.settings.host, "port": self.port})

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _metrics(self, _request: web.Request) -> web.Response:
        response = web.Response(body=self.metrics.render())
        response.content_type = CONTENT_TYPE_LATEST.split(";")[0]
        return response

    async def _healthz(self, _request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "service": self.metrics.service})

    async def _readyz(self, _request: web.Request) -> web.Response:
        ready = self.ready()
        return web.json_response({"ready": ready, "service": self.metrics.service}, status=200 if ready else 503)
