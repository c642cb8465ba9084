"""Ticks in PostgreSQL: idempotent batch writes into monthly partitions, per-symbol watermarks.

A tick's key is (account, symbol, time, ordinal): ``time`` carries the millisecond and
``ordinal`` numbers the ticks sharing it, counted from the first tick of that millisecond.
Ordinals are stable only if every batch holds *all* the ticks of each millisecond it
covers, which is why fetches restart at the watermark's millisecond (inclusive): a replay
then hits the same keys, and ticks that share a millisecond are all kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np

from bridge_v3.services.database_service import DatabaseService
from bridge_v3.services.tick_copy import NAMES, binary_rows

TICK_KEY = ("account", "symbol", "time", "ordinal")
TICK_FIELDS = ("bid", "ask", "last", "volume", "flags", "volume_real")


@dataclass(frozen=True)
class TickMark:
    """Where a symbol's stored ticks end: the last ``time_msc`` (UTC) and how many ticks
    of that millisecond are stored (the next one there gets ordinal ``count``)."""

    time_msc: int
    count: int


def tick_ordinals(time_msc: np.ndarray) -> np.ndarray:
    """Index of each tick among those with the same ``time_msc`` (non-decreasing), from 0."""
    msc = np.asarray(time_msc, dtype=np.int64)
    if msc.size == 0:
        return np.zeros(0, dtype=np.int64)
    firsts = np.concatenate(([0], np.flatnonzero(msc[1:] != msc[:-1]) + 1))
    sizes = np.diff(np.append(firsts, msc.size))
    return np.arange(msc.size, dtype=np.int64) - np.repeat(firsts, sizes)


def _utc(msc: int) -> datetime:
    return datetime.fromtimestamp(msc / 1000, tz=timezone.utc)


class TickStore:
    def __init__(self, database: DatabaseService, account: int) -> None:
        self._database = database
        self._account = account

    def watermarks(self) -> dict[str, TickMark]:
        """The mark of every symbol with stored ticks (count read from the ticks table)."""
        rows = self._database.fetch_all(
            "SELECT w.symbol, w.last_time_msc, (SELECT count(*) FROM ticks t"
            "  WHERE t.account = w.account AND t.symbol = w.symbol"
            "  AND t.time = 'epoch'::timestamptz + w.last_time_msc * interval '1 millisecond')"
            " FROM tick_watermarks w WHERE w.account = %s",
            (self._account,),
        )
        return {symbol: TickMark(int(msc), int(count)) for symbol, msc, count in rows}

    def transaction(self):
        """A connection in a transaction, for ``save``, ``advance_watermark`` and whatever
        must commit with them (the messages describing the ticks: ``Publisher.stage``)."""
        return self._database.connection()

    def save(
        self, symbol: str, ticks: np.ndarray, *, conn=None, new_after: int | None = None
    ) -> int:
        """Upsert ticks (TICKS_DTYPE, ``time_msc`` in UTC, oldest first, every tick of each
        millisecond covered); returns rows inserted or changed. Partitions are made first
        (in a transaction of their own). ``conn``: the caller's transaction.

        ``new_after``: the symbol's watermark (``time_msc``). No tick later than it can be
        stored yet (ticks and watermark commit together), so those are appended with a
        binary COPY; the rest are merged. Were it wrong, the append falls back to the merge
        (see ``DatabaseService.copy_new``)."""
        if not len(ticks):
            return 0
        if conn is None:
            with self.transaction() as own:
                return self.save(symbol, ticks, conn=own, new_after=new_after)
        msc = ticks["time_msc"].astype(np.int64)
        if np.any(msc[1:] < msc[:-1]):
            ticks = ticks[np.argsort(msc, kind="stable")]
            msc = ticks["time_msc"].astype(np.int64)
        self._database.ensure_tick_partitions(_utc(int(msc[0])), _utc(int(msc[-1])))
        split = len(msc) if new_after is None else int(np.searchsorted(msc, new_after, "right"))
        ordinals = tick_ordinals(msc)
        changed = self._merge(symbol, ticks[:split], msc[:split], ordinals[:split], conn)
        return changed + self._append(symbol, ticks[split:], msc[split:], ordinals[split:], conn)

    def _merge(self, symbol: str, ticks, msc, ordinals, conn) -> int:
        columns = self._columns(symbol, ticks, msc, ordinals)
        return self._database.upsert_columns("ticks", columns, TICK_KEY, conn=conn)

    def _append(self, symbol: str, ticks, msc, ordinals, conn) -> int:
        """Ticks past the watermark: a binary COPY, or the merge should one exist already."""
        if not len(ticks):
            return 0
        payload = binary_rows(self._account, symbol, ticks, msc, ordinals)
        if self._database.copy_new(conn, "ticks", NAMES, payload, binary=True):
            return len(ticks)
        return self._merge(symbol, ticks, msc, ordinals, conn)

    def advance_watermark(self, symbol: str, last_time_msc: int, *, conn=None) -> None:
        """Move the watermark forward (never back) to ``last_time_msc`` (UTC milliseconds)."""
        if conn is None:
            with self.transaction() as own:
                return self.advance_watermark(symbol, last_time_msc, conn=own)
        with conn.cursor() as cursor:
            cursor.execute(
                "INSERT INTO tick_watermarks (account, symbol, last_time_msc, updated_at)"
                " VALUES (%s, %s, %s, now())"
                " ON CONFLICT (account, symbol) DO UPDATE"
                " SET last_time_msc = GREATEST(tick_watermarks.last_time_msc,"
                " EXCLUDED.last_time_msc), updated_at = now()",
                (self._account, symbol, int(last_time_msc)),
            )
        return None

    def _columns(self, symbol: str, ticks: np.ndarray, msc: np.ndarray, ordinals) -> dict:
        count = len(ticks)
        columns = {
            "account": np.full(count, self._account, dtype=np.int64),
            "symbol": [symbol] * count,
            # ISO text without a zone (the session's zone is UTC), formatted by numpy: a
            # datetime object per tick would cost more than the rest of the row together.
            "time": np.datetime_as_string(msc.astype("datetime64[ms]")).tolist(),
            "time_msc": msc,
            "ordinal": ordinals,
        }
        columns.update((name, ticks[name]) for name in TICK_FIELDS)
        return columns
