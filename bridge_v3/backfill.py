"""``--backfill DAYS``: load history for the configured series, with progress, then exit."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from bridge_v3.config.constants import Timeframe
from bridge_v3.controllers.price_controller import SyncResult
from bridge_v3.daemon import Bridge
from bridge_v3.exceptions import DependencyError

logger = logging.getLogger(__name__)

PROGRESS_SECONDS = 5.0  # at most one progress line per series this often


def select_series(
    configured: Sequence[tuple[str, Timeframe]],
    symbols: Sequence[str] | None,
    timeframes: Sequence[Timeframe] | None,
) -> list[tuple[str, Timeframe]]:
    """Exactly the series asked for: ``symbols`` (default: the configured ones), each with
    ``timeframes`` (default: its configured timeframes, or every configured timeframe for a
    symbol that is not configured)."""
    every = list(dict.fromkeys(tf for _, tf in configured))
    chosen = []
    for symbol in symbols or dict.fromkeys(s for s, _ in configured):
        own = [tf for s, tf in configured if s == symbol]
        chosen += [(symbol, tf) for tf in timeframes or own or every]
    return list(dict.fromkeys(chosen))


def run_backfill(
    bridge: Bridge,
    days: float,
    symbols: Sequence[str] | None,
    timeframes: Sequence[Timeframe] | None,
    *,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """Load every selected series; exit code 0, or 1 when every series was skipped."""
    series = select_series(bridge.prices.series, symbols, timeframes)
    started = clock()
    total, skipped = SyncResult(), 0
    for index, (symbol, timeframe) in enumerate(series, 1):
        if bridge.stop_event.is_set():
            break
        progress = Progress(index, len(series), clock)
        try:
            result = bridge.prices.backfill(symbol, timeframe, days, progress=progress.report)
        except DependencyError as error:
            logger.error("%s %s skipped: %s", symbol, timeframe, error)
            skipped += 1
            continue
        progress.report(symbol, timeframe, result, final=True)
        total = SyncResult(total.fetched + result.fetched, total.stored + result.stored)
    _report(total, max(clock() - started, 1e-9))
    if series and skipped == len(series):
        logger.error("Backfill loaded nothing: every series asked for was skipped")
        return 1
    return 0


def _report(total: SyncResult, elapsed: float) -> None:
    rate = total.fetched / elapsed
    logger.info(
        "Backfill done: %d bars fetched, %d rows written in %.1fs (%.0f bars/s)",
        total.fetched,
        total.stored,
        elapsed,
        rate,
    )
    print(
        f"bars fetched: {total.fetched}  rows written: {total.stored}  seconds: {elapsed:.1f}  "
        f"bars/s: {rate:.0f}"
    )


class Progress:
    """Progress of one series: a line when bars came in and ``PROGRESS_SECONDS`` passed since
    the previous one, and a last line when the series is done."""

    def __init__(self, index: int, count: int, clock: Callable[[], float]) -> None:
        self._where = f"[{index}/{count}]"
        self._clock = clock
        self._last_line = clock()
        self._fetched = 0

    def report(
        self, symbol: str, timeframe: Timeframe, total: SyncResult, *, final: bool = False
    ) -> None:
        grew, self._fetched = total.fetched > self._fetched, total.fetched
        due = grew and self._clock() - self._last_line >= PROGRESS_SECONDS
        if not (final or due):
            return
        self._last_line = self._clock()
        logger.info(
            "%s %s %s: %d bars fetched, %d rows written%s",
            self._where,
            symbol,
            timeframe,
            total.fetched,
            total.stored,
            " (done)" if final else "",
        )
