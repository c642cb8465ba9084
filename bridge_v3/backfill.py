"""``--backfill DAYS``: load history for the configured series, with progress (see
``backfill_progress``), then exit."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from functools import partial

from bridge_v3.backfill_progress import Progress, progress_for
from bridge_v3.config.constants import Timeframe
from bridge_v3.controllers.price_controller import SyncResult
from bridge_v3.daemon import Bridge
from bridge_v3.exceptions import DependencyError

logger = logging.getLogger(__name__)


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
    started, terminal = clock(), bridge.mt5.stats.total_seconds()
    with progress_for(len(series), clock) as progress:
        total, skipped = _load(bridge, series, days, progress)
    _report(total, max(clock() - started, 1e-9), bridge.mt5.stats.total_seconds() - terminal)
    if series and skipped == len(series):
        logger.error("Backfill loaded nothing: every series asked for was skipped")
        return 1
    return 0


def _load(
    bridge: Bridge, series: list[tuple[str, Timeframe]], days: float, progress: Progress
) -> tuple[SyncResult, int]:
    """Each series in turn; returns the totals and how many series were skipped."""
    total, skipped = SyncResult(), 0
    for index, (symbol, timeframe) in enumerate(series):
        if bridge.stop_event.is_set():
            break
        chunk_done = partial(_chunk_done, progress, index, total.fetched)
        try:
            result = bridge.prices.backfill(symbol, timeframe, days, progress=chunk_done)
        except DependencyError as error:
            logger.error("%s %s skipped: %s", symbol, timeframe, error)
            skipped += 1
            continue
        total = SyncResult(total.fetched + result.fetched, total.stored + result.stored)
        progress.update(index, 1.0, total.fetched)
        logger.info(
            "[%d/%d] %s %s: %d bars fetched, %d rows written (done)",
            index + 1,
            len(series),
            symbol,
            timeframe,
            result.fetched,
            result.stored,
        )
    return total, skipped


def _chunk_done(
    progress: Progress, index: int, before: int, so_far: SyncResult, fraction: float
) -> None:
    progress.update(index, fraction, before + so_far.fetched)


def _report(total: SyncResult, elapsed: float, terminal: float) -> None:
    """The totals, and how much of the time the terminal took to answer (history it has
    to load from its broker first can dominate)."""
    rate = total.fetched / elapsed
    logger.info(
        "Backfill done: %d bars fetched, %d rows written in %.1fs (%.0f bars/s;"
        " %.1fs of it waiting for the terminal)",
        total.fetched,
        total.stored,
        elapsed,
        rate,
        terminal,
    )
    print(
        f"bars fetched: {total.fetched}  rows written: {total.stored}  seconds: {elapsed:.2f}  "
        f"bars/s: {rate:.0f}  terminal seconds: {terminal:.2f}"
    )
