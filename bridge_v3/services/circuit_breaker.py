"""A circuit breaker for one outside dependency: stop calling it while it keeps failing.

Closed (normal) until ``threshold`` failures in a row; then open: callers asking
``allow()`` are refused (and counted) for ``cooldown`` seconds, so a dead PostgreSQL or
terminal is not hammered by every job; then half open: one caller is let through as a
probe. A success closes it; a failure opens it again for another cool-down. A probe that
ends without either (a job that did not reach the dependency) leaves it half open, and the
next probe goes after another cool-down. The ``Dependency`` tracker feeds it (every
failure and success it is told of) and shows it on the heartbeat.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Callable

from bridge_v3.exceptions import CircuitOpenError

logger = logging.getLogger(__name__)


class BreakerState(str, enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Thread-safe. ``clock`` gives seconds (the tracker's clock, so tests drive it)."""

    def __init__(
        self, threshold: int = 5, cooldown: float = 30.0, *, clock: Callable[[], float] = time.time
    ) -> None:
        if threshold < 1 or cooldown <= 0:
            raise ValueError(
                f"threshold must be >= 1 and cooldown > 0, got {threshold}, {cooldown}"
            )
        self.threshold = threshold
        self.cooldown = cooldown
        self._clock = clock
        self._lock = threading.Lock()
        self._state = BreakerState.CLOSED
        self._failures = 0  # in a row
        self._next_probe = 0.0
        self._opened = 0  # times it opened since start
        self._held = 0  # calls refused while open

    @property
    def state(self) -> BreakerState:
        return self._state

    def allow(self) -> bool:
        """May the caller call the dependency now? While half open, one caller per cool-down
        is the probe; everyone else is refused (and counted)."""
        with self._lock:
            if self._state is BreakerState.CLOSED:
                return True
            now = self._clock()
            if now >= self._next_probe:
                self._state = BreakerState.HALF_OPEN
                self._next_probe = now + self.cooldown
                return True
            self._held += 1
            return False

    def record_failure(self) -> None:
        with self._lock:
            self._failures += 1
            reopen = self._state is not BreakerState.CLOSED
            if reopen or self._failures >= self.threshold:
                if self._state is BreakerState.CLOSED:
                    self._opened += 1
                self._state = BreakerState.OPEN
                self._next_probe = self._clock() + self.cooldown
        logger.debug("breaker: failure %d in a row, state %s", self._failures, self._state.value)

    def record_success(self) -> None:
        with self._lock:
            self._failures = 0
            self._state = BreakerState.CLOSED

    def snapshot(self) -> dict:
        """For the heartbeat, /ready and the metrics page."""
        with self._lock:
            wait = max(0.0, self._next_probe - self._clock())
            return {
                "state": self._state.value,
                "failures_in_a_row": self._failures,
                "opened": self._opened,
                "held": self._held,
                "probe_in_seconds": round(wait, 1) if self._state is BreakerState.OPEN else None,
            }


def guarded(func: Callable[[], object], dependencies) -> Callable[[], object]:
    """``func`` run only when every dependency's breaker allows it; otherwise
    ``CircuitOpenError`` (the worker counts the run as held) and nothing is called."""

    def run() -> object:
        for dependency in dependencies:
            if not dependency.allows():
                raise CircuitOpenError(f"{dependency.name} breaker open: run held")
        return func()

    return run
