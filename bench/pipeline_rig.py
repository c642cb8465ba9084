"""The bridge as the daemon builds it, on a simulated terminal whose clock the benchmark drives.

The simulated broker's catalogue is widened with a second, suffixed copy of every symbol
(``EURUSD`` and ``EURUSD.b``, as brokers offering two account types do), so forty
distinct series exist; prices of the copies are generated independently.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from bridge_v3.config.constants import Backend, Timeframe
from bridge_v3.config.settings import (
    MarketSettings,
    MT5Settings,
    PostgresSettings,
    RedisSettings,
    Settings,
    SimulatorSettings,
)
from bridge_v3.controllers.price_controller import SyncResult
from bridge_v3.daemon import Bridge
from bridge_v3.services.mt5.backends import TerminalBackend
from bridge_v3.services.mt5.clients import ModuleClient
from bridge_v3.simulator.broker.broker import PaperBroker
from bridge_v3.simulator.clock import BrokerTime, ManualClock
from bridge_v3.simulator.market.market import Market
from bridge_v3.simulator.market.symbols import SymbolSpec, default_catalogue
from bridge_v3.simulator.terminal import SimulatedTerminal

ZONE = "Europe/Athens"
SEED = 11
SECOND_SUFFIX = ".b"


def wide_catalogue() -> list[SymbolSpec]:
    """Every default symbol, then each again with a broker suffix."""
    return default_catalogue() + default_catalogue(SECOND_SUFFIX)


def symbol_names(count: int) -> list[str]:
    names = [spec.name for spec in wide_catalogue()]
    if count > len(names):
        raise SystemExit(f"the simulated broker offers {len(names)} symbols, not {count}")
    return names[:count]


def wide_market(clock: ManualClock) -> Market:
    return Market(clock, BrokerTime(ZONE), seed=SEED, symbols=wide_catalogue())


def wide_simulator_backend(clock: ManualClock, market: Market | None = None) -> TerminalBackend:
    """An in-process simulated terminal over the wide catalogue (or ``market``), on ``clock``."""
    market = wide_market(clock) if market is None else market
    broker = PaperBroker(market, login=10000001, balance=10000.0, server="BridgeSim-Bench")
    terminal = SimulatedTerminal(market, broker, password="sim")
    return TerminalBackend(
        Backend.SIMULATOR,
        f"SIMULATED terminal (benchmark, seed {SEED}, broker zone {ZONE})",
        lambda: ModuleClient(terminal, "simulator"),
        clock=clock.now,
    )


def bench_settings(
    postgres: PostgresSettings,
    redis: RedisSettings,
    spool: str,
    symbols: Sequence[str],
    timeframes: Sequence[Timeframe],
) -> Settings:
    return Settings(
        mt5=MT5Settings(backend=Backend.SIMULATOR, server_timezone=ZONE),
        simulator=SimulatorSettings(seed=SEED, server_timezone=ZONE),
        postgres=postgres,
        redis=redis,
        market=MarketSettings(
            forex_pairs=tuple(symbols),
            forex_timeframes=tuple(timeframes),
            crypto_enabled=False,
            initial_history_days=1,
        ),
        bridge_id="bench",
        spool_path=spool,
    )


@contextmanager
def running_bridge(settings: Settings, clock: ManualClock) -> Iterator[Bridge]:
    """A connected Bridge with its worker pool running (no scheduler: the benchmark drives)."""
    bridge = Bridge(settings, threading.Event(), wide_simulator_backend(clock))
    try:
        bridge.connect()
        bridge.worker.start()
        yield bridge
    finally:
        bridge.shutdown(drain_seconds=30.0)


@dataclass
class CycleLatch:
    """Sees the end of a price cycle the worker runs, as the daemon's "prices" job does.

    Installed over ``bridge.prices.sync_all``, so the task is exactly the daemon's, only
    observed.
    """

    bridge: Bridge

    def __post_init__(self) -> None:
        self._sync = self.bridge.prices.sync_all
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._left = 0
        self.results: list[SyncResult] = []
        self.bridge.prices.sync_all = self._observed

    def _observed(self) -> SyncResult:
        result = SyncResult()
        try:
            result = self._sync()
            return result
        finally:
            with self._lock:
                self.results.append(result)
                self._left -= 1
                if self._left == 0:
                    self._done.set()

    def run_cycle(self, timeout: float = 120.0) -> list[SyncResult]:
        """Submit the cycle to the worker pool, as the scheduler does, and wait for it."""
        with self._lock:
            self._left = 1
            self.results = []
            self._done.clear()
        self.bridge.worker.submit("prices", self.bridge.prices.sync_all)
        if not self._done.wait(timeout):
            raise SystemExit(f"price cycle not finished within {timeout:g} s")
        return self.results
