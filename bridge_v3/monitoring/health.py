"""Liveness (``/health``) and readiness (``/ready``) of a running bridge.

Alive: the scheduler's thread made a pass lately and the worker's threads run, not all of
them stuck past their timeout; during start-up (connecting, retrying) the process is alive
too, and after a stop was asked it is not. Ready: the terminal, PostgreSQL and Redis answer
(none with its breaker open; PostgreSQL and Redis asked now, at most once a second), the
start-up reconciliation is done and the broker clock is trusted. Each answer names every
part and says which is not.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

SCHEDULER_MAX_AGE = 15.0  # seconds without a scheduler pass before the bridge is not alive
READY_CACHE = 1.0  # seconds a readiness answer is reused (a monitor may poll hard)


@dataclass(frozen=True)
class Verdict:
    ok: bool
    parts: dict[str, dict]

    def body(self) -> dict:
        failing = [name for name, part in self.parts.items() if not part["ok"]]
        return {"ok": self.ok, "failing": failing, "parts": self.parts}


def _part(ok: bool, detail: str) -> dict:
    return {"ok": bool(ok), "detail": detail}


class HealthChecks:
    """``bridge`` is read at each question (duck-typed: ``Bridge``)."""

    def __init__(self, bridge, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._bridge = bridge
        self._clock = clock
        self._lock = threading.Lock()
        self._ready: tuple[float, Verdict] | None = None

    def liveness(self) -> Verdict:
        bridge = self._bridge
        if bridge.stop_event.is_set():
            return Verdict(False, {"bridge": _part(False, "stopping")})
        if not bridge.running:
            return Verdict(
                True, {"bridge": _part(True, "starting: connecting to its dependencies")}
            )
        scheduler = bridge.scheduler.alive(SCHEDULER_MAX_AGE)
        worker = bridge.worker.health()
        parts = {
            "scheduler": _part(
                scheduler,
                "passes every 0.5 s"
                if scheduler
                else f"no pass for over {SCHEDULER_MAX_AGE:g} s, or its thread ended",
            ),
            "worker": _part(
                worker["alive"],
                f"{worker['threads']} of {worker['of']} threads "
                f"running, {worker['stuck']} held by a task past its timeout",
            ),
        }
        return Verdict(all(p["ok"] for p in parts.values()), parts)

    def readiness(self) -> Verdict:
        with self._lock:
            now = self._clock()
            if self._ready is None or now - self._ready[0] >= READY_CACHE:
                self._ready = (now, self._judge())
            return self._ready[1]

    def _judge(self) -> Verdict:
        bridge = self._bridge
        if bridge.trades is None:
            return Verdict(False, {"bridge": _part(False, "starting: not connected yet")})
        dependencies = bridge.dependencies()
        parts = {
            "terminal": self._answers(dependencies["terminal"], lambda: bridge.mt5.connected),
            "postgres": self._answers(dependencies["postgres"], bridge.database.health),
            "redis": self._answers(dependencies["redis"], bridge.redis.health),
            "reconciliation": _part(
                bridge.trades.reconciled, bridge.trades.status()["reason"] or "done"
            ),
            "clock": self._clock_part(bridge.mt5.clock_watch.status()),
        }
        return Verdict(all(p["ok"] for p in parts.values()), parts)

    @staticmethod
    def _answers(dependency, probe: Callable[[], bool]) -> dict:
        breaker = dependency.breaker.snapshot()
        if breaker["state"] == "open":
            return _part(
                False,
                f"{dependency.name} at {dependency.address}: breaker open "
                f"(next probe in {breaker['probe_in_seconds']:g} s)",
            )
        if not probe():
            return _part(False, f"{dependency.name} at {dependency.address} does not answer")
        return _part(True, f"{dependency.name} at {dependency.address} answers")

    @staticmethod
    def _clock_part(clock: dict) -> dict:
        if clock.get("trusted"):
            return _part(True, f"broker clock {clock.get('zone')} trusted")
        return _part(False, f"broker clock not trusted: {clock.get('problem') or 'not known yet'}")
