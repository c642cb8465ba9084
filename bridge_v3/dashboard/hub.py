"""The fan-out to browsers: one bounded queue per open event stream.

A browser that cannot keep up is dropped rather than allowed to hold memory: its stream
ends, the browser reconnects by itself and reloads the panels, so it loses nothing it shows.
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)

CLOSED = object()  # put in a client's queue when its stream must end


@dataclass(frozen=True)
class Message:
    """One server-sent event: its ``kind`` (the SSE event name) and JSON-ready ``data``."""

    kind: str
    data: dict


@dataclass(eq=False)
class Client:
    """One open event stream; ``account`` is the account its page shows (None: any)."""

    account: int | None
    queue: queue.Queue = field(default_factory=lambda: queue.Queue(maxsize=Hub.QUEUE_SIZE))

    def next(self, timeout: float) -> Message | object | None:
        """The next message, ``CLOSED`` when the stream must end, None after ``timeout``."""
        try:
            return self.queue.get(timeout=timeout)
        except queue.Empty:
            return None


class Hub:
    QUEUE_SIZE = 2000

    def __init__(self) -> None:
        self._clients: set[Client] = set()
        self._lock = threading.Lock()

    def subscribe(self, account: int | None) -> Client:
        client = Client(account)
        with self._lock:
            self._clients.add(client)
        return client

    def unsubscribe(self, client: Client) -> None:
        with self._lock:
            self._clients.discard(client)

    @property
    def clients(self) -> int:
        with self._lock:
            return len(self._clients)

    def watched_accounts(self) -> set[int]:
        with self._lock:
            return {c.account for c in self._clients if c.account is not None}

    def broadcast(self, kind: str, data: dict, *, account: int | None = None) -> None:
        """Send to every stream, or only to those showing ``account`` when given."""
        message = Message(kind, data)
        with self._lock:
            clients = [c for c in self._clients if account is None or c.account in (None, account)]
        for client in clients:
            try:
                client.queue.put_nowait(message)
            except queue.Full:
                logger.warning("Dashboard: a browser fell behind; its stream is restarted")
                self._drop(client)

    def close(self) -> None:
        """End every stream (at shutdown)."""
        with self._lock:
            clients, self._clients = list(self._clients), set()
        for client in clients:
            _put_closed(client)

    def _drop(self, client: Client) -> None:
        self.unsubscribe(client)
        _put_closed(client)


def _put_closed(client: Client) -> None:
    try:
        client.queue.put_nowait(CLOSED)
    except queue.Full:  # make room: the stream ends, what it had not sent is reloaded
        while True:
            try:
                client.queue.get_nowait()
            except queue.Empty:
                break
        client.queue.put_nowait(CLOSED)
