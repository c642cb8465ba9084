"""Ticks: every tick of the configured symbols stored once, in UTC, and published.

For each symbol a watermark in PostgreSQL remembers the ``time_msc`` of the last stored
tick. A sync fetches from that millisecond *inclusive* up to now (several ticks can share
a millisecond, and more of them may arrive after a fetch), stores what it got without
duplicates (see :mod:`bridge_v3.services.tick_store`), moves the watermark, then publishes
the ticks past the old watermark. Rows, watermark and the messages of the new ticks commit
in one transaction (see ``Publisher.stage``), so a PostgreSQL outage or a crash loses
nothing: the next sync fetches the same ticks again, and committed messages are sent. A long gap
(downtime) is fetched in windows, each stored and marked before the next, so memory stays
bounded and an interrupted fill resumes where it stopped. Each window's span is scaled so it
holds about ``chunk_ticks`` ticks: hours for a quiet symbol (few transactions), minutes for
a busy one (bounded memory).

A symbol seen for the first time starts ``first_window_seconds`` (default 10 minutes)
before now: ticks are for live use, history lives in the bars.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from bridge_v3.config.constants import COPY_TICKS_ALL
from bridge_v3.controllers.tick_messages import tick_batch_messages, tick_data, tick_messages
from bridge_v3.exceptions import TerminalError
from bridge_v3.services.mt5.mt5_service import NO_DATA_CODE, MT5Service
from bridge_v3.services.publisher import Publisher
from bridge_v3.services.tick_store import TickMark, TickStore, tick_ordinals

logger = logging.getLogger(__name__)

FIRST_WINDOW_SECONDS = 600
CHUNK_SECONDS = 3600  # the first window of a catch-up
CHUNK_TICKS = 50_000  # what later windows aim to hold
MAX_CHUNK_SECONDS = 6 * 3600
MIN_CHUNK_SECONDS = 1
# A window that starts more than CATCH_UP_SECONDS before the sync is a catch-up (a restart,
# an outage, a symbol's first window): its new ticks go out in ``ticks`` batches when there
# are more than BATCH_ABOVE. Live syncs, however busy the symbol, keep one ``tick`` message
# per tick, so a consumer of live ticks never has to read batches.
CATCH_UP_SECONDS = 300
BATCH_ABOVE = 100


@dataclass(frozen=True)
class TickSyncResult:
    fetched: int = 0
    stored: int = 0  # rows inserted or changed
    new: int = 0  # ticks past the old watermark (published)

    def __str__(self) -> str:
        return f"{self.fetched} ticks fetched, {self.new} new stored"

    def __add__(self, other: TickSyncResult) -> TickSyncResult:
        return TickSyncResult(
            self.fetched + other.fetched, self.stored + other.stored, self.new + other.new
        )


def next_span(span_ms: int, fetched: int, target: int, lowest_ms: int, highest_ms: int) -> int:
    """The next window's span: scaled towards ``target`` ticks from what the last one held,
    by at most 4x either way (tick density changes: a quiet night, then an open market)."""
    scale = min(4.0, max(0.25, target / max(fetched, 1)))
    return int(min(highest_ms, max(lowest_ms, span_ms * scale)))


def new_tick_mask(time_msc: np.ndarray, ordinals: np.ndarray, mark: TickMark) -> np.ndarray:
    """True for ticks past ``mark``: later milliseconds, or more ticks in the mark's one."""
    at_mark = time_msc == mark.time_msc
    return (time_msc > mark.time_msc) | (at_mark & (ordinals >= mark.count))


