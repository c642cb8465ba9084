"""Counts and durations of terminal calls, per function (for health and benchmarks)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class CallTotals:
    calls: int = 0
    seconds: float = 0.0


class CallStats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._totals: dict[str, CallTotals] = {}
        self._listeners: list[Callable[[str, float], None]] = []

    def listen(self, listener: Callable[[str, float], None]) -> None:
        """Also tell ``listener(function, seconds)`` of every call (a latency histogram)."""
        self._listeners.append(listener)

    def add(self, function: str, seconds: float) -> None:
        with self._lock:
            totals = self._totals.setdefault(function, CallTotals())
            totals.calls += 1
            totals.seconds += seconds
        for listener in self._listeners:
            listener(function, seconds)

    def snapshot(self) -> dict[str, CallTotals]:
        with self._lock:
            return {name: CallTotals(t.calls, t.seconds) for name, t in self._totals.items()}

    def total_seconds(self) -> float:
        with self._lock:
            return sum(t.seconds for t in self._totals.values())
