"""The HTTP endpoint: ``/health``, ``/ready`` and ``/metrics`` on ``METRICS_HOST:METRICS_PORT``.

The standard library's threading server, in a thread of its own: a slow client or a slow
readiness probe never holds up the bridge. It binds at start, before anything is
connected, so a port in use is a configuration error (exit 2) rather than a surprise
later. ``/health`` and ``/ready`` answer 200 or 503 with a JSON body naming each part;
``/metrics`` is Prometheus text. Nothing is written; request lines go to DEBUG.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST

from bridge_v3.exceptions import ConfigError
from bridge_v3.monitoring.health import Verdict

logger = logging.getLogger(__name__)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # On Windows SO_REUSEADDR lets a second program take a port in use; elsewhere it only
    # lets a restart bind over connections still in TIME_WAIT.
    allow_reuse_address = os.name != "nt"
    routes: dict[str, Callable[[], tuple[int, str, bytes]]] = {}


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:  # noqa: N802 - the standard library's name
        route = self.server.routes.get(self.path.split("?", 1)[0])
        if route is None:
            self._answer(
                404, "text/plain; charset=utf-8", b"not found: /health, /ready, /metrics\n"
            )
            return
        try:
            self._answer(*route())
        except Exception:  # the edge of a request: one failing page never stops the server
            logger.exception("Endpoint %s failed", self.path)
            self._answer(500, "text/plain; charset=utf-8", b"internal error\n")

    def _answer(self, status: int, kind: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the standard name
        logger.debug("endpoint: " + format, *args)


def verdict_page(verdict: Verdict) -> tuple[int, str, bytes]:
    body = json.dumps(verdict.body(), indent=1).encode() + b"\n"
    return (200 if verdict.ok else 503), "application/json", body


class Endpoint:
    def __init__(
        self,
        host: str,
        port: int,
        *,
        health: Callable[[], Verdict],
        ready: Callable[[], Verdict],
        metrics: Callable[[], bytes],
    ) -> None:
        self._address = (host, port)
        self._routes = {
            "/health": lambda: verdict_page(health()),
            "/ready": lambda: verdict_page(ready()),
            "/metrics": lambda: (200, CONTENT_TYPE_LATEST, metrics()),
        }
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port bound (the one asked for, or the one the system chose for port 0)."""
        return self._server.server_address[1] if self._server else self._address[1]

    def open(self) -> None:
        """Bind and serve. A port in use (or any bind failure): ``ConfigError`` naming
        METRICS_PORT, so the start stops with exit 2."""
        host, port = self._address
        try:
            server = _Server((host, port), _Handler)
        except OSError as error:
            problem = f"cannot listen on {host}:{port} ({error.strerror or error}); pick a free port or 0 for none"
            raise ConfigError("METRICS_PORT", problem, "9465") from None
        server.routes = self._routes
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.5}, name="endpoint", daemon=True
        )
        self._thread.start()
        if not _loopback(host):
            logger.warning(
                "Health and metrics endpoint listens beyond loopback on %s:%d: anyone who reaches it sees the figures",
                host,
                self.port,
            )
        logger.info(
            "Health and metrics endpoint on http://%s:%d (/health, /ready, /metrics)",
            host,
            self.port,
        )

    def close(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
