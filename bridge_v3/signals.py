"""Stop signals: the first asks for an ordered shutdown, a second one forces exit."""

from __future__ import annotations

import logging
import os
import signal
import threading

logger = logging.getLogger(__name__)

FORCED_EXIT_CODE = 1


def stop_signals() -> list[signal.Signals]:
    """SIGINT, SIGTERM and, on Windows, SIGBREAK (Ctrl+Break and service stop)."""
    names = ("SIGINT", "SIGTERM", "SIGBREAK")
    return [getattr(signal, name) for name in names if hasattr(signal, name)]


def install_stop_handlers(stop: threading.Event) -> None:
    """Must be called from the main thread."""

    def handle(signum: int, _frame: object) -> None:
        # Set the event before logging: a second signal can interrupt this handler.
        second = stop.is_set()
        stop.set()
        if second:
            logger.error("Second stop signal (%s): forcing exit", signal.Signals(signum).name)
            os._exit(FORCED_EXIT_CODE)
        logger.info("Stop signal %s received", signal.Signals(signum).name)

    for sig in stop_signals():
        signal.signal(sig, handle)
