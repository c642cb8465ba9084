"""Retrying as an object: capped, jittered exponential backoff that a stop event interrupts."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from bridge_v3.exceptions import BridgeError, TemporaryError

logger = logging.getLogger(__name__)
T = TypeVar("T")


WAIT_SLICE = 0.5


class RetryAborted(BridgeError):
    """Retrying stopped because shutdown was requested."""


def wait_in_slices(event: threading.Event, seconds: float, piece: float = WAIT_SLICE) -> bool:
    """``event.wait(seconds)`` in pieces of at most ``piece`` seconds; True if it was set.

    On Windows a long wait delays Ctrl+C (and a service stop) until it ends: the signal
    handler runs only between pieces.
    """
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        if event.wait(min(piece, left)):
            return True
    return event.is_set()


@dataclass(frozen=True)
class Backoff:
    """Delay before attempt ``n`` (0-based): ``base * 2**n`` capped at ``cap``, full jitter."""

    base: float = 1.0
    cap: float = 60.0
    jitter: float = 0.5  # share of the delay that is randomised
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def delay(self, attempt: int) -> float:
        raw = min(self.cap, self.base * (2 ** min(attempt, 30)))
        return raw * (1 - self.jitter) + raw * self.jitter * self.rng.random()


@dataclass
class Retry:
    """Calls a function until it succeeds, retrying only on the given exceptions.

    ``attempts=None`` retries until ``stop`` is set. Waiting happens on ``stop``, so a
    shutdown interrupts it at once (then ``RetryAborted`` is raised).
    """

    backoff: Backoff = field(default_factory=Backoff)
    attempts: int | None = 5
    on: tuple[type[BaseException], ...] = (TemporaryError,)
    stop: threading.Event = field(default_factory=threading.Event)

    def call(self, func: Callable[[], T], *, what: str = "operation") -> T:
        attempt = 0
        while True:
            try:
                return func()
            except self.on as error:
                attempt += 1
                if self.attempts is not None and attempt >= self.attempts:
                    raise
                delay = self.backoff.delay(attempt - 1)
                logger.warning("%s failed (%s); retry %d in %.1fs", what, error, attempt, delay)
                if wait_in_slices(self.stop, delay):
                    raise RetryAborted(f"{what}: stopped while waiting to retry") from error
