"""The periodic one-line summary that tells the operator data is flowing.

``Activity last 60 s: 180 bars stored, 184 messages sent, 5400 ticks stored, 0 bars
quarantined; outbox 0 waiting; slowest series EURUSD M15 (newest bar closed 14 min ago)``

Figures are what happened since the previous line. The slowest series is the one whose
newest stored bar closed longest ago; a market that is closed (forex at weekends) makes it
old, a stuck series too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import astuple, dataclass

import numpy as np

from bridge_v3.config.constants import Timeframe
from bridge_v3.services.dependency import duration

logger = logging.getLogger(__name__)


def bar_close(open_time: int, timeframe: Timeframe) -> int:
    """When the bar opened at ``open_time`` (UTC seconds) closes."""
    if timeframe.seconds:
        return open_time + timeframe.seconds
    month = np.datetime64(open_time, "s").astype("datetime64[M]") + 1
    return int(month.astype("datetime64[s]").astype(np.int64))


@dataclass(frozen=True)
class Counters:
    bars: int = 0
    sent: int = 0
    ticks: int = 0
    quarantined: int = 0


class ActivityReport:
    """``log()`` writes the line; the daemon calls it every ``STATS_INTERVAL`` seconds.

    ``counters`` returns running totals (bars stored, messages sent, ticks stored, bars
    quarantined); ``watermarks`` the newest stored bar's open time per series.
    """

    def __init__(
        self,
        counters: Callable[[], Counters],
        watermarks: Callable[[], Mapping[tuple[str, Timeframe], int | None]],
        waiting: Callable[[], int],
        *,
        clock: Callable[[], float],
    ) -> None:
        self._counters = counters
        self._watermarks = watermarks
        self._waiting = waiting
        self._clock = clock
        self._last = counters()
        self._since = clock()

    def line(self) -> str:
        """The summary since the previous ``line()`` (or since start-up)."""
        now, totals = self._clock(), self._counters()
        delta = Counters(
            *(t - p for t, p in zip(astuple(totals), astuple(self._last), strict=True))
        )
        period = duration(now - self._since)
        self._last, self._since = totals, now
        return (
            f"Activity last {period}: {delta.bars} bars stored, {delta.sent} messages sent, "
            f"{delta.ticks} ticks stored, {delta.quarantined} bars quarantined; "
            f"outbox {self._waiting()} waiting; {self._slowest(now)}"
        )

    def log(self) -> None:
        logger.info(self.line())

    def _slowest(self, now: float) -> str:
        marks = self._watermarks()
        missing = [f"{s} {tf.name}" for (s, tf), mark in marks.items() if mark is None]
        if missing:
            return f"no bar stored yet for {', '.join(missing)}"
        if not marks:
            return "no series configured"
        ages = {series: now - bar_close(mark, series[1]) for series, mark in marks.items()}
        (symbol, timeframe), age = max(ages.items(), key=lambda item: item[1])
        return f"slowest series {symbol} {timeframe.name} (newest bar closed {duration(age)} ago)"
