"""The dashboard's HTTP side (standard library): the page, its files, a snapshot, the stream.

    GET /                    the page
    GET /static/<file>       its script, styles and the vendored chart library
    GET /api/snapshot        every panel as JSON (?account=N&symbol=S&timeframe=TF)
    GET /events              server-sent events (?account=N): what changes, as it changes
    GET /healthz             "ok" (no authentication: for a process supervisor)

With a password set, everything else needs HTTP basic authentication.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from urllib.parse import parse_qs, urlsplit

from bridge_v3.dashboard.hub import CLOSED, Message
from bridge_v3.services.redis_service import dumps

logger = logging.getLogger(__name__)

KEEPALIVE_SECONDS = 15.0
RECONNECT_MS = 2000  # how soon a browser reconnects a dropped stream
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".txt": "text/plain; charset=utf-8",
}


def package_files(folder: str) -> dict[str, bytes]:
    """Every file under ``bridge_v3/dashboard/<folder>`` by its relative path, read once."""
    root = resources.files("bridge_v3.dashboard") / folder
    found: dict[str, bytes] = {}

    def walk(node, prefix: str) -> None:
        for child in node.iterdir():
            if child.is_dir():
                walk(child, f"{prefix}{child.name}/")
            elif not child.name.startswith("."):
                found[prefix + child.name] = child.read_bytes()

    walk(root, "")
    return found


class DashboardServer(ThreadingHTTPServer):
    """Binds at construction (a port in use fails here, with OSError); ``serve_forever`` runs it."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self, address: tuple[str, int], dashboard, *, user: str = "", password: str = ""
    ) -> None:
        self.dashboard = dashboard
        self.credentials = (user, password) if password else None
        self.page = package_files("templates")["index.html"]
        self.static = package_files("static")
        self.stopping = threading.Event()
        super().__init__(address, DashboardHandler)

    @property
    def port(self) -> int:
        return self.server_address[1]

    def stop(self) -> None:
        self.stopping.set()
        self.shutdown()
        self.server_close()


class DashboardHandler(BaseHTTPRequestHandler):
    server: DashboardServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
        url = urlsplit(self.path)
        if url.path == "/healthz":
            return self._send(HTTPStatus.OK, b"ok\n", ".txt")
        if not self._authorised():
            return self._ask_for_credentials()
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        try:
            self._route(url.path, query)
        except ValueError as error:
            self._send(HTTPStatus.BAD_REQUEST, f"{error}\n".encode(), ".txt")

    def _route(self, path: str, query: dict[str, str]) -> None:
        if path in ("/", "/index.html"):
            self._send(HTTPStatus.OK, self.server.page, ".html")
        elif path.startswith("/static/") and path[8:] in self.server.static:
            self._send(HTTPStatus.OK, self.server.static[path[8:]], _suffix(path))
        elif path == "/api/snapshot":
            snapshot = self.server.dashboard.snapshot(
                _account(query), query.get("symbol") or None, query.get("timeframe") or None
            )
            self._send(HTTPStatus.OK, dumps(snapshot).encode(), ".json")
        elif path == "/events":
            self._stream(_account(query))
        else:
            self._send(HTTPStatus.NOT_FOUND, b"not found\n", ".txt")

    # -- server-sent events --------------------------------------------------------------------

    def _stream(self, account: int | None) -> None:
        hub = self.server.dashboard.hub
        client = hub.subscribe(account)
        try:
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("X-Accel-Buffering", "no")  # a reverse proxy must not buffer it
            self.end_headers()
            self._write(f"retry: {RECONNECT_MS}\n\n".encode())
            self._write(_event(Message("hello", self.server.dashboard.hello())))
            self._pump(client)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            pass  # the browser went away; it reconnects by itself if it wants more
        finally:
            hub.unsubscribe(client)
            self.close_connection = True

    def _pump(self, client) -> None:
        while not self.server.stopping.is_set():
            message = client.next(timeout=KEEPALIVE_SECONDS)
            if message is CLOSED:
                return
            self._write(b": keep-alive\n\n" if message is None else _event(message))

    def _write(self, data: bytes) -> None:
        self.wfile.write(data)
        self.wfile.flush()

    # -- plumbing ------------------------------------------------------------------------------

    def _authorised(self) -> bool:
        expected = self.server.credentials
        if expected is None:
            return True
        header = self.headers.get("Authorization", "")
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        same_user = hmac.compare_digest(user.encode(), expected[0].encode())
        return hmac.compare_digest(password.encode(), expected[1].encode()) and same_user

    def _ask_for_credentials(self) -> None:
        self.send_response(HTTPStatus.UNAUTHORIZED)
        self.send_header("WWW-Authenticate", 'Basic realm="bridge_v3 dashboard", charset="UTF-8"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _send(self, status: HTTPStatus, body: bytes, suffix: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", CONTENT_TYPES.get(suffix, "application/json"))
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (the standard library's name)
        logger.debug("%s %s", self.address_string(), format % args)


def _event(message: Message) -> bytes:
    return f"event: {message.kind}\ndata: {dumps(message.data)}\n\n".encode()


def _suffix(path: str) -> str:
    return path[path.rfind(".") :] if "." in path else ""


def _account(query: dict[str, str]) -> int | None:
    raw = query.get("account", "").strip()
    if not raw:
        return None
    if not raw.isdigit():
        raise ValueError(f"account: expected an account login (digits), got {raw[:20]!r}")
    return int(raw)
