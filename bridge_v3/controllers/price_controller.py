"""Bars: every closed bar of every configured series stored once, in UTC, and published.

For each (symbol, timeframe) a watermark in PostgreSQL remembers the last stored closed
bar. A sync fetches from a little before the watermark (so a broker correction of the
newest bars is seen) up to now, validates, upserts, moves the watermark, then publishes
the new bars. A gap after downtime or a reconnection is therefore filled by the next sync,
within what the terminal holds. The watermark only moves after the rows are stored, so a
PostgreSQL outage loses nothing: the next sync fetches the same bars again.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from bridge_v3.config.constants import Priority, Timeframe
from bridge_v3.controllers.bar_messages import bar_messages, forming_bar_message
from bridge_v3.controllers.bar_validation import validate_bars
from bridge_v3.services.bar_store import BarStore
from bridge_v3.services.mt5.mt5_service import MT5Service
from bridge_v3.services.publisher import Publisher

logger = logging.getLogger(__name__)

DAY = 86400


@dataclass(frozen=True)
class SyncResult:
    fetched: int = 0
    stored: int = 0  # rows inserted or changed
    new: int = 0  # bars past the old watermark
    corrected: int = 0
    quarantined: int = 0


def closed_mask(rates: np.ndarray, timeframe: Timeframe, now: float) -> np.ndarray:
    """True for bars whose period has ended by ``now`` (UTC seconds)."""
    if timeframe.seconds:
        return rates["time"] + timeframe.seconds <= now
    opens = rates["time"].astype("datetime64[s]")
    next_month = (opens.astype("datetime64[M]") + 1).astype("datetime64[s]")
    return next_month.astype(np.int64) <= now


class PriceController:
    def __init__(
        self,
        mt5: MT5Service,
        store: BarStore,
        publisher: Publisher,
        series: Iterable[tuple[str, Timeframe]],
        *,
        clock: Callable[[], float],
        initial_history_days: int,
        last_ttl: int,
        overlap_bars: int = 2,
    ) -> None:
        self._mt5 = mt5
        self._store = store
        self._publisher = publisher
        self.series = list(series)
        self._clock = clock
        self._initial_history = initial_history_days * DAY
        self._last_ttl = last_ttl
        self._overlap = overlap_bars
        self._watermarks: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()
        self._logged_rejections: set[tuple[str, str, str]] = set()
        self.totals: Counter[str] = Counter()

    def load_watermarks(self) -> None:
        with self._lock:
            self._watermarks = self._store.watermarks()

    def watermark(self, symbol: str, timeframe: Timeframe) -> int | None:
        with self._lock:
            return self._watermarks.get((symbol, timeframe.name))

    def sync(self, symbol: str, timeframe: Timeframe) -> SyncResult:
        """Fetch, validate, store and publish what is new for one series."""
        now = self._clock()
        last = self.watermark(symbol, timeframe)
        start = self._fetch_start(last, timeframe, now)
        rates = self._mt5.rates_range(symbol, timeframe.mt5, start, now)
        closed = closed_mask(rates, timeframe, now)
        result = self._store_closed(symbol, timeframe, rates[closed], last, now, publish=True)
        forming = rates[~closed]
        if len(forming):
            message = forming_bar_message(symbol, timeframe.name, forming[-1])
            self._publisher.set_last_many(
                [(f"bar:{symbol}:{timeframe.name}", message)], ttl=self._last_ttl
            )
        return result

    def backfill(
        self,
        symbol: str,
        timeframe: Timeframe,
        days: float,
        *,
        chunk_days: float = 30,
        progress: Callable[[str, Timeframe, SyncResult], None] | None = None,
    ) -> SyncResult:
        """Load ``days`` of history in chunks, oldest first; stores without publishing."""
        now = self._clock()
        total = SyncResult()
        start = now - days * DAY
        while start < now:
            end = min(now, start + chunk_days * DAY)
            rates = self._mt5.rates_range(symbol, timeframe.mt5, start, end, priority=Priority.LOW)
            rates = rates[(rates["time"] >= start) & closed_mask(rates, timeframe, now)]
            last = self.watermark(symbol, timeframe)
            result = self._store_closed(symbol, timeframe, rates, last, now, publish=False)
            total = _add(total, result)
            if progress:
                progress(symbol, timeframe, total)
            start = end + 1
        return total

    def _fetch_start(self, last: int | None, timeframe: Timeframe, now: float) -> float:
        if last is None:
            return now - self._initial_history
        step = timeframe.seconds or 31 * DAY
        return last - self._overlap * step

    def _store_closed(
        self,
        symbol: str,
        timeframe: Timeframe,
        closed: np.ndarray,
        last: int | None,
        now: float,
        *,
        publish: bool,
    ) -> SyncResult:
        server_times = self._mt5.server_time.to_server_array(closed["time"].astype(np.int64))
        validation = validate_bars(closed, timeframe, now, last, server_times=server_times)
        self._quarantine(symbol, timeframe, validation.rejected)
        good = validation.good
        stored = self._store.save(symbol, timeframe.name, good)
        fresh = good[good["time"] > last] if last is not None else good
        if len(fresh):
            newest = int(fresh["time"][-1])
            self._store.advance_watermark(symbol, timeframe.name, newest)
            with self._lock:
                self._watermarks[(symbol, timeframe.name)] = newest
        corrected = max(0, stored - len(fresh))
        if corrected:
            logger.warning(
                "%s %s: broker corrected %d stored bar(s); updated", symbol, timeframe, corrected
            )
        if publish and len(fresh):
            self._publisher.publish_many(
                bar_messages(self._publisher, symbol, timeframe.name, fresh)
            )
        result = SyncResult(len(closed), stored, len(fresh), corrected, len(validation.rejected))
        self._count(result)
        return result

    def _quarantine(self, symbol: str, timeframe: Timeframe, rejected: list) -> None:
        if not rejected:
            return
        self._store.quarantine(
            symbol, timeframe.name, [(r.time, r.reason, r.payload()) for r in rejected]
        )
        for rejection in rejected:
            kind = (symbol, timeframe.name, rejection.reason)
            if kind not in self._logged_rejections:
                self._logged_rejections.add(kind)
                logger.warning(
                    "%s %s: bar quarantined (%s) at %s; further ones of this kind are counted only",
                    symbol,
                    timeframe,
                    rejection.reason,
                    rejection.time,
                )

    def _count(self, result: SyncResult) -> None:
        with self._lock:
            self.totals.update(
                fetched=result.fetched,
                stored=result.stored,
                new=result.new,
                corrected=result.corrected,
                quarantined=result.quarantined,
            )


def _add(a: SyncResult, b: SyncResult) -> SyncResult:
    return SyncResult(
        a.fetched + b.fetched,
        a.stored + b.stored,
        a.new + b.new,
        a.corrected + b.corrected,
        a.quarantined + b.quarantined,
    )
