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
from dataclasses import astuple, dataclass, replace

import numpy as np

from bridge_v3.config.constants import Priority, Timeframe
from bridge_v3.controllers.bar_closure import GRACE, closed_mask, needs_tick, server_bar_ends
from bridge_v3.controllers.bar_messages import (
    BAR_FIELDS,
    bar_messages,
    correction_message,
    forming_bar_messages,
)
from bridge_v3.controllers.bar_validation import timeframe_period, validate_bars
from bridge_v3.exceptions import DependencyError, TerminalDisconnectedError, TerminalError
from bridge_v3.services.bar_store import BarStore
from bridge_v3.services.mt5.mt5_service import MT5Service
from bridge_v3.services.publisher import Publisher
from bridge_v3.services.records import stack

logger = logging.getLogger(__name__)

DAY = 86400
RECENT_ROWS = 2000  # bars stored by one statement rather than through COPY


@dataclass
class _Batch:
    """One series' bars from one fetch, validated and ready to store."""

    symbol: str
    timeframe: Timeframe
    good: np.ndarray
    fresh: np.ndarray  # the good bars past the watermark: new, to publish
    fetched: int
    quarantined: int
    forming: np.void | None = None

    @property
    def revisited(self) -> np.ndarray:
        """The good bars at or before the watermark (the re-fetched overlap)."""
        return self.good[: len(self.good) - len(self.fresh)]


