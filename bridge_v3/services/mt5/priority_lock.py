"""A mutex whose waiters are served by priority, then in arrival order.

The terminal can run one call at a time; when trading and a long history pull both wait,
the trade must go first.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class PriorityLock:
    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._held = False
        self._waiters: list[tuple[int, int]] = []
        self._order = itertools.count()

    @contextmanager
    def hold(self, priority: int) -> Iterator[None]:
        """Hold the lock; lower ``priority`` values are served first."""
        self._acquire(priority)
        try:
            yield
        finally:
            self._release()

    def _acquire(self, priority: int) -> None:
        me = (priority, next(self._order))
        with self._condition:
            heapq.heappush(self._waiters, me)
            while self._held or self._waiters[0] != me:
                self._condition.wait()
            heapq.heappop(self._waiters)
            self._held = True

    def _release(self) -> None:
        with self._condition:
            self._held = False
            self._condition.notify_all()
