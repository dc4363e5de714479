"""A service's start before it works: the topics must exist, and until they do it answers "not ready".

Waiting for Kafka can last (a broker down, or one refusing a wrong password); meanwhile the service
serves its endpoint from a thread (:class:`InterimHealth`): /healthz 200 (the process is fine, restarting
it would not help), /readyz 503, /metrics. The service's own endpoint (``runtime.http.HealthServer``,
started later on the service's event loop) then takes over the interim's listening socket itself, so the
port stays the same (also when ``http.port`` is 0) and never stops answering: a connection that arrives
during the handover waits in the socket's backlog.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST

from streamstash.config import PipelineConfig
from streamstash.config.common import HttpSettings
from streamstash.kafka.topics import wait_for_topics
from streamstash.runtime.metrics import ServiceMetrics

log = logging.getLogger(__name__)

POLL_S = 0.05  # how soon the interim's thread notices a handover


class InterimHealth:
    """/healthz, /readyz (never ready) and /metrics from a thread, until :func:`take_interim_socket`."""

    def __init__(self, settings: HttpSettings, metrics: ServiceMetrics) -> None:
        self.settings = settings
        self.metrics = metrics
        server_class = type(
            "InterimServer",
            (ThreadingHTTPServer,),
            {"daemon_threads": True, "address_family": socket.AF_INET6 if ":" in settings.host else socket.AF_INET},
        )
        self.server = server_class((settings.host, settings.port), self._handler())
        self.port: int = self.server.server_address[1]
        self._thread = threading.Thread(
            target=self.server.serve_forever, args=(POLL_S,), name="interim-health", daemon=True
        )

    def start(self) -> None:
        self._thread.start()
        log.info("serving metrics and health", extra={"host": self.settings.host, "port": self.port})

    def hand_over(self) -> socket.socket:
        """Stop answering and give up the listening socket (still open) to the next server."""
        self.server.shutdown()
        self._thread.join()
        return self.server.socket

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        service = self.metrics.service
        metrics = self.metrics

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/metrics":
                    self._send(200, metrics.render(), CONTENT_TYPE_LATEST)
                elif self.path == "/healthz":
                    self._send(200, json.dumps({"status": "ok", "service": service}).encode(), "application/json")
                elif self.path == "/readyz":
                    self._send(503, json.dumps({"ready": False, "service": service}).encode(), "application/json")
                else:
                    self._send(404, b"not found", "text/plain")

            def _send(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                return  # no access log, like the service's own endpoint

        return Handler


_interim: InterimHealth | None = None


def take_interim_socket(settings: HttpSettings) -> socket.socket | None:
    """The listening socket of this process's interim endpoint, if it serves what ``settings`` asks for."""
    global _interim  # noqa: PLW0603 - the process's one interim endpoint
    interim = _interim
    if interim is None or interim.settings.host != settings.host or settings.port not in (0, interim.port):
        return None
    _interim = None
    return interim.hand_over()


async def wait_for_kafka(config: PipelineConfig, service: str) -> PipelineConfig:
    """Create the pipeline's topics (waiting while Kafka cannot be used), the interim endpoint serving meanwhile
    and after (until the service's own takes its socket); the settings returned name the port it bound."""
    global _interim  # noqa: PLW0603 - the process's one interim endpoint
    if not config.http.enabled:
        await wait_for_topics(config.kafka)
        return config
    interim = InterimHealth(config.http, ServiceMetrics(service))
    interim.start()
    _interim = interim
    await wait_for_topics(config.kafka)
    if interim.port == config.http.port:
        return config
    return config.model_copy(update={"http": config.http.model_copy(update={"port": interim.port})})