@dataclass(frozen=True)
class SyncResult:
    fetched: int = 0
    stored: int = 0  # rows inserted or changed
    new: int = 0  # bars past the old watermark
    corrected: int = 0
    quarantined: int = 0  # bars quarantined for the first time
    skipped: int = 0  # series the terminal refused this time

    def __str__(self) -> str:
        """One sentence for the operator: ``1440 bars fetched, 1438 new stored, ...``."""
        parts = [f"{self.fetched} bars fetched", f"{self.new} new stored"]
        if self.corrected:
            parts.append(f"{self.corrected} corrected by the broker")
        if self.quarantined:
            parts.append(f"{self.quarantined} quarantined")
        if self.skipped:
            parts.append(f"{self.skipped} series skipped")
        return ", ".join(parts)


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
        # The values last stored for each series' newest bars, which the re-fetched overlap
        # is compared with to see a broker correction: a steady cycle reads nothing back.
        self._recent: dict[tuple[str, str], dict[int, tuple]] = {}
        self._lock = threading.Lock()
        self._logged_rejections: set[tuple[str, str, str]] = set()
        self.totals: Counter[str] = Counter()
        # Per (symbol, timeframe name): bars stored new, corrected, quarantined; and when
        # the series was last stored (host clock): for the metrics page.
        self.series_totals: dict[tuple[str, str], Counter[str]] = {}
        self.series_updated: dict[tuple[str, str], float] = {}

    def load_watermarks(self) -> None:
        with self._lock:
            self._watermarks = self._store.watermarks()

    def watermark(self, symbol: str, timeframe: Timeframe) -> int | None:
        with self._lock:
            return self._watermarks.get((symbol, timeframe.name))

    def sync(self, symbol: str, timeframe: Timeframe) -> SyncResult:
        """Fetch, validate, store and publish what is new for one series."""
        now = self._clock()
        ticks: dict[str, float | None] = {}
        fetched = [self._fetch(symbol, timeframe, now, ticks)]
        return self._commit(self._prepare_all(fetched, now, ticks), now, publish=True)

    def sync_all(self, series: Iterable[tuple[str, Timeframe]] | None = None) -> SyncResult:
        """One cycle for every series: fetch each (the terminal is serial anyway), then store
        all of them in one transaction and publish them in one batch.

        A series the terminal refuses or fails (unknown symbol, an IPC fault after retries)
        is logged and skipped for this cycle; a lost terminal ends the fetching, and what was
        fetched is still stored. Nothing is fetched while the broker clock is not trusted.
        """
        if not self._mt5.server_time.trusted:
            with self._lock:
                self.totals.update(held=1)
            return SyncResult()
        now = self._clock()
        fetched, skipped = [], 0
        ticks: dict[str, float | None] = {}  # a symbol's newest tick, asked once per cycle
        for symbol, timeframe in self.series if series is None else series:
            try:
                fetched.append(self._fetch(symbol, timeframe, now, ticks))
            except TerminalDisconnectedError:
                break  # the MT5 service logged it and reconnects; store what we have
            except (DependencyError, TerminalError) as error:
                self._report_skipped(symbol, timeframe, error)
                skipped += 1
        batches = self._prepare_all(fetched, now, ticks)
        return replace(self._commit(batches, now, publish=True), skipped=skipped)

    def backfill(
        self,
        symbol: str,
        timeframe: Timeframe,
        days: float,
        *,
        chunk_days: float = 30,
        progress: Callable[[SyncResult, float], None] | None = None,
    ) -> SyncResult:
        """Load ``days`` of history in chunks, oldest first; stores without publishing (a
        subscriber wants the bars as they close, not years of them at once). ``progress``
        is told after each chunk: the totals so far and the fraction of the span done.

        Chunks are whole seconds, each ``[start, end]`` and the next from ``end + 1``: the
        terminal reads bounds as whole seconds, so fractional ones would leave a bar
        opening on a boundary in neither chunk.
        """
        now = self._clock()
        last_second = int(now)
        forming = self._forming_open(symbol, timeframe, now)
        total = SyncResult()
        # Never before 1970: the terminal cuts dates to 32 bits, so an earlier start would
        # wrap round to recent bars and fetch them again.
        start = first = int(max(now - days * DAY, DAY))
        while start <= last_second:
            end = min(last_second, start + int(chunk_days * DAY))
            rates = self._mt5.rates_range(symbol, timeframe.mt5, start, end, priority=Priority.LOW)
            rates = rates[(rates["time"] >= start) & (rates["time"] <= min(end, forming - 1))]
            batch = self._validate(symbol, timeframe, rates, now)
            total = _add(total, self._commit_range(batch, (start, end), now))
            if progress:
                progress(total, (end - first + 1) / (last_second - first + 1))
            start = end + 1
        return total

    def _commit_range(self, batch: _Batch, span: tuple[int, int], now: float) -> SyncResult:
        """Store one backfill chunk, the terminal's whole ``span`` (see
        ``BarStore.save_range``), and move the watermark; nothing is published."""
        marks = []
        if len(batch.fresh):
            marks = [(batch.symbol, batch.timeframe.name, int(batch.fresh["time"][-1]))]
        stored = self._store.save_range(batch.symbol, batch.timeframe.name, batch.good, span, marks)
        with self._lock:
            self._watermarks.update({(s, tf): t for s, tf, t in marks})
        self._count_series([batch], [], now)
        fresh = len(batch.fresh)
        result = SyncResult(batch.fetched, stored, fresh, max(0, stored - fresh), batch.quarantined)
        self._count(result)
        return result

    def _forming_open(self, symbol: str, timeframe: Timeframe, now: float) -> int:
        """Open time of the bar still forming now (a backfill stops before it); past now
        when the newest bar is closed already."""
        back = (timeframe.seconds or 31 * DAY) * 2
        latest = self._mt5.rates_range(
            symbol, timeframe.mt5, now - back, now, priority=Priority.LOW
        )
        if len(latest) and not self._closed(symbol, timeframe, latest, now)[-1]:
            return int(latest["time"][-1])
        return int(now) + 1

    def _fetch_start(self, last: int | None, timeframe: Timeframe, now: float) -> float:
        if last is None:
            return now - self._initial_history
        step = timeframe.seconds or 31 * DAY
        return last - self._overlap * step

    def _fetch(
        self, symbol: str, timeframe: Timeframe, now: float, ticks: dict[str, float | None]
    ) -> tuple[str, Timeframe, np.ndarray]:
        """The series' bars since its watermark. The symbol's newest tick is asked first, once
        per cycle: only a tick shown before the bars proves them final. A tick asked after
        them may be newer than bars that were still missing their last ticks when answered
        (the terminal answers series one after another), and would close a partial bar."""
        if symbol not in ticks:
            ticks[symbol] = self._newest_tick(symbol)
        start = self._fetch_start(self.watermark(symbol, timeframe), timeframe, now)
        return symbol, timeframe, self._mt5.rates_range(symbol, timeframe.mt5, start, now)

    def _prepare_all(
        self,
        fetched: list[tuple[str, Timeframe, np.ndarray]],
        now: float,
        ticks: dict[str, float | None],
    ) -> list[_Batch]:
        """Closed, validated batches of the fetched series, in their order. The series of one
        timeframe are converted and validated together: a cycle's cost does not grow with
        a fixed price per series."""
        by_timeframe: dict[str, list[int]] = {}
        for position, (_, timeframe, _) in enumerate(fetched):
            by_timeframe.setdefault(timeframe.name, []).append(position)
        batches: list[_Batch | None] = [None] * len(fetched)
        for positions in by_timeframe.values():
            group = [fetched[p] for p in positions]
            prepared = self._prepare_group(group, now, ticks)
            for position, batch in zip(positions, prepared, strict=True):
                batches[position] = batch
        return batches

    def _prepare_group(
        self,
        group: list[tuple[str, Timeframe, np.ndarray]],
        now: float,
        ticks: dict[str, float | None],
    ) -> list[_Batch]:
        """``_prepare_all`` for series of one timeframe."""
        timeframe = group[0][1]
        rates = stack([r for _, _, r in group])
        bounds = np.cumsum([0] + [len(r) for _, _, r in group]).tolist()
        # The bars' times on the broker clock and their ends serve both the closure test
        # and the validation: converted once.
        server, ends = self._times(timeframe, rates)
        closed = np.concatenate(
            [
                self._closed_by_ends(symbol, ends[start:stop], now, ticks)
                for (symbol, _, _), start, stop in zip(group, bounds, bounds[1:], strict=False)
            ]
        )
        series = np.repeat(np.arange(len(group)), np.diff(bounds))
        validation = validate_bars(
            rates[closed],
            timeframe,
            now,
            server_times=server[closed],
            end_times=ends[closed],
            tolerance_seconds=GRACE,  # see ``_validate``
            groups=series[closed],
        )
        good_series = series[closed][validation.good_index]
        good_bounds = np.searchsorted(good_series, np.arange(len(group) + 1)).tolist()
        rejected: list[list] = [[] for _ in group]
        for rejection in validation.rejected:
            rejected[series[closed][rejection.index]].append(rejection)
        batches = []
        for number, (symbol, _, _) in enumerate(group):
            own = slice(bounds[number], bounds[number + 1])
            good = validation.good[good_bounds[number] : good_bounds[number + 1]]
            last = self.watermark(symbol, timeframe)
            fresh = good[good["time"] > last] if last is not None else good
            forming = rates[own][~closed[own]]
            batches.append(
                _Batch(
                    symbol,
                    timeframe,
                    good,
                    fresh,
                    int(closed[own].sum()),
                    self._quarantine(symbol, timeframe, rejected[number]),
                    forming[-1] if len(forming) else None,
                )
            )
        return batches

    def _times(self, timeframe: Timeframe, rates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each bar's open on the broker's clock and its UTC end, found on the broker's
        clock (see ``bar_closure``)."""
        server_time = self._mt5.server_time
        server = server_time.to_server_array(rates["time"].astype(np.int64))
        ends = server_bar_ends(
            server,
            timeframe_period(timeframe),
            lambda server: server_time.to_utc_array(server, ambiguous="earlier"),
        )
        return server, ends

    def _closed(
        self, symbol: str, timeframe: Timeframe, rates: np.ndarray, now: float
    ) -> np.ndarray:
        """Which bars are closed (see ``bar_closure``)."""
        return self._closed_by_ends(symbol, self._times(timeframe, rates)[1], now, {})

    def _closed_by_ends(
        self, symbol: str, ends: np.ndarray, now: float, ticks: dict[str, float | None]
    ) -> np.ndarray:
        """The newest tick counts only when the host clock puts the last bar near its end.
        A cycle took it before the bars (see ``_fetch``); a backfill asks it here, after
        the bars it judges, which is safe there: the bars it stores are fetched later."""
        newest = None
        if needs_tick(ends, now):
            if symbol not in ticks:
                ticks[symbol] = self._newest_tick(symbol)
            newest = ticks[symbol]
        return closed_mask(ends, newest_tick=newest, now=now)

    def _newest_tick(self, symbol: str) -> float | None:
        try:
            tick = self._mt5.tick(symbol)
        except TerminalDisconnectedError:
            raise  # the terminal is gone: the cycle stops here, as for a series' bars
        except (DependencyError, TerminalError):
            return None  # the host clock decides, after its grace period
        return int(tick.get("time_msc") or int(tick["time"]) * 1000) / 1000

    def _validate(
        self, symbol: str, timeframe: Timeframe, closed: np.ndarray, now: float
    ) -> _Batch:
        last = self.watermark(symbol, timeframe)
        server_times, end_times = self._times(timeframe, closed)
        # A bar the terminal calls closed may end up to the clock watch's tolerance after
        # the host's now (a host clock running behind): not "in the future".
        validation = validate_bars(
            closed,
            timeframe,
            now,
            last,
            server_times=server_times,
            end_times=end_times,
            tolerance_seconds=GRACE,
        )
        quarantined = self._quarantine(symbol, timeframe, validation.rejected)
        good = validation.good
        fresh = good[good["time"] > last] if last is not None else good
        return _Batch(symbol, timeframe, good, fresh, len(closed), quarantined)

    def _commit(self, batches: list[_Batch], now: float, *, publish: bool) -> SyncResult:
        """Store every batch, move the watermarks and stage the bar messages (new bars, and
        the broker's corrections of stored ones) in one transaction, then deliver the
        messages (see ``Publisher``)."""
        marks = [
            (b.symbol, b.timeframe.name, int(b.fresh["time"][-1])) for b in batches if len(b.fresh)
        ]
        messages = self._messages(batches) if publish else []
        with self._store.transaction() as conn:
            corrections = self._corrections(conn, batches) if publish else []
            stored = self._save(
                conn, [(b.symbol, b.timeframe.name, b.good) for b in batches], marks
            )
            if messages or corrections:
                self._publisher.stage(conn, messages + corrections)
        with self._lock:
            self._watermarks.update({(s, tf): t for s, tf, t in marks})
        self._remember_recent(batches)
        self._count_series(batches, corrections, now)
        fresh = sum(len(b.fresh) for b in batches)
        corrected = len(corrections) if publish else max(0, stored - fresh)
        if corrections:
            self._report_corrections(corrections)
        if publish:
            self._publish(batches)
        result = SyncResult(
            sum(b.fetched for b in batches),
            stored,
            fresh,
            corrected,
            sum(b.quarantined for b in batches),
        )
        self._count(result)
        return result

    def _save(self, conn, batches: list[tuple[str, str, np.ndarray]], marks: list) -> int:
        """A cycle's few bars in one statement; a backfill chunk or a first load through
        COPY, which is faster from some thousands of rows on."""
        if sum(len(rates) for _, _, rates in batches) <= RECENT_ROWS:
            return self._store.save_recent(conn, batches, marks)
        return self._store.save_many(conn, batches, marks)

    def _messages(self, batches: list[_Batch]) -> list[tuple[str, str, dict]]:
        """Every message a cycle's batches publish, in order: the new closed bars."""
        messages = []
        for b in batches:
            if len(b.fresh):
                messages += bar_messages(self._publisher, b.symbol, b.timeframe.name, b.fresh)
        return messages

    def _corrections(self, conn, batches: list[_Batch]) -> list[tuple[str, str, dict]]:
        """Messages for re-fetched bars whose stored values the broker has since changed,
        read before the upsert replaces them: ``correction: true`` and the ``previous`` values.
        A re-fetched bar that was never stored is published as an ordinary bar.

        A bar equal to what this bridge last stored for it is no news; only the others
        (changed, or not remembered) are read from the database, in the caller's transaction.
        """
        fetched = {}
        for b in batches:
            series = (b.symbol, b.timeframe.name)
            for time, values in _valued(b.revisited):
                fetched[(*series, time)] = values
        with self._lock:
            unsure = [
                key
                for key, values in fetched.items()
                if self._recent.get(key[:2], {}).get(key[2]) != values
            ]
        before = self._store.stored(conn, unsure)
        unsure_keys = set(unsure)
        messages = []
        for b in batches:
            for rate in b.revisited:
                key = (b.symbol, b.timeframe.name, int(rate["time"]))
                if key in unsure_keys and before.get(key) != fetched[key]:
                    messages.append(correction_message(self._publisher, b, rate, before.get(key)))
        return messages

    def _remember_recent(self, batches: list[_Batch]) -> None:
        """After a commit: the values now stored for each series' newest bars (as many as
        a sync re-fetches, and one more)."""
        keep = self._overlap + 2
        with self._lock:
            for b in batches:
                if not len(b.good):
                    continue
                recent = self._recent.setdefault((b.symbol, b.timeframe.name), {})
                recent.update(_valued(b.good[-keep:]))
                for time in sorted(recent)[:-keep]:
                    del recent[time]

    def _report_corrections(self, corrections: list[tuple[str, str, dict]]) -> None:
        series = dict.fromkeys(f"{d['symbol']} {d['timeframe']}" for _, _, d in corrections)
        logger.warning(
            "%s: broker corrected %d stored bar(s); updated and published as corrections",
            ", ".join(series),
            len(corrections),
        )

    def _publish(self, batches: list[_Batch]) -> None:
        """After the commit: send what was staged, and refresh the forming bars' keys."""
        self._publisher.deliver()
        forming = [b for b in batches if b.forming is not None]
        if forming:
            data = forming_bar_messages(
                [(b.symbol, b.timeframe.name) for b in forming],
                np.array([b.forming for b in forming], dtype=forming[0].forming.dtype),
            )
            keys = [f"bar:{b.symbol}:{b.timeframe.name}" for b in forming]
            self._publisher.set_last_many(zip(keys, data, strict=True), ttl=self._last_ttl)

    def _report_skipped(self, symbol: str, timeframe: Timeframe, error: Exception) -> None:
        kind = (symbol, timeframe.name, type(error).__name__)
        if kind not in self._logged_rejections:
            self._logged_rejections.add(kind)
            logger.error("%s %s skipped this cycle: %s (logged once)", symbol, timeframe, error)
        with self._lock:
            self.totals.update(skipped=1)

    def _quarantine(self, symbol: str, timeframe: Timeframe, rejected: list) -> int:
        """Keep rejected bars; returns how many were quarantined for the first time (a bad
        bar in the re-fetched overlap is seen again at every cycle)."""
        if not rejected:
            return 0
        new = self._store.quarantine(
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
        return new

    def _count_series(self, batches: list[_Batch], corrections: list, now: float) -> None:
        fixed = Counter((data["symbol"], data["timeframe"]) for _, _, data in corrections)
        with self._lock:
            for b in batches:
                key = (b.symbol, b.timeframe.name)
                counts = self.series_totals.setdefault(key, Counter())
                counts.update(stored=len(b.fresh), corrected=fixed[key], quarantined=b.quarantined)
                self.series_updated[key] = now

    def _count(self, result: SyncResult) -> None:
        with self._lock:
            self.totals.update(
                fetched=result.fetched,
                stored=result.stored,
                new=result.new,
                corrected=result.corrected,
                quarantined=result.quarantined,
            )


def _valued(rates: np.ndarray) -> list[tuple[int, tuple]]:
    """(time, values in ``BAR_FIELDS`` order) of each bar, as the database returns them."""
    return [(time, tuple(values)) for time, *values in rates[["time", *BAR_FIELDS]].tolist()]


def _add(a: SyncResult, b: SyncResult) -> SyncResult:
    return SyncResult(*(x + y for x, y in zip(astuple(a), astuple(b), strict=True)))
