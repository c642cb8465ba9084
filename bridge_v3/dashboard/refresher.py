"""Panels read again when events say they changed, at most once per interval each.

A burst of events (a sync that stores forty bars, a flatten that closes ten positions) costs
one read of each panel it touched, and only for accounts a page is showing.
"""

from __future__ import annotations

import logging
import threading

logger = logging.getLogger(__name__)


class PanelRefresher:
    def __init__(self, panels, hub, *, interval: float = 0.5) -> None:
        self._panels = panels
        self._hub = hub
        self._interval = interval
        self._dirty: set[tuple[str, int]] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def mark(self, name: str, account: int | None) -> None:
        if account is None:
            return
        with self._lock:
            self._dirty.add((name, account))

    def flush(self) -> int:
        """Read and send every marked panel that a page shows now; return how many were sent."""
        with self._lock:
            dirty, self._dirty = self._dirty, set()
        watched = self._hub.watched_accounts()
        sent = 0
        for name, account in sorted(dirty):
            if account in watched:
                data = self._panels.build(name, account)
                self._hub.broadcast(
                    "panel", {"name": name, "account": account, "data": data}, account=account
                )
                sent += 1
        return sent

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="dashboard-refresh", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.flush()
            except Exception:  # the loop's edge: the next marks are read again
                logger.exception("Dashboard: refreshing panels failed")
