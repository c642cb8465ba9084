"""Stopping a bridge from outside without a signal: a request file beside the spool.

A scheduled task (the Windows mode that runs in the user's desktop session) cannot be sent
Ctrl+C, and ``Stop-ScheduledTask`` terminates the process outright. ``python -m
bridge_v3.main --stop`` writes the request file instead; the running bridge sees it within
half a second, shuts down in order, and removes the file last, which tells the caller that
it has stopped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

logger = logging.getLogger(__name__)

STOP_SUFFIX = ".stop"
POLL_SECONDS = 0.5


def stop_file_for(spool_path: str) -> Path:
    """The request file of the bridge whose spool is ``spool_path``: the spool's name plus
    ``.stop``, so two bridges with spools in one folder are stopped one at a time."""
    spool = Path(spool_path).resolve()
    return spool.with_name(spool.name + STOP_SUFFIX)


class StopFileWatcher:
    """Sets ``stop`` when the request file appears. A request left over from an earlier
    run is removed at start, so it cannot stop this one."""

    def __init__(self, path: Path, stop: threading.Event, poll: float = POLL_SECONDS) -> None:
        self.path = path
        self._stop = stop
        self._poll = poll
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="stop-file", daemon=True)

    def start(self) -> None:
        if self.path.exists():
            logger.info("Removed an old stop request %s", self.path)
            self.path.unlink(missing_ok=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        self._done.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def acknowledge(self) -> None:
        """Called once the bridge has stopped: removing the file is the answer."""
        self.path.unlink(missing_ok=True)

    def _watch(self) -> None:
        while not self._done.wait(self._poll):
            if self.path.exists():
                logger.info("Stop requested by %s", self.path)
                self._stop.set()
                return


def request_stop(path: Path, wait: float, *, sleep: Callable[[float], None] = time.sleep) -> bool:
    """Ask the bridge to stop and wait up to ``wait`` seconds; True once it has."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"stop requested at {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}\n")
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if not path.exists():
            return True
        sleep(POLL_SECONDS)
    path.unlink(missing_ok=True)  # nobody answered: leave no request for a later start
    return False
