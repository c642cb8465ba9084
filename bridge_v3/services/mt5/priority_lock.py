"""A mutex whose waiters are served by priority, then in arrival order.

The terminal can run one call at a time; when trading and a long history pull both wait,
the trade must go first.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


class PriorityLock:
    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._held = False
        self._waiters: list[tuple[int, int]] = []
        self._order = itertools.count()

    @contextmanager
    def hold(self, priority: int, timeout: float | None = None) -> Iterator[None]:
        """Hold the lock; lower ``priority`` values are served first. TimeoutError when
        ``timeout`` seconds pass first (None: wait as long as it takes)."""
        self._acquire(priority, timeout)
        try:
            yield
        finally:
            self._release()

    def _acquire(self, priority: int, timeout: float | None) -> None:
        me = (priority, next(self._order))
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._condition:
            heapq.heappush(self._waiters, me)
            while self._held or self._waiters[0] != me:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    self._give_up(me)
                    raise TimeoutError(f"lock not free within {timeout} s")
                self._condition.wait(remaining)
            heapq.heappop(self._waiters)
            self._held = True

    def _give_up(self, me: tuple[int, int]) -> None:
        self._waiters.remove(me)
        heapq.heapify(self._waiters)
        self._condition.notify_all()  # the next waiter may be first now

    def _release(self) -> None:
        with self._condition:
            self._held = False
            self._condition.notify_all()
