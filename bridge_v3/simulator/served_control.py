"""The simulator's own controls on its RPyC server, beside (never inside) ``MetaTrader5``.

The real module cannot move the market, and the served ``MetaTrader5`` must stay exactly
the real module's face. Controls for chaos tests and demos therefore live in a module of
their own, ``bridge_v3_simulator_control``, which an RPyC classic client reaches as
``conn.modules["bridge_v3_simulator_control"]``. Its functions take the terminal's lock, so
they never run in the middle of a terminal call, and return plain values only.
"""

from __future__ import annotations

import threading
import types
from typing import Any

MODULE_NAME = "bridge_v3_simulator_control"


class ControlModule(types.ModuleType):
    """``shock(symbol, percent) -> (server ms from which, price factor)``;
    ``calls() -> {function: times called}`` on the served terminal."""

    def __init__(self, simulation: Any, lock: threading.RLock) -> None:
        super().__init__(MODULE_NAME, "Controls of the simulated terminal (bridge_v3).")
        self._simulation = simulation
        self._lock = lock

    def shock(self, symbol: str, percent: float) -> tuple[int, float]:
        """Shift ``symbol``'s prices by ``percent`` from now on (a gap, as on a news spike).

        Raises MarketError (unknown symbol) or ValueError (percent outside -99..1000).
        """
        symbol, percent = str(symbol), float(percent)  # plain values, not RPyC references
        with self._lock:
            start = self._simulation.market.shock(symbol, percent)
        return int(start), 1.0 + percent / 100.0

    def calls(self) -> dict[str, int]:
        """How many times each ``MetaTrader5`` function was called on this terminal."""
        with self._lock:
            return {str(name): int(count) for name, count in self._simulation.calls().items()}


def install(simulation: Any, lock: threading.RLock, modules: dict[str, Any]) -> ControlModule:
    """Put the control module into ``modules`` (normally ``sys.modules``) and return it."""
    module = ControlModule(simulation, lock)
    modules[MODULE_NAME] = module
    return module
