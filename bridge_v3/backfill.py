"""``--backfill DAYS``: load history for the configured series, with progress, then exit."""

from __future__ import annotations

import logging
import time

from bridge_v3.config.constants import TIMEFRAMES, Timeframe
from bridge_v3.controllers.price_controller import SyncResult
from bridge_v3.daemon import Bridge
from bridge_v3.exceptions import ConfigError, DependencyError

logger = logging.getLogger(__name__)


def select_series(
    bridge: Bridge, symbols: str | None, timeframes: str | None
) -> list[tuple[str, Timeframe]]:
    series = bridge.prices.series
    if symbols:
        wanted = {s.strip().upper() for s in symbols.split(",") if s.strip()}
        series = [(s, tf) for s, tf in series if s in wanted] or [
            (s, tf) for s in sorted(wanted) for tf in dict.fromkeys(t for _, t in series)
        ]
    if timeframes:
        chosen = []
        for name in (t.strip().upper() for t in timeframes.split(",") if t.strip()):
            if name not in TIMEFRAMES:
                raise ConfigError("--timeframes", f"unknown timeframe {name!r}", "M1,H1")
            chosen.append(TIMEFRAMES[name])
        series = list(
            dict.fromkeys((s, tf) for s in dict.fromkeys(s for s, _ in series) for tf in chosen)
        )
    return series


def run_backfill(bridge: Bridge, days: float, symbols: str | None, timeframes: str | None) -> int:
    series = select_series(bridge, symbols, timeframes)
    started = time.perf_counter()
    fetched = written = 0
    for index, (symbol, timeframe) in enumerate(series, 1):
        if bridge.stop_event.is_set():
            break
        try:
            result = bridge.prices.backfill(
                symbol, timeframe, days, progress=_progress(index, len(series))
            )
        except DependencyError as error:
            logger.error("%s %s skipped: %s", symbol, timeframe, error)
            continue
        fetched += result.fetched
        written += result.stored
    elapsed = max(time.perf_counter() - started, 1e-9)
    logger.info(
        "Backfill done: %d bars fetched, %d rows written in %.1fs (%.0f bars/s)",
        fetched,
        written,
        elapsed,
        fetched / elapsed,
    )
    print(
        f"bars fetched: {fetched}  rows written: {written}  seconds: {elapsed:.1f}  "
        f"bars/s: {fetched / elapsed:.0f}"
    )
    return 0


def _progress(index: int, count: int):
    def report(symbol: str, timeframe: Timeframe, total: SyncResult) -> None:
        logger.info(
            "[%d/%d] %s %s: %d bars fetched, %d rows written",
            index,
            count,
            symbol,
            timeframe,
            total.fetched,
            total.stored,
        )

    return report
