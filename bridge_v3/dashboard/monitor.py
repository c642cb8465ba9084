"""Is PostgreSQL there, is Redis there: probed every second, changes told at once.

The page shows both in its header, and each panel that could not be read says so in place.
When a service comes back the dashboard asks every page to reload its panels, so the page
recovers by itself.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

logger = logging.getLogger(__name__)


class ServiceMonitor:
    def __init__(
        self,
        probes: dict[str, Callable[[], object]],
        on_change: Callable[[str, dict], None],
        *,
        interval: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``probes`` raise when their service does not answer; ``on_change(name, state)``
        is called when a service's answer changes (the first probe counts as a change)."""
        self._probes = probes
        self._on_change = on_change
        self._interval = interval
        self._clock = clock
        self._states: dict[str, dict] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def status(self) -> dict[str, dict]:
        """``{name: {"ok": bool|None, "error": str|None, "since": unix seconds}}``."""
        with self._lock:
            known = dict(self._states)
        return {
            name: known.get(name, {"ok": None, "error": None, "since": None})
            for name in self._probes
        }

    def check_once(self) -> None:
        for name, probe in self._probes.items():
            self._record(name, *self._probe(probe))

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="dashboard-monitor", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.check_once()
            self._stop.wait(self._interval)

    @staticmethod
    def _probe(probe: Callable[[], object]) -> tuple[bool, str | None]:
        try:
            probe()
        except Exception as error:  # any failure means "not answering"; the text says why
            return False, str(error).strip().splitlines()[0] if str(error).strip() else type(
                error
            ).__name__
        return True, None

    def _record(self, name: str, ok: bool, error: str | None) -> None:
        with self._lock:
            before = self._states.get(name)
            if before is not None and before["ok"] == ok:
                return
            state = {"ok": ok, "error": error, "since": self._clock()}
            self._states[name] = state
        if ok:
            logger.info("Dashboard: %s answers", name)
        else:
            logger.warning("Dashboard: %s does not answer (%s)", name, error)
        self._on_change(name, state)
