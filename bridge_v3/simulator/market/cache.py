"""A bounded, thread-safe least-recently-used cache for generated chunks of prices."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TypeVar

T = TypeVar("T")


class ChunkCache:
    """Keeps at most ``capacity`` chunks; the least recently used one is dropped first.

    Values must be treated as read-only by callers: the same object is handed out again.
    A chunk being built by one thread may be built again by another (both results are
    identical, since chunks are pure functions of their key).
    """

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"cache capacity must be at least 1, got {capacity}")
        self.capacity = capacity
        self._items: OrderedDict[Hashable, object] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, build: Callable[[], T]) -> T:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]  # type: ignore[return-value]
        value = build()
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)
        return value

    def nbytes(self) -> int:
        """Bytes held by the cached arrays (what a memory benchmark charges to the simulator)."""
        with self._lock:
            return sum(getattr(value, "nbytes", 0) for value in self._items.values())

    def __len__(self) -> int:
        return len(self._items)
