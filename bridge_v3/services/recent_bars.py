"""A steady cycle's bars and watermarks upserted in one statement.

A price cycle stores a few bars for each of many series. The general upsert (COPY into a
temporary table, then merge) costs five round trips whatever the size; here the columns
travel as arrays in one ``INSERT ... SELECT FROM unnest(...)`` that moves the watermarks
in the same statement. Same effect as ``BarStore.save_many``: a value rewritten only where
it differs (a batch written twice changes nothing), a key repeated in the batch written
once (the last wins), a watermark never moved back.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from bridge_v3.services.records import stack

VALUES = ("open", "high", "low", "close", "tick_volume", "spread", "real_volume")

_UPSERT = """
WITH given AS (
    SELECT DISTINCT ON (symbol, timeframe, t) *
    FROM unnest(%(symbol)s::text[], %(timeframe)s::text[], %(time)s::bigint[],
                %(open)s::float8[], %(high)s::float8[], %(low)s::float8[], %(close)s::float8[],
                %(tick_volume)s::bigint[], %(spread)s::integer[], %(real_volume)s::bigint[])
         WITH ORDINALITY
         AS v (symbol, timeframe, t, open, high, low, close, tick_volume, spread, real_volume, n)
    ORDER BY symbol, timeframe, t, n DESC
), marks AS (
    INSERT INTO bar_watermarks (account, symbol, timeframe, last_time, updated_at)
    SELECT %(account)s, symbol, timeframe, to_timestamp(last), now()
    FROM unnest(%(mark_symbol)s::text[], %(mark_timeframe)s::text[], %(mark_last)s::bigint[])
         AS m (symbol, timeframe, last)
    ON CONFLICT (account, symbol, timeframe) DO UPDATE
    SET last_time = GREATEST(bar_watermarks.last_time, EXCLUDED.last_time), updated_at = now()
)
INSERT INTO bars AS b (account, symbol, timeframe, time, open, high, low, close,
                       tick_volume, spread, real_volume)
SELECT %(account)s, symbol, timeframe, to_timestamp(t), open, high, low, close,
       tick_volume, spread, real_volume
FROM given
ON CONFLICT (account, symbol, timeframe, time) DO UPDATE
SET open = EXCLUDED.open, high = EXCLUDED.high, low = EXCLUDED.low, close = EXCLUDED.close,
    tick_volume = EXCLUDED.tick_volume, spread = EXCLUDED.spread,
    real_volume = EXCLUDED.real_volume, updated_at = now()
WHERE ROW(b.open, b.high, b.low, b.close, b.tick_volume, b.spread, b.real_volume)
      IS DISTINCT FROM
      ROW(EXCLUDED.open, EXCLUDED.high, EXCLUDED.low, EXCLUDED.close, EXCLUDED.tick_volume,
          EXCLUDED.spread, EXCLUDED.real_volume)
"""


def save_recent(
    conn,
    account: int,
    batches: Sequence[tuple[str, str, np.ndarray]],
    watermarks: Sequence[tuple[str, str, int]],
) -> int:
    """Upsert ``(symbol, timeframe, rates)`` batches (``time`` in UTC seconds) and move the
    watermarks, in the caller's transaction ``conn``. Returns rows inserted or changed."""
    batches = [(s, tf, r) for s, tf, r in batches if len(r)]
    if not batches and not watermarks:
        return 0
    sizes = [len(r) for _, _, r in batches]
    columns = {name: "{}" for name in ("time", *VALUES)}
    if batches:
        rates = stack([r for _, _, r in batches])
        columns = {name: _numbers(rates[name]) for name in columns}
    params = {
        "account": account,
        "symbol": _texts(_repeat([s for s, _, _ in batches], sizes)),
        "timeframe": _texts(_repeat([tf for _, tf, _ in batches], sizes)),
        **columns,
        "mark_symbol": _texts([s for s, _, _ in watermarks]),
        "mark_timeframe": _texts([tf for _, tf, _ in watermarks]),
        "mark_last": _numbers(np.array([last for _, _, last in watermarks], dtype=np.int64)),
    }
    with conn.cursor() as cursor:
        cursor.execute(_UPSERT, params)
        return max(cursor.rowcount, 0)


def _repeat(names: list[str], sizes: list[int]) -> list[str]:
    return [name for name, size in zip(names, sizes, strict=True) for _ in range(size)]


# Arrays travel as one array literal each: PostgreSQL reads it far faster than an
# ARRAY[...] expression of thousands of constants, which it must parse and plan.


def _numbers(values: np.ndarray) -> str:
    """An array literal of numbers; ``repr`` of a float reads back as the same double."""
    return "{" + ",".join(map(repr, values.tolist())) + "}"


def _texts(values: list[str]) -> str:
    """An array literal of strings, each quoted (``"`` and ``\\`` escaped)."""
    quoted = (v.replace("\\", "\\\\").replace('"', '\\"') for v in values)
    return "{" + ",".join(f'"{v}"' for v in quoted) + "}"
