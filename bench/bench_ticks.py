"""Ticks in a catch-up: the bridge was away, the terminal holds hours of ticks since the watermark.

    .venv/bin/python -m bench.bench_ticks [--symbols 5] [--hours 24] [--repeats 3] [--quick]

Builds the bridge as the daemon does (``bench.pipeline_rig``) on a manual clock, syncs
the ticks of ``--symbols`` busy symbols once (each gets its watermark), jumps the clock
``--hours`` forward and calls ``Bridge.sync_ticks(symbol)`` for each symbol until a call
brings nothing new. Measured: ticks stored and published per second, end to end and
without the time spent inside terminal calls (the simulator drawing ticks is not the
bridge's cost). Checked: every tick the terminal holds in the window is stored once (row
count = distinct keys = the terminal's count) and every new tick was handed to Redis.
Baseline, same run: the same rows formatted and COPYed straight into an empty table shaped
like ``ticks`` (primary key included), best of ``--repeats``. Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import sys
import tempfile
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

from bench._common import scratch_database, scratch_redis, timed
from bench.pipeline_rig import bench_settings, running_bridge, symbol_names
from bridge_v3.config.constants import COPY_TICKS_ALL, TIMEFRAMES
from bridge_v3.daemon import Bridge
from bridge_v3.services.copy_text import copy_text
from bridge_v3.services.database_service import DatabaseService
from bridge_v3.simulator.clock import ManualClock

# A Wednesday morning: forex quotes all day, so the hours jumped over are full of ticks.
START = datetime(2026, 3, 25, 6, 0, tzinfo=timezone.utc).timestamp()
TICK_COLUMNS = (
    "account", "symbol", "time", "time_msc", "ordinal",
    "bid", "ask", "last", "volume", "flags", "volume_real",
)  # fmt: skip
AIM_TICKS_PER_SECOND = 50_000
FULL = {"symbols": 5, "hours": 24.0, "repeats": 3}
QUICK = {"symbols": 2, "hours": 0.25, "repeats": 1}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    parser.add_argument("--symbols", type=int, help="symbols whose ticks are kept")
    parser.add_argument("--hours", type=float, help="hours the bridge was away")
    parser.add_argument("--repeats", type=int, help="best of N for the raw COPY")
    args = parser.parse_args(argv)
    for name, value in (QUICK if args.quick else FULL).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    return args


def measure(symbols: int, hours: float, repeats: int) -> dict:
    """The catch-up and its raw-COPY baseline, as plain numbers."""
    names = symbol_names(symbols)
    clock = ManualClock(START)
    with (
        scratch_database() as postgres,
        scratch_redis() as (client, redis_settings),
        tempfile.TemporaryDirectory() as spool,
    ):
        settings = bench_settings(
            postgres, redis_settings, str(Path(spool) / "outbox.sqlite3"), names,
            (TIMEFRAMES["M1"],),
        )  # fmt: skip
        settings = replace(settings, market=replace(settings.market, tick_symbols=tuple(names)))
        with running_bridge(settings, clock) as bridge:
            for symbol in names:  # every symbol gets its watermark
                bridge.sync_ticks(symbol)
            since = {symbol: bridge.ticks.watermark(symbol).time_msc for symbol in names}
            clock.advance(hours * 3600)
            found = catch_up(bridge, names)
            found.update(check(bridge, since, int(clock.now() * 1000), found))
            found["published_ticks"] = published_ticks(client, bridge, found["rows"])
            found["copy_seconds"] = copy_limit(bridge.database, repeats)
    return figures(found)


def catch_up(bridge: Bridge, names: list[str]) -> dict:
    terminal_before = bridge.mt5.stats.total_seconds()
    sent_before = bridge.publisher.sent
    new = 0

    def run() -> None:
        nonlocal new
        for symbol in names:
            while (result := bridge.sync_ticks(symbol)).new:
                new += result.new

    seconds, _ = timed(run)
    return {
        "new": new,
        "seconds": seconds,
        "terminal_seconds": bridge.mt5.stats.total_seconds() - terminal_before,
        "published": bridge.publisher.sent - sent_before,
    }


def check(bridge: Bridge, since: dict[str, int], now_msc: int, found: dict) -> dict:
    """Stored once, all of them, all handed to Redis; otherwise no figures at all."""
    rows, keys = bridge.database.fetch_all(
        "SELECT count(*), count(DISTINCT (symbol, time, ordinal)) FROM ticks"
    )[0]
    if rows != keys:
        raise SystemExit(f"{rows} tick rows but {keys} distinct keys; figures withheld")
    stored = 0
    for symbol, start in since.items():
        held = bridge.mt5.ticks_range(symbol, start, now_msc, COPY_TICKS_ALL)["time_msc"]
        held = int((held >= start).sum())  # the terminal answers from the whole second on
        count = bridge.database.fetch_all(
            "SELECT count(*) FROM ticks WHERE symbol = %s AND time_msc >= %s", (symbol, start)
        )[0][0]
        if count != held:
            raise SystemExit(f"{symbol}: the terminal holds {held} ticks, {count} stored")
        stored += count
    if bridge.publisher.pending:
        raise SystemExit(f"{bridge.publisher.pending} messages still wait in the outbox")
    return {"rows": rows, "stored_since_watermark": stored}


def published_ticks(client, bridge: Bridge, stored: int) -> int:
    """Ticks in the Redis streams (one per ``tick`` message, a column's length per ``ticks``
    message): each stored tick must be there once."""
    count = 0
    for type_ in ("tick", "ticks"):
        for _id, fields in client.xrange(bridge.redis.key("stream", type_)):
            data = json.loads(fields[b"envelope"])["data"]
            count += len(data["time"]) if type_ == "ticks" else 1
    if count != stored:
        raise SystemExit(f"{count} ticks published, {stored} stored")
    return count


def copy_limit(db: DatabaseService, repeats: int) -> float:
    """Best seconds formatting every stored tick row and COPYing it into an empty table
    shaped like ``ticks`` (primary key included)."""
    rows = db.fetch_all(
        f"SELECT {', '.join(TICK_COLUMNS)} FROM ticks ORDER BY symbol, time, ordinal"
    )
    columns = list(zip(*rows, strict=True))
    db.execute("CREATE TABLE ticks_raw (LIKE ticks INCLUDING ALL)")
    best = float("inf")
    for _ in range(repeats):
        db.execute("TRUNCATE ticks_raw")
        best = min(best, timed(lambda: _copy(db, columns))[0])
    return best


def _copy(db: DatabaseService, columns: list[tuple]) -> None:
    with db.connection() as conn, conn.cursor() as cur:
        data = io.BytesIO(copy_text(columns))
        cur.copy_expert(
            f"COPY ticks_raw ({', '.join(TICK_COLUMNS)}) FROM STDIN", data, size=1 << 20
        )


def figures(found: dict) -> dict:
    storage = found["seconds"] - found["terminal_seconds"]
    raw = found["rows"] / found["copy_seconds"]
    return {
        "tick_catchup_ticks": found["new"],
        "tick_catchup_seconds": round(found["seconds"], 3),
        "tick_catchup_terminal_seconds": round(found["terminal_seconds"], 3),
        "tick_catchup_ticks_per_s": round(found["new"] / found["seconds"]),
        "tick_catchup_storage_ticks_per_s": round(found["new"] / storage),
        "tick_raw_copy_rows_per_s": round(raw),
        "tick_catchup_vs_raw_copy": round(found["new"] / found["seconds"] / raw, 3),
        "tick_catchup_vs_aim": round(found["new"] / found["seconds"] / AIM_TICKS_PER_SECOND, 2),
        "tick_messages": found["published"],
        "tick_published_ticks": found["published_ticks"],
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")  # fmt: skip
    result = measure(args.symbols, args.hours, args.repeats)
    for name, value in result.items():
        print(f"{name:<40}{value:>14,}")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
