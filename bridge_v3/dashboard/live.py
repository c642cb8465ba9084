"""Following the bridge's Redis streams in a thread of its own, with the subscriber library.

The dashboard reads only what comes next (``start="now"``): what happened before is in
PostgreSQL, read when a page loads. Redis outages are the subscriber's to ride out (it
resumes from the same cursors); the service monitor tells the page meanwhile.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from urllib.parse import quote

from bridge_v3.client import BridgeSubscriber, Event
from bridge_v3.config.settings import RedisSettings

logger = logging.getLogger(__name__)

TYPES = ("status", "bar", "account", "position", "order", "deal", "risk", "signal")
RESTART_DELAY = 2.0


def redis_url(settings: RedisSettings) -> str:
    """The subscriber's URL for the bridge's Redis settings (holds the password: never log it)."""
    scheme = "rediss" if settings.ssl else "redis"
    auth = f":{quote(settings.password.reveal(), safe='')}@" if settings.password else ""
    return f"{scheme}://{auth}{settings.host}:{settings.port}/{settings.db}"


class LiveFeed:
    """Hands every new event of ``TYPES`` to ``on_event`` (in the feed's thread) until stopped."""

    def __init__(
        self,
        settings: RedisSettings,
        on_event: Callable[[Event], None],
        *,
        block_ms: int = 500,
    ) -> None:
        self._settings = settings
        self._on_event = on_event
        self._block_ms = block_ms
        self._stop = threading.Event()
        self._subscriber: BridgeSubscriber | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="dashboard-feed", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        subscriber = self._subscriber
        if subscriber is not None:
            subscriber.close()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._follow()
            except Exception:  # the loop's edge: log, wait, follow again from now
                logger.exception("Dashboard: following Redis failed; starting again")
                self._stop.wait(RESTART_DELAY)

    def _follow(self) -> None:
        self._subscriber = BridgeSubscriber(
            redis_url(self._settings),
            self._settings.prefix,
            types=TYPES,
            start="now",
            detect_gaps=False,
            block_ms=self._block_ms,
            retry_delays=(0.2, 2.0),
        )
        if self._stop.is_set():
            self._subscriber.close()
            return
        for event in self._subscriber.events():
            self._handle(event)

    def _handle(self, event: Event) -> None:
        try:
            self._on_event(event)
        except Exception:  # one bad event must not stop the page's live updates
            logger.exception("Dashboard: event %s#%s not handled", event.type, event.seq)
