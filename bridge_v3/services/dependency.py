"""The up/down state of one outside dependency (PostgreSQL, Redis, the terminal, the spool).

An outage is told to the operator exactly twice: one WARNING when the dependency is lost
(naming it, its address and what the bridge does meanwhile) and one INFO when it answers
again (how long it was away, how many attempts failed, what was caught up). Every failure
in between is only counted; the counters go on the heartbeat. Whoever sees a failure calls
``failed``; whoever sees real work succeed calls ``succeeded``. Both feed the dependency's
``CircuitBreaker``: ``allows()`` says whether a job that needs it may call it now.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone

from bridge_v3.services.circuit_breaker import CircuitBreaker

logger = logging.getLogger(__name__)


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, tz=timezone.utc).isoformat(timespec="seconds")[:-6] + "Z"


def duration(seconds: float) -> str:
    """``3 s``, ``2 min 5 s``, ``1 h 4 min``: short and exact enough for a log line."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s" if seconds else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


class Dependency:
    """``Dependency("PostgreSQL", "127.0.0.1:5432", meanwhile="bars wait in the terminal")``.

    Starts up. Thread-safe; ``failed`` and ``succeeded`` are cheap when nothing changes.
    """

    def __init__(
        self,
        name: str,
        address: str,
        *,
        meanwhile: str = "",
        clock: Callable[[], float] = time.time,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self.name = name
        self.breaker = breaker or CircuitBreaker(clock=clock)
        self.address = address
        self._meanwhile = meanwhile
        self._clock = clock
        self._lock = threading.Lock()
        self._up = True
        self._since = clock()
        self._failures = 0  # failed attempts since start-up
        self._consecutive = 0  # failed attempts since the last success
        self._outages = 0
        self._last_error = ""

    def __repr__(self) -> str:
        return f"Dependency({self.name} at {self.address}, {'up' if self._up else 'down'})"

    @property
    def up(self) -> bool:
        return self._up

    @property
    def down_since(self) -> float:
        """When it was lost (the tracker's clock); meaningful only while down."""
        return self._since

    @property
    def consecutive_failures(self) -> int:
        return self._consecutive

    def allows(self) -> bool:
        """False while the breaker is open: do not call the dependency now."""
        return self.breaker.allow()

    def failed(self, error: object) -> bool:
        """Count a failed attempt; the first after being up logs the loss. True if it did."""
        self.breaker.record_failure()
        with self._lock:
            self._failures += 1
            self._consecutive += 1
            self._last_error = str(error)
            if not self._up:
                return False
            self._up, self._since = False, self._clock()
            self._outages += 1
        meanwhile = f"; {self._meanwhile}" if self._meanwhile else ""
        logger.warning("%s at %s is unreachable (%s)%s", self.name, self.address, error, meanwhile)
        return True

    def succeeded(self, caught_up: str | Callable[[], str] = "") -> bool:
        """Note that work went through; the first success after a loss logs the recovery
        with ``caught_up`` (text, or a function giving it, called only then). True if it did."""
        self.breaker.record_success()
        with self._lock:
            if self._up:
                self._consecutive = 0
                return False
            failures, away = self._consecutive, self._clock() - self._since
            self._up, self._since, self._consecutive = True, self._clock(), 0
        detail = caught_up() if callable(caught_up) else caught_up
        logger.info(
            "%s at %s answers again after %s (%d failed attempt%s)%s",
            self.name,
            self.address,
            duration(away),
            failures,
            "" if failures == 1 else "s",
            f"; caught up: {detail}" if detail else "",
        )
        return True

    def snapshot(self) -> dict:
        """The heartbeat's view: state, since when, and the counters."""
        with self._lock:
            return {
                "state": "up" if self._up else "down",
                "since": _iso(self._since),
                "failures": self._failures,
                "outages": self._outages,
                "last_error": self._last_error or None,
                "breaker": self.breaker.snapshot(),
            }
