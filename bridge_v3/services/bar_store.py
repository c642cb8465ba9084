"""Bars in PostgreSQL: idempotent batch writes, per-series watermarks and the quarantine."""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone

import numpy as np
import psycopg2.errors
from psycopg2.extras import execute_values

from bridge_v3.services.copy_binary import VALUE_NAMES, bars_copy, read_stored
from bridge_v3.services.database_service import DatabaseService
from bridge_v3.services.recent_bars import save_recent

BAR_COLUMNS = (
    "account",
    "symbol",
    "timeframe",
    "time",
    "open",
    "high",
    "low",
    "close",
    "tick_volume",
    "spread",
    "real_volume",
)
BAR_KEY = ("account", "symbol", "timeframe", "time")
BAR_VALUES = BAR_COLUMNS[4:]
COPY_BARS = f"COPY bars ({', '.join(BAR_KEY + VALUE_NAMES)}) FROM STDIN (FORMAT binary)"
READ_RANGE = (
    f"COPY (SELECT time, {', '.join(VALUE_NAMES)} FROM bars"
    " WHERE account = %s AND symbol = %s AND timeframe = %s"
    " AND time BETWEEN to_timestamp(%s) AND to_timestamp(%s) ORDER BY time)"
    " TO STDOUT (FORMAT binary)"
)


def utc_iso(seconds: np.ndarray) -> np.ndarray:
    """UTC epoch seconds -> ISO-8601 strings ending in Z (vectorised)."""
    return np.datetime_as_string(seconds.astype("datetime64[s]"), unit="s", timezone="UTC")