class TickController:
    def __init__(
        self,
        mt5: MT5Service,
        store: TickStore,
        publisher: Publisher,
        symbols: Iterable[str],
        *,
        clock: Callable[[], float],
        last_ttl: int,
        first_window_seconds: float = FIRST_WINDOW_SECONDS,
        chunk_seconds: float = CHUNK_SECONDS,
        chunk_ticks: int = CHUNK_TICKS,
    ) -> None:
        self._mt5 = mt5
        self._store = store
        self._publisher = publisher
        self.symbols = list(dict.fromkeys(symbols))
        self._clock = clock
        self._last_ttl = last_ttl
        self._first_window_ms = int(first_window_seconds * 1000)
        self._chunk_ms = max(1000, int(chunk_seconds * 1000))
        self._chunk_ticks = max(1, int(chunk_ticks))
        self._span_limits = (
            MIN_CHUNK_SECONDS * 1000,
            max(self._chunk_ms, MAX_CHUNK_SECONDS * 1000),
        )
        self._marks: dict[str, TickMark] = {}
        self._lock = threading.Lock()
        self.totals: Counter[str] = Counter()

    def load_watermarks(self) -> None:
        marks = self._store.watermarks()
        with self._lock:
            self._marks = marks

    def watermark(self, symbol: str) -> TickMark | None:
        """Where the next sync of ``symbol`` starts (None before its first sync)."""
        with self._lock:
            return self._marks.get(symbol)

    def sync(self, symbol: str) -> TickSyncResult:
        """Fetch, store and publish the ticks of ``symbol`` since its watermark, up to now.
        Nothing is fetched while the broker clock is not trusted."""
        if not self._mt5.server_time.trusted:
            with self._lock:
                self.totals.update(held=1)
            return TickSyncResult()
        now_msc = int(self._clock() * 1000)
        mark = self._mark_or_first_window(symbol, now_msc)
        total = TickSyncResult()
        start, span = mark.time_msc, self._chunk_ms
        while True:
            end = min(now_msc, start + span)
            catch_up = start < now_msc - CATCH_UP_SECONDS * 1000
            result, mark = self._sync_window(symbol, start, end, mark, catch_up=catch_up)
            total += result
            if end >= now_msc:
                break
            start = max(end, mark.time_msc)
            span = next_span(span, result.fetched, self._chunk_ticks, *self._span_limits)
        self._count(total)
        return total

    def _mark_or_first_window(self, symbol: str, now_msc: int) -> TickMark:
        """The watermark; for a new symbol, the start of its first window, kept in memory so
        that a sync failing before anything is stored is retried from the same start."""
        with self._lock:
            first = TickMark(now_msc - self._first_window_ms, 0)
            return self._marks.setdefault(symbol, first)

    def _sync_window(
        self, symbol: str, start_msc: int, end_msc: int, mark: TickMark, *, catch_up: bool
    ) -> tuple[TickSyncResult, TickMark]:
        ticks = self._fetch(symbol, start_msc, end_msc)
        if ticks is None:
            return TickSyncResult(), mark
        ticks = ticks[ticks["time_msc"] >= mark.time_msc]  # whole milliseconds from the mark on
        ordinals = tick_ordinals(ticks["time_msc"])
        fresh = ticks[new_tick_mask(ticks["time_msc"], ordinals, mark)]
        new_mark = TickMark(int(ticks["time_msc"][-1]), int(ordinals[-1])) if len(ticks) else mark
        # The ticks, the watermark and the messages of the new ones commit together.
        with self._store.transaction() as conn:
            stored = self._store.save(symbol, ticks, conn=conn, new_after=mark.time_msc)
            if len(fresh):
                self._store.advance_watermark(symbol, new_mark.time_msc, conn=conn)
                self._publisher.stage(conn, self._messages(symbol, fresh, catch_up))
        if not len(fresh):
            return TickSyncResult(len(ticks), stored, 0), mark
        mark = TickMark(new_mark.time_msc, new_mark.count + 1)
        with self._lock:
            self._marks[symbol] = mark
        self._publish(symbol, fresh)
        return TickSyncResult(len(ticks), stored, len(fresh)), mark

    def _messages(
        self, symbol: str, fresh: np.ndarray, catch_up: bool
    ) -> list[tuple[str, str, dict]]:
        if catch_up and len(fresh) > BATCH_ABOVE:
            return tick_batch_messages(self._publisher, symbol, fresh)
        return tick_messages(self._publisher, symbol, fresh)

    def _fetch(self, symbol: str, start_msc: int, end_msc: int) -> np.ndarray | None:
        """Ticks in the window, oldest first; None when the terminal has none there."""
        try:
            ticks = self._mt5.ticks_range(symbol, start_msc, end_msc, COPY_TICKS_ALL)
        except TerminalError as error:
            if error.code != NO_DATA_CODE:
                raise
            return None  # the terminal may send no buffer at all for an empty range
        msc = ticks["time_msc"]
        if len(ticks) > 1 and np.any(msc[1:] < msc[:-1]):
            ticks = ticks[np.argsort(msc, kind="stable")]
        return ticks

    def _publish(self, symbol: str, fresh: np.ndarray) -> None:
        """After the commit: send what was staged, and refresh the latest-tick key."""
        self._publisher.deliver()
        latest = tick_data(symbol, fresh[-1:])[0]
        self._publisher.set_last_many([(f"tick:{symbol}", latest)], ttl=self._last_ttl)

    def _count(self, result: TickSyncResult) -> None:
        with self._lock:
            self.totals.update(fetched=result.fetched, stored=result.stored, new=result.new)
