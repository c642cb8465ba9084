"""Each panel's data as one JSON-ready dict, read from PostgreSQL.

A panel that cannot be read says so in place: ``{"ok": False, "error": "..."}`` instead of
its data, and the other panels are unaffected. The page asks for all of them at load and
after an outage; the refresher sends single panels again when events say they changed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from bridge_v3.dashboard import account_queries, market_queries, trading_queries
from bridge_v3.exceptions import StorageError

logger = logging.getLogger(__name__)

PANELS = ("market", "account", "risk", "trading", "quality")


def guarded(name: str, build: Callable[[], dict]) -> dict:
    """``build()`` with ``ok: True``, or ``ok: False`` and why it could not be read."""
    try:
        return {"ok": True, **build()}
    except StorageError as error:
        logger.debug("panel %s not read: %s", name, error)
        return {"ok": False, "error": str(error)}


class Panels:
    def __init__(self, db, *, clock: Callable[[], float] = time.time) -> None:
        self._db = db
        self._clock = clock

    def accounts(self) -> list[int]:
        return account_queries.accounts(self._db)

    def build(self, name: str, account: int, **options) -> dict:
        """One panel (a name from ``PANELS``) for ``account``, guarded."""
        if name not in PANELS:
            raise ValueError(f"panel: expected one of {', '.join(PANELS)}, got {name!r}")
        return guarded(name, lambda: getattr(self, f"_{name}")(account, **options))

    def _market(self, account: int, symbol: str | None = None, timeframe: str | None = None):
        series = market_queries.series(self._db, account)
        chosen = _choose(series, symbol, timeframe)
        if chosen is None:
            return {"series": series, "symbol": None, "timeframe": None, "bars": [], "markers": []}
        symbol, timeframe = chosen
        bars = market_queries.bars(self._db, account, symbol, timeframe)
        times = [bar["time"] for bar in bars]
        found = (
            market_queries.markers(self._db, account, symbol, timeframe, times[0]) if bars else []
        )
        return {
            "series": series,
            "symbol": symbol,
            "timeframe": timeframe,
            "bars": bars,
            "markers": market_queries.on_bars(found, times),
        }

    def _account(self, account: int) -> dict:
        now = self._clock()
        return {
            "today": account_queries.equity_today(self._db, account, now),
            "days": account_queries.equity_days(self._db, account, now),
        }

    def _risk(self, account: int) -> dict:
        return account_queries.risk(self._db, account)

    def _trading(self, account: int) -> dict:
        return {
            "positions": trading_queries.positions(self._db, account),
            "orders": trading_queries.pending_orders(self._db, account),
            "deals": trading_queries.recent_deals(self._db, account),
            "signals": trading_queries.recent_signals(self._db, account),
            "intents": trading_queries.recent_intents(self._db, account),
        }

    def _quality(self, account: int) -> dict:
        return {"series": market_queries.quality(self._db, account, self._clock())}


def _choose(series: list[dict], symbol: str | None, timeframe: str | None):
    """The series asked for if it exists, else the first one (None if there is none)."""
    pairs = [(row["symbol"], row["timeframe"]) for row in series]
    if (symbol, timeframe) in pairs:
        return symbol, timeframe
    return pairs[0] if pairs else None