class BarStore:
    def __init__(self, database: DatabaseService, account: int) -> None:
        self._database = database
        self._account = account

    def watermarks(self) -> dict[tuple[str, str], int]:
        """Last stored closed bar per (symbol, timeframe), as UTC epoch seconds."""
        rows = self._database.fetch_all(
            "SELECT symbol, timeframe, EXTRACT(EPOCH FROM last_time)::bigint"
            " FROM bar_watermarks WHERE account = %s",
            (self._account,),
        )
        return {(symbol, timeframe): int(last) for symbol, timeframe, last in rows}

    def transaction(self):
        """A connection in a transaction, for ``save_many`` and whatever must commit with it
        (the messages describing the bars: ``Publisher.stage``)."""
        return self._database.connection()

    def save(self, symbol: str, timeframe: str, rates: np.ndarray) -> int:
        """Upsert closed bars (``time`` in UTC seconds); returns rows inserted or changed."""
        with self.transaction() as conn:
            return self.save_many(conn, [(symbol, timeframe, rates)], [])

    def save_many(
        self,
        conn,
        batches: Sequence[tuple[str, str, np.ndarray]],
        watermarks: Sequence[tuple[str, str, int]],
    ) -> int:
        """Upsert the bars of several series and move their watermarks, in the caller's
        transaction ``conn``. Returns rows inserted or changed."""
        data = self._columns(batches)
        stored = 0
        if data is not None:
            stored = self._database.upsert_columns("bars", data, BAR_KEY, BAR_VALUES, conn=conn)
        if watermarks:
            self._advance(conn, watermarks)
        return stored

    def save_range(
        self,
        symbol: str,
        timeframe: str,
        rates: np.ndarray,
        span: tuple[int, int],
        watermarks: Sequence[tuple[str, str, int]],
    ) -> int:
        """Store one series' closed bars of ``span`` (first and last second, UTC), the whole
        of what the terminal holds there, and move the watermarks, in one transaction; for
        a backfill. Returns rows inserted or changed.

        What is stored of the span is read first (one index range scan). Nothing stored
        (a range loaded for the first time): the bars are COPYed straight into ``bars``,
        without a merge; should another writer have stored one of them meanwhile, the
        unique violation sends the batch through the merge instead. Something stored: only
        the bars missing or different go through the merge, so a range stored already
        costs a read and writes nothing.
        """
        with self.transaction() as conn:
            stored = self._read_range(conn, symbol, timeframe, span)
            if len(stored):
                written = self._merge_changed(conn, symbol, timeframe, rates, stored)
            else:
                written = self._copy_new(conn, symbol, timeframe, rates)
            if watermarks:
                self._advance(conn, watermarks)
        return written

    def _read_range(self, conn, symbol: str, timeframe: str, span: tuple[int, int]) -> np.ndarray:
        data = io.BytesIO()
        with conn.cursor() as cursor:
            query = cursor.mogrify(READ_RANGE, (self._account, symbol, timeframe, *span))
            cursor.copy_expert(query.decode(), data)
        return read_stored(data.getvalue())

    def _copy_new(self, conn, symbol: str, timeframe: str, rates: np.ndarray) -> int:
        if not len(rates):
            return 0
        data = io.BytesIO(bars_copy(self._account, symbol, timeframe, rates))
        with conn.cursor() as cursor:
            cursor.execute("SAVEPOINT bridge_copy")
            try:
                cursor.copy_expert(COPY_BARS, data, size=1 << 20)
            except psycopg2.errors.UniqueViolation:
                cursor.execute("ROLLBACK TO SAVEPOINT bridge_copy")
                return self.save_many(conn, [(symbol, timeframe, rates)], [])
            cursor.execute("RELEASE SAVEPOINT bridge_copy")
        return len(rates)

    def _merge_changed(
        self, conn, symbol: str, timeframe: str, rates: np.ndarray, stored: np.ndarray
    ) -> int:
        """Merge the bars of ``rates`` that ``stored`` (sorted by time) lacks or holds with
        other values."""
        if not len(rates):
            return 0
        found = stored[np.minimum(np.searchsorted(stored["time"], rates["time"]), len(stored) - 1)]
        same = found["time"] == rates["time"]
        for name in VALUE_NAMES:
            same &= found[name] == rates[name]
        return self.save_many(conn, [(symbol, timeframe, rates[~same])], [])

    def save_recent(
        self,
        conn,
        batches: Sequence[tuple[str, str, np.ndarray]],
        watermarks: Sequence[tuple[str, str, int]],
    ) -> int:
        """``save_many`` in one statement, for a cycle's few bars per series (see
        ``recent_bars``)."""
        return save_recent(conn, self._account, batches, watermarks)

    def stored(
        self, conn, bars: Sequence[tuple[str, str, int]]
    ) -> dict[tuple[str, str, int], tuple]:
        """The stored values (``BAR_VALUES`` order) of those ``(symbol, timeframe, time)``
        bars that exist, read in the caller's transaction: what a broker correction replaces."""
        if not bars:
            return {}
        columns = ", ".join(f"b.{name}" for name in BAR_VALUES)
        with conn.cursor() as cursor:
            rows = execute_values(
                cursor,
                f"SELECT b.symbol, b.timeframe, EXTRACT(EPOCH FROM b.time)::bigint, {columns}"
                " FROM bars b JOIN (VALUES %s) AS v (account, symbol, timeframe, time)"
                " ON b.account = v.account AND b.symbol = v.symbol"
                " AND b.timeframe = v.timeframe AND b.time = to_timestamp(v.time)",
                [(self._account, symbol, timeframe, int(time)) for symbol, timeframe, time in bars],
                template="(%s::bigint, %s, %s, %s::bigint)",
                fetch=True,
            )
        return {(symbol, tf, int(time)): tuple(values) for symbol, tf, time, *values in rows}

    def _advance(self, conn, watermarks: Sequence[tuple[str, str, int]]) -> None:
        rows = [(self._account, symbol, timeframe, last) for symbol, timeframe, last in watermarks]
        with conn.cursor() as cursor:
            execute_values(
                cursor,
                "INSERT INTO bar_watermarks (account, symbol, timeframe, last_time, updated_at)"
                " SELECT v.account, v.symbol, v.timeframe, to_timestamp(v.last), now()"
                " FROM (VALUES %s) AS v (account, symbol, timeframe, last)"
                " ON CONFLICT (account, symbol, timeframe) DO UPDATE"
                " SET last_time = GREATEST(bar_watermarks.last_time, EXCLUDED.last_time),"
                " updated_at = now()",
                rows,
            )

    def _columns(self, batches: Sequence[tuple[str, str, np.ndarray]]) -> dict | None:
        """Column-major data for every bar of every batch (no per-row Python tuples)."""
        batches = [(s, tf, r) for s, tf, r in batches if len(r)]
        if not batches:
            return None
        rates = np.concatenate([r for _, _, r in batches])
        sizes = [len(r) for _, _, r in batches]
        data = {
            "account": np.full(len(rates), self._account, dtype=np.int64),
            "symbol": np.repeat([s for s, _, _ in batches], sizes),
            "timeframe": np.repeat([tf for _, tf, _ in batches], sizes),
            "time": utc_iso(rates["time"].astype(np.int64)),
        }
        data.update({name: rates[name] for name in BAR_VALUES})
        return data

    def quarantine(
        self, symbol: str, timeframe: str, rejected: Iterable[tuple[int | None, str, dict]]
    ) -> int:
        """Keep rejected bars with their reason, for a person to look at, in one statement.

        One row per (series, bar time, reason): a bar seen again (it lies in the re-fetched
        overlap) only moves ``last_seen_at`` and takes its latest payload. Returns how many
        bars were quarantined for the first time.
        """
        rows = [
            (
                self._account,
                symbol,
                timeframe,
                datetime.fromtimestamp(time, tz=timezone.utc) if time is not None else None,
                reason,
                json.dumps(row, default=str),
            )
            for time, reason, row in rejected
        ]
        if not rows:
            return 0
        with self._database.connection() as conn, conn.cursor() as cursor:
            inserted = execute_values(
                cursor,
                "INSERT INTO bar_quarantine (account, symbol, timeframe, time, reason, payload)"
                " VALUES %s ON CONFLICT (account, symbol, timeframe, time, reason) DO UPDATE"
                " SET payload = EXCLUDED.payload, last_seen_at = now()"
                " RETURNING (xmax = 0)",  # true for a row inserted, false for one seen again
                _unique(rows),
                template="(%s, %s, %s, %s, %s, %s::jsonb)",
                fetch=True,
            )
        return sum(1 for (new,) in inserted if new)


def _unique(rows: list[tuple]) -> list[tuple]:
    """One row per quarantine key (the last wins): ON CONFLICT cannot touch a row twice."""
    return list({row[:5]: row for row in rows}.values())
