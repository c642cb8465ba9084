"""Faults the simulated terminal can be told to show, deterministic for a seed.

A ``FaultPlan`` is configuration (frozen); a ``FaultInjector`` applies it at the module
face, before a call reaches the market or the broker, and owns the random streams. Each
kind of fault draws from its own stream, so switching one fault on does not move the
pattern of another, and the same seed with the same sequence of calls gives the same
faults.

What each fault looks like from the caller's side (as with a real terminal):
- ``ipc_timeout_rate``: that share of calls returns its failure value with
  (-10005, 'IPC timeout');
- ``disconnected_from``..``disconnected_until`` (simulated UTC): the terminal process is
  gone. The first call fails with (-10001, 'IPC send failed'), every later one with
  (-10004, 'No IPC connection'), and ``initialize()`` fails with (-10005, 'IPC timeout')
  until the window is over; after it the caller must ``initialize()`` again. With
  ``initialize_blocks`` that initialize() first waits as the real one does (below);
- ``starting_seconds``: the terminal is still starting for that long (simulated seconds)
  after the plan is applied (when the terminal is built). Like a real terminal that is launching, hung or not
  reachable, ``initialize(timeout=ms)`` then blocks (default 60000 ms; the real module
  holds the GIL meanwhile): it waits until the terminal is ready if that comes within the
  timeout and then attaches, else it waits the whole timeout and fails with (-10005,
  'IPC timeout'). The wait is spent through the injected ``sleep`` (real seconds; the
  simulated clock runs ``speed`` times faster), so a test passes a sleep that records
  or advances its own clock;
- ``offline_from``..``offline_until``: the terminal runs but has lost its trade server:
  ``terminal_info().connected`` is False and trade requests answer retcode 10031;
- ``latency_seconds`` (+ up to ``latency_jitter``): extra time per call, spent through
  the injected ``sleep`` so tests pass a recorder and never wait;
- ``initialize_fails``: the first N ``initialize()`` calls fail with ``initialize_error``;
- ``requote_rate``: that share of market deals is answered 10004 'Requote' with fresh
  bid/ask;
- ``autotrading_off``: the terminal's Algo Trading button is off: ``trade_allowed`` False
  and ``order_send`` answers 10027;
- ``tradeapi_disabled``: 'Disable automatic trading via external Python API' is ticked:
  ``order_send`` returns None with (-8, ...);
- ``missing_symbols``: names the terminal does not know (as a broker without them).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bridge_v3.simulator.contract.errors import (
    RES_E_INTERNAL_FAIL_SEND,
    RES_E_INTERNAL_FAIL_TIMEOUT,
    CallFailed,
)


@dataclass(frozen=True)
class FaultPlan:
    """Which faults to show. All off by default; times are simulated UTC unix seconds."""

    seed: int = 0
    ipc_timeout_rate: float = 0.0
    disconnected_from: float | None = None
    disconnected_until: float | None = None
    offline_from: float | None = None
    offline_until: float | None = None
    latency_seconds: float = 0.0
    latency_jitter: float = 0.0
    initialize_fails: int = 0
    initialize_error: tuple[int, str] = RES_E_INTERNAL_FAIL_TIMEOUT
    initialize_blocks: bool = False
    starting_seconds: float = 0.0
    requote_rate: float = 0.0
    autotrading_off: bool = False
    tradeapi_disabled: bool = False
    missing_symbols: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        object.__setattr__(self, "missing_symbols", frozenset(self.missing_symbols))
        for name in ("ipc_timeout_rate", "requote_rate"):
            rate = getattr(self, name)
            if not (isinstance(rate, (int, float)) and 0.0 <= rate <= 1.0):
                raise ValueError(f"FaultPlan.{name} must be a share between 0 and 1, got {rate!r}")
        for name in ("latency_seconds", "latency_jitter", "starting_seconds"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ValueError(f"FaultPlan.{name} must be >= 0 seconds, got {value!r}")
        if self.initialize_fails < 0:
            raise ValueError("FaultPlan.initialize_fails must be >= 0")


def _inside(now: float, start: float | None, end: float | None) -> bool:
    if start is None and end is None:
        return False
    return (start is None or now >= start) and (end is None or now < end)


class FaultInjector:
    """Applies one ``FaultPlan``; ``now`` is the simulated clock, ``sleep`` the waiting."""

    def __init__(
        self,
        plan: FaultPlan | None,
        now: Callable[[], float],
        sleep: Callable[[float], None] = time.sleep,
        speed: float = 1.0,
    ) -> None:
        self.plan = plan or FaultPlan()
        self._now = now
        self._sleep = sleep
        self._speed = speed
        self._ready_at = now() + self.plan.starting_seconds
        seed = self.plan.seed
        self._ipc = random.Random(f"{seed}:ipc")
        self._latency = random.Random(f"{seed}:latency")
        self._requotes = random.Random(f"{seed}:requote")
        self._initialize_failures_left = self.plan.initialize_fails

    def terminal_gone(self) -> bool:
        """True inside the disconnect window: the terminal process is not there."""
        return _inside(self._now(), self.plan.disconnected_from, self.plan.disconnected_until)

    def server_offline(self) -> bool:
        """True while the terminal has no link to the trade server."""
        return _inside(self._now(), self.plan.offline_from, self.plan.offline_until)

    def on_initialize(self, timeout_ms: int = 60000) -> None:
        """Raise CallFailed when this initialize() must fail (planned failures, a terminal
        that is gone or still starting), after waiting as the real one would."""
        if self._initialize_failures_left > 0:
            self._initialize_failures_left -= 1
            raise CallFailed(self.plan.initialize_error, result=False)
        unreachable = self._unreachable_for()
        if unreachable <= 0.0:
            return
        blocks = self.plan.initialize_blocks or self._now() < self._ready_at
        if not blocks:
            raise CallFailed(RES_E_INTERNAL_FAIL_TIMEOUT, result=False)
        self._block(unreachable / self._speed, max(timeout_ms, 0) / 1000.0)

    def _unreachable_for(self) -> float:
        """Simulated seconds until initialize() can attach (inf: no end in sight)."""
        now = self._now()
        waits = [self._ready_at - now]
        if self.terminal_gone():
            until = self.plan.disconnected_until
            waits.append(math.inf if until is None else until - now)
        return max(waits)

    def _block(self, needed: float, timeout: float) -> None:
        """Wait ``needed`` real seconds if within ``timeout``, else the timeout and fail."""
        if needed <= timeout:
            self._sleep(needed)
            return
        self._sleep(timeout)
        raise CallFailed(RES_E_INTERNAL_FAIL_TIMEOUT, result=False)

    def on_call(self) -> None:
        """Every call that crosses the (simulated) pipe: latency, loss of the pipe, timeouts."""
        self._wait()
        if self.terminal_gone():
            raise CallFailed(RES_E_INTERNAL_FAIL_SEND)
        rate = self.plan.ipc_timeout_rate
        if rate > 0.0 and self._ipc.random() < rate:
            raise CallFailed(RES_E_INTERNAL_FAIL_TIMEOUT)

    def requote(self) -> bool:
        """Draw whether this market deal is answered with a requote."""
        rate = self.plan.requote_rate
        return rate > 0.0 and self._requotes.random() < rate

    def hides(self, symbol: str) -> bool:
        """True when ``symbol`` must look unknown to the caller."""
        return symbol in self.plan.missing_symbols

    def _wait(self) -> None:
        delay = self.plan.latency_seconds
        if self.plan.latency_jitter > 0.0:
            delay += self._latency.uniform(0.0, self.plan.latency_jitter)
        if delay > 0.0:
            self._sleep(delay)
