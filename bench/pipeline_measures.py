"""The measurements of ``bench.bench_pipeline``, each with its baseline taken in the same run.

Every function returns plain numbers (seconds, counts, rates); the caller builds ratios.
Terminal-call time comes from ``MT5Service.stats``: generating history is the simulated
terminal's work, not the bridge's, so storage rates are also given without it.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Sequence

import numpy as np
import redis

from bench._common import raw_copy, row_by_row, timed
from bench.bench_tick_aggregation import make_ticks
from bench.bench_tick_aggregation import measure as measure_period
from bench.pipeline_rig import CycleLatch
from bridge_v3.config.constants import TIMEFRAMES
from bridge_v3.controllers.bar_messages import bar_messages
from bridge_v3.daemon import Bridge
from bridge_v3.services.bar_store import BAR_COLUMNS
from bridge_v3.services.database_service import DatabaseService
from bridge_v3.services.redis_service import SEND_CHUNK
from bridge_v3.simulator.clock import ManualClock

M1 = TIMEFRAMES["M1"]
QUARTER_HOUR = 900


def backfill(bridge: Bridge, symbols: Sequence[str], days: float) -> dict:
    """``PriceController.backfill`` of M1 history, series after series as ``--backfill`` does."""
    configured = {s for s, _ in bridge.prices.series}
    for symbol in symbols:
        if symbol not in configured:
            bridge.mt5.call("symbol_select", symbol, True)
    terminal_before = bridge.mt5.stats.total_seconds()
    started = time.perf_counter()
    fetched = stored = 0
    for symbol in symbols:
        result = bridge.prices.backfill(symbol, M1, days)
        fetched, stored = fetched + result.fetched, stored + result.stored
    seconds = time.perf_counter() - started
    terminal = bridge.mt5.stats.total_seconds() - terminal_before
    if stored != fetched:
        raise SystemExit(f"backfill stored {stored} of {fetched} bars; figures withheld")
    return {"bars": fetched, "seconds": seconds, "terminal_seconds": terminal}


def stored_rows(db: DatabaseService, symbols: Sequence[str]) -> list[tuple]:
    """The M1 rows the backfill stored, in ``bars`` column order, ``time`` as ISO text in UTC
    (the form the pipeline formats it in, and the cheapest for COPY to parse)."""
    columns = [
        'to_char(time, \'YYYY-MM-DD"T"HH24:MI:SS"Z"\')' if c == "time" else c for c in BAR_COLUMNS
    ]
    return db.fetch_all(
        f"SELECT {', '.join(columns)} FROM bars"
        " WHERE timeframe = 'M1' AND symbol = ANY(%s) ORDER BY symbol, time",
        (list(symbols),),
    )


def copy_limit(db: DatabaseService, rows: list[tuple], repeats: int) -> float:
    """Best seconds of ``repeats`` runs formatting ``rows`` and COPYing them into an empty
    table shaped like ``bars`` (primary key included)."""
    db.execute("CREATE TABLE bars_raw (LIKE bars INCLUDING ALL)")
    best = float("inf")
    for _ in range(repeats):
        db.execute("TRUNCATE bars_raw")
        best = min(best, timed(lambda: raw_copy(db, rows, "bars_raw"))[0])
    return best


def v2_baseline(bridge: Bridge, client: redis.Redis, rows: list[tuple]) -> dict:
    """The V2 way on ``rows``: one INSERT and commit per bar, then one PUBLISH per bar."""
    bridge.database.execute("CREATE TABLE bars_v2 (LIKE bars INCLUDING ALL)")
    insert, _ = timed(lambda: row_by_row(bridge.database, rows))
    publish, _ = timed(lambda: _publish_one_by_one(bridge, client, rows))
    return {"rows": len(rows), "insert_seconds": insert, "publish_seconds": publish}


def _publish_one_by_one(bridge: Bridge, client: redis.Redis, rows: list[tuple]) -> None:
    redis_service = bridge.redis
    for _account, symbol, timeframe, moment, *values in rows:
        data = dict(zip(BAR_COLUMNS[4:], values, strict=True))
        data.update(symbol=symbol, timeframe=timeframe, time=moment)
        envelope = redis_service.envelope("bar", data)
        client.publish(redis_service.channel("bar", symbol, timeframe), json.dumps(envelope))


def steady_cycles(bridge: Bridge, clock: ManualClock, cycles: int) -> dict:
    """Median of ``cycles`` price cycles in which every series has exactly one new bar.

    Each measured cycle is the minute that closes a quarter hour, so the M1, M5 and M15 bar
    all close in it; an unmeasured cycle half a minute before brings every series up to
    date first (the first one also loads the initial history).
    """
    latch = CycleLatch(bridge)
    latch.run_cycle()
    samples = [_one_cycle(bridge, clock, latch) for _ in range(cycles)]
    walls, terminals = zip(*samples, strict=True)
    overheads = [wall - terminal for wall, terminal in samples]
    return {
        "series": len(bridge.prices.series),
        "cycles": cycles,
        "wall_seconds": statistics.median(walls),
        "terminal_seconds": statistics.median(terminals),
        "overhead_seconds": statistics.median(overheads),
    }


def _one_cycle(bridge: Bridge, clock: ManualClock, latch: CycleLatch) -> tuple[float, float]:
    boundary = (int(clock.now()) // QUARTER_HOUR + 1) * QUARTER_HOUR
    if boundary - 30 <= clock.now():
        boundary += QUARTER_HOUR
    clock.set(boundary - 30)
    latch.run_cycle()
    clock.advance(60)
    terminal_before = bridge.mt5.stats.total_seconds()
    wall, results = timed(latch.run_cycle)
    terminal = bridge.mt5.stats.total_seconds() - terminal_before
    new = sum(result.new for result in results)
    if new != len(bridge.prices.series):
        raise SystemExit(f"a cycle brought {new} new bars for {len(results)} series")
    return wall, terminal


def publishing(bridge: Bridge, client: redis.Redis, count: int, repeats: int) -> dict:
    """Bars through ``Publisher.publish_many`` (numbered in the local outbox, sent, acked)
    against a bare redis-py pipeline sending the same PUBLISH + XADD commands with the
    envelopes already serialised (the fair limit: same commands, no envelope work)."""
    symbol = bridge.prices.series[0][0]
    now = bridge.clock()
    rates = bridge.mt5.rates_range(symbol, M1.mt5, now - 3 * 86400, now)
    messages = bar_messages(bridge.publisher, symbol, "M1", np.resize(rates, count))
    ours = _best(lambda: bridge.publisher.publish_many(messages), repeats)
    prepared = bridge.redis.prepare(messages)  # the same envelopes, ready on the wire
    bare = _best(lambda: _bare_publish(client, bridge, prepared), repeats)
    if bridge.publisher.pending:
        raise SystemExit("Redis did not take every message; figures withheld")
    return {"messages": count, "seconds": ours, "bare_seconds": bare}


def _bare_publish(client: redis.Redis, bridge: Bridge, prepared: list) -> None:
    """PUBLISH on the channel and XADD to the type's capped stream, per message, pipelined
    in chunks of ``SEND_CHUNK`` as the bridge sends."""
    maxlen = bridge.settings.redis.stream_maxlen
    pipe = client.pipeline(transaction=False)
    for start in range(0, len(prepared), SEND_CHUNK):
        for item in prepared[start : start + SEND_CHUNK]:
            pipe.publish(item.channel, item.envelope)
            pipe.xadd(
                bridge.redis.key("stream", item.type),
                {"channel": item.channel, "envelope": item.envelope},
                maxlen=maxlen,
                approximate=True,
            )
        pipe.execute()


def _best(run, repeats: int) -> float:
    return min(timed(run)[0] for _ in range(repeats))


def tick_aggregation(ticks: int, periods: Sequence[str], repeats: int) -> dict:
    """The slowest period's rate with ``aggregate_ticks`` and with pandas (same ticks)."""
    time_msc, bid = make_ticks(ticks)
    rows = [measure_period(time_msc, bid, period, repeats) for period in periods]
    slowest = min(rows, key=lambda row: row["ticks_per_s"])
    return {
        "ticks": ticks,
        "period": slowest["period"],
        "ticks_per_s": slowest["ticks_per_s"],
        "pandas_ticks_per_s": slowest["pandas_ticks_per_s"],
    }
