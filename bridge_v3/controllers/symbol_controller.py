"""Symbol specifications: from ``symbol_info`` to the ``symbols`` table and a cache.

Every configured symbol at start and then daily, and every symbol that appears in a
position or an order when it first does. The risk gate reads volume limits from the
cache; ``category`` sorts a symbol into forex, crypto or other for the position limits.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable

from bridge_v3.exceptions import DependencyError, TerminalDisconnectedError, TerminalError
from bridge_v3.services.database_service import DatabaseService
from bridge_v3.services.mt5.mt5_service import MT5Service

logger = logging.getLogger(__name__)

# symbols table column -> SymbolInfo field
_FIELDS = {
    "description": "description",
    "path": "path",
    "digits": "digits",
    "point": "point",
    "contract_size": "trade_contract_size",
    "tick_size": "trade_tick_size",
    "tick_value": "trade_tick_value",
    "currency_base": "currency_base",
    "currency_profit": "currency_profit",
    "currency_margin": "currency_margin",
    "volume_min": "volume_min",
    "volume_max": "volume_max",
    "volume_step": "volume_step",
    "volume_limit": "volume_limit",
    "trade_mode": "trade_mode",
    "trade_exemode": "trade_exemode",
    "filling_mode": "filling_mode",
}
COLUMNS = ("account", "symbol", *_FIELDS)


class SymbolController:
    def __init__(
        self,
        mt5: MT5Service,
        database: DatabaseService,
        account: int,
        *,
        configured: Iterable[str],
        forex: Iterable[str] = (),
        crypto: Iterable[str] = (),
    ) -> None:
        self._mt5 = mt5
        self._database = database
        self._account = account
        self.configured = tuple(dict.fromkeys(configured))
        self._forex, self._crypto = frozenset(forex), frozenset(crypto)
        self._specs: dict[str, dict] = {}
        self._lock = threading.Lock()

    def refresh(self, symbols: Iterable[str] | None = None) -> int:
        """Read and store the given symbols (default: the configured ones and every one
        seen since start); returns how many were stored. A symbol the terminal refuses is
        logged and skipped; a lost terminal raises."""
        with self._lock:
            known = list(self._specs)
        wanted = list(dict.fromkeys([*self.configured, *known] if symbols is None else symbols))
        specs = [spec for spec in map(self._read, wanted) if spec is not None]
        if specs:
            rows = [
                (self._account, spec["name"], *(spec[f] for f in _FIELDS.values()))
                for spec in specs
            ]
            self._database.upsert("symbols", COLUMNS, rows, key=("account", "symbol"))
        with self._lock:
            self._specs.update({spec["name"]: spec for spec in specs})
        return len(specs)

    def ensure(self, symbols: Iterable[str]) -> int:
        """Read and store the symbols not seen yet (e.g. one a position was opened on)."""
        with self._lock:
            missing = [s for s in dict.fromkeys(symbols) if s not in self._specs]
        return self.refresh(missing) if missing else 0

    def spec(self, symbol: str) -> dict | None:
        """The symbol's ``SymbolInfo`` fields (cached; read from the terminal when new)."""
        with self._lock:
            spec = self._specs.get(symbol)
        if spec is None and self.ensure([symbol]):
            with self._lock:
                spec = self._specs.get(symbol)
        return spec

    def category(self, symbol: str) -> str:
        """``forex``, ``crypto`` or ``other``: the configured lists first, then the terminal's
        path for the symbol (``Forex\\...``, ``Crypto\\...``)."""
        if symbol in self._crypto:
            return "crypto"
        if symbol in self._forex:
            return "forex"
        with self._lock:
            path = str((self._specs.get(symbol) or {}).get("path", "")).lower()
        for category in ("crypto", "forex"):
            if path.startswith(category):
                return category
        return "other"

    def _read(self, symbol: str) -> dict | None:
        try:
            return self._mt5.symbol_info(symbol)
        except TerminalDisconnectedError:
            raise
        except (TerminalError, DependencyError) as error:
            logger.warning("Symbol %s: no specification from the terminal (%s)", symbol, error)
            return None


def categorised(categories: Callable[[str], str], symbols: Iterable[str]) -> dict[str, int]:
    """How many of ``symbols`` fall in each category."""
    counts: dict[str, int] = {}
    for symbol in symbols:
        category = categories(symbol)
        counts[category] = counts.get(category, 0) + 1
    return counts
