"""``--backfill`` as a user runs it: the whole process, timed, against a raw COPY of its rows.

    .venv/bin/python -m bench.bench_backfill [--symbols 15] [--days 60] [--quick] [--scale]

Runs ``python -m bridge_v3.main --backfill DAYS --timeframes M1`` as a subprocess on the
simulated terminal (forex, gold and crypto symbols) into an empty scratch database, from
start to exit; then COPYs the very rows it stored into an empty table of the same columns
and primary key (the limit); then runs the same backfill again (everything is stored
already). With ``--scale`` it then loads ``bars`` with ``--scale-rows`` rows of other
accounts and symbols (``generate_series`` in SQL) and times a backfill of new accounts'
history into that big table, and the steady cycle on it, against the empty-table figures.

Prints a table, then, last, one JSON line with every figure. Aims: process >= 0.6 of the raw
COPY; the second run under half the first; with ``--scale``, >= 0.8 of the empty table.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from bench._common import scratch_database, scratch_redis, timed
from bench.pipeline_measures import steady_cycles
from bench.pipeline_rig import bench_settings, running_bridge, symbol_names
from bridge_v3.config.constants import TIMEFRAMES
from bridge_v3.config.settings import PostgresSettings, RedisSettings
from bridge_v3.services.bar_store import BAR_COLUMNS
from bridge_v3.services.database_service import DatabaseService
from bridge_v3.simulator.clock import ManualClock

FOREX = ("EURUSD", "GBPUSD", "USDJPY", "USDCHF", "AUDUSD", "USDCAD", "NZDUSD", "EURGBP",
         "EURCHF", "EURAUD", "XAUUSD")  # fmt: skip
CRYPTO = ("BTCUSD", "ETHUSD", "LTCUSD", "XRPUSD")
AIM_COPY_RATIO = 0.60
AIM_AGAIN_RATIO = 0.50
AIM_SCALE_RATIO = 0.80
# The steady cycle's simulated clock: a Wednesday morning, forex open (as bench_pipeline).
CYCLE_START = datetime(2026, 3, 25, 9, 0, 30, tzinfo=timezone.utc).timestamp()
CYCLE_TIMEFRAMES = tuple(TIMEFRAMES[name] for name in ("M1", "M5", "M15"))
ROOT = Path(__file__).resolve().parent.parent
FULL = {"symbols": 15, "days": 60.0, "scale_rows": 20_000_000, "cycles": 7}
QUICK = {"symbols": 2, "days": 1.0, "scale_rows": 200_000, "cycles": 1}


def pick_symbols(count: int) -> tuple[list[str], list[str]]:
    """``count`` symbols, crypto and gold among them: (forex and gold, crypto)."""
    crypto = list(CRYPTO[: max(1, count * len(CRYPTO) // 15)]) if count > 1 else []
    forex = [s for s in FOREX if s != "XAUUSD"][: max(0, count - len(crypto) - 1)]
    return forex + ["XAUUSD"], crypto


def backfill_env(
    postgres: PostgresSettings, prefix: str, spool: Path, symbols: tuple[list, list]
) -> dict[str, str]:
    """The environment of one ``--backfill`` process: simulator, scratch database, Redis
    prefix and spool of its own, no metrics endpoint."""
    forex, crypto = symbols
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POSTGRES_", "REDIS_"))}
    env.update(
        MT5_BACKEND="simulator", SIM_SPEED="1", SIM_SEED="7", METRICS_PORT="0",
        POSTGRES_HOST=postgres.host, POSTGRES_PORT=str(postgres.port), POSTGRES_DB=postgres.db,
        POSTGRES_USER=postgres.user, POSTGRES_PASSWORD=postgres.password.reveal(),
        REDIS_HOST=os.environ.get("TEST_REDIS_HOST", "127.0.0.1"),
        REDIS_PORT=os.environ.get("TEST_REDIS_PORT", "6379"), REDIS_PREFIX=prefix,
        SPOOL_PATH=str(spool / "outbox.sqlite3"), LOG_FILE=str(spool / "bridge.log"),
        FOREX_PAIRS=",".join(forex), FOREX_TIMEFRAME="M1",
        CRYPTO_ENABLED="true" if crypto else "false", CRYPTO_PAIRS=",".join(crypto) or "BTCUSD",
        CRYPTO_TIMEFRAME="M1", TRADING_MODE="safety", STRATEGIES="",
    )  # fmt: skip
    return env


def run_backfill(env: dict[str, str], days: float) -> dict[str, float]:
    """Seconds from start to exit of one ``--backfill`` process (it must exit 0), and from
    its last line the seconds of the load itself and of those inside terminal calls."""
    settings_file = Path(env["SPOOL_PATH"]).with_name("empty.env")
    settings_file.touch()  # every setting comes from the environment
    command = [sys.executable, "-m", "bridge_v3.main", "--env-file", str(settings_file)]
    command += ["--backfill", f"{days:g}", "--timeframes", "M1"]
    started = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"--backfill exited {done.returncode}:\n{done.stderr[-3000:]}")
    last = done.stdout.strip().splitlines()[-1]  # "bars fetched: 12  ...  seconds: 1.5  ..."
    summary = {k.strip(): v for k, v in re.findall(r"([a-z/ ]+): ([0-9.]+)", last)}
    return {
        "seconds": seconds,
        "load_seconds": float(summary["seconds"]),
        "terminal_seconds": float(summary["terminal seconds"]),
    }


def count_bars(db: DatabaseService, account_clause: str = "TRUE") -> int:
    return db.fetch_all(f"SELECT count(*) FROM bars WHERE {account_clause}")[0][0]


def measure(args: argparse.Namespace) -> dict:
    symbols = pick_symbols(args.symbols)
    with scratch_redis() as (_client, redis_settings):
        with _scratch_bridge(redis_settings.prefix, symbols) as (db, env, _):
            found = _measure_runs(args, db, env, symbols[0] + symbols[1])
        if args.scale:
            with _scratch_bridge(redis_settings.prefix + "s", symbols) as (db, env, postgres):
                found["scale"] = _measure_scale(args, db, env, postgres, redis_settings)
            with scratch_database() as empty:
                found["cycle"] = steady_cycle(empty, redis_settings, args.cycles)
        return found


def steady_cycle(postgres: PostgresSettings, redis: RedisSettings, cycles: int) -> dict:
    """``bench.pipeline_measures.steady_cycles`` (40 symbols x M1, M5, M15, one new bar
    each) of a bridge in this process on the database of ``postgres``."""
    clock = ManualClock(CYCLE_START)
    with tempfile.TemporaryDirectory() as spool:
        settings = bench_settings(
            postgres, redis, str(Path(spool) / "outbox.sqlite3"), symbol_names(40),
            CYCLE_TIMEFRAMES,
        )  # fmt: skip
        with running_bridge(settings, clock) as bridge:
            return steady_cycles(bridge, clock, cycles)


@contextmanager
def _scratch_bridge(prefix: str, symbols: tuple[list, list]):
    """An empty scratch database and the environment of a backfill process into it."""
    with scratch_database() as postgres, tempfile.TemporaryDirectory() as spool:
        db = DatabaseService(postgres, application_name="bridge_v3_bench")
        db.start()
        try:
            yield db, backfill_env(postgres, prefix, Path(spool), symbols), postgres
        finally:
            db.close()


def _measure_runs(args, db: DatabaseService, env: dict, symbols: list) -> dict:
    started = time.time()
    first = run_backfill(env, args.days)
    bars = count_bars(db)
    if not bars:
        raise SystemExit("the backfill stored nothing; figures withheld")
    copy = raw_copy_seconds(db)
    again = run_backfill(env, args.days)
    # The simulated clock is real time: minutes closed since the first run are new.
    allowed = len(symbols) * (int(time.time() - started) // 60 + 2)
    if not 0 <= count_bars(db) - bars <= allowed:
        raise SystemExit(f"the second run stored {count_bars(db) - bars} bars; figures withheld")
    return {"bars": bars, "symbols": len(symbols), "days": args.days,
            "first": first, "copy_seconds": copy, "again": again}  # fmt: skip


def raw_copy_seconds(db: DatabaseService) -> float:
    """PostgreSQL's own limit: the stored rows, already in COPY text (read back with COPY
    TO), COPYed into an empty table of the same columns and primary key. Only the COPY
    into the table is timed."""
    columns = ", ".join(BAR_COLUMNS)
    text = io.BytesIO()
    with db.connection() as conn, conn.cursor() as cur:
        cur.copy_expert(f"COPY (SELECT {columns} FROM bars ORDER BY {columns}) TO STDOUT", text)
        cur.execute("CREATE TABLE bars_raw (LIKE bars INCLUDING ALL)")
    text.seek(0)
    with db.connection() as conn, conn.cursor() as cur:
        seconds, _ = timed(
            lambda: cur.copy_expert(f"COPY bars_raw ({columns}) FROM STDIN", text, size=1 << 20)
        )
        cur.execute("DROP TABLE bars_raw")
    return seconds


def _measure_scale(args, db: DatabaseService, env: dict, postgres, redis) -> dict:
    """Fill ``bars`` with other accounts' rows, then run steady cycles and a backfill (of
    a later time: a cycle's simulated clock is in the past) on it."""
    db.migrate()
    loaded, _ = timed(lambda: load_big_table(db, args.scale_rows))
    big = count_bars(db)
    cycle = steady_cycle(postgres, redis, args.cycles)
    big_with_cycles = count_bars(db)
    run = run_backfill(env, args.days)
    return {"rows_before": big, "load_seconds": loaded, "cycle": cycle,
            "bars": count_bars(db) - big_with_cycles, "seconds": run["seconds"],
            "backfill_load_seconds": run["load_seconds"]}  # fmt: skip


def load_big_table(db: DatabaseService, rows: int) -> None:
    """``rows`` M1 bars of accounts and symbols the measured runs never touch, in SQL."""
    per_series = max(rows // 100, 1)  # 100 series: 5 accounts x 20 symbols
    # The key is built once after the rows are in (a sort), not kept up row by row.
    db.execute("ALTER TABLE bars DROP CONSTRAINT bars_pkey")
    db.execute(
        "INSERT INTO bars (account, symbol, timeframe, time, open, high, low, close,"
        " tick_volume, spread, real_volume)"
        " SELECT 900000 + s / 20, 'BIG' || mod(s, 20), 'M1',"
        " timestamptz '2010-01-01 00:00Z' + make_interval(mins => i),"
        " 1.1 + mod(i, 97) * 1e-4, 1.1 + mod(i, 97) * 1e-4 + 2e-4,"
        " 1.1 + mod(i, 97) * 1e-4 - 2e-4, 1.1 + mod(i, 89) * 1e-4, 10 + mod(i, 50), 2, 0"
        " FROM (SELECT n / %(per)s AS s, mod(n, %(per)s) AS i"
        "       FROM generate_series(0, 100 * %(per)s - 1) AS n) AS g",  # in key order
        {"per": per_series},
    )
    db.execute("ALTER TABLE bars ADD PRIMARY KEY (account, symbol, timeframe, time)")
    with db.connection() as conn:
        conn.commit()
        conn.autocommit = True  # VACUUM runs outside a transaction
        try:
            conn.cursor().execute("VACUUM ANALYZE bars")
            # Written out now, not by a checkpoint in the middle of the measured runs.
            conn.cursor().execute("CHECKPOINT")
        finally:
            conn.autocommit = False


def figures(found: dict) -> dict:
    bars, first, again, copy = found["bars"], found["first"], found["again"], found["copy_seconds"]
    load = first["load_seconds"]
    result = {
        "backfill_process_bars": bars,
        "backfill_process_symbols": found["symbols"],
        "backfill_process_days": found["days"],
        "backfill_process_seconds": round(first["seconds"], 2),
        "backfill_process_bars_per_s": round(bars / first["seconds"]),
        "backfill_raw_copy_seconds": round(copy, 2),
        "backfill_raw_copy_rows_per_s": round(bars / copy),
        "backfill_process_vs_raw_copy": round(copy / first["seconds"], 3),
        "backfill_outside_load_seconds": round(first["seconds"] - load, 2),
        "backfill_load_seconds": round(load, 2),
        "backfill_load_terminal_seconds": round(first["terminal_seconds"], 2),
        "backfill_load_vs_raw_copy": round(copy / max(load, 0.01), 3),
        "backfill_load_beyond_terminal_vs_raw_copy": round(
            copy / max(load - first["terminal_seconds"], 0.01), 3
        ),
        "backfill_again_seconds": round(again["seconds"], 2),
        "backfill_again_load_seconds": round(again["load_seconds"], 2),
        "backfill_again_terminal_seconds": round(again["terminal_seconds"], 2),
        "backfill_again_vs_first": round(again["seconds"] / first["seconds"], 3),
        "backfill_again_load_vs_first": round(again["load_seconds"] / max(load, 0.01), 3),
    }
    if "scale" in found:
        s = found["scale"]
        rate = s["bars"] / s["seconds"]
        result.update(
            scale_rows_before=s["rows_before"],
            scale_load_seconds=round(s["load_seconds"], 1),
            scale_backfill_bars_per_s=round(rate),
            scale_backfill_vs_empty=round(rate / result["backfill_process_bars_per_s"], 3),
            scale_backfill_load_seconds=round(s["backfill_load_seconds"], 2),
            scale_cycle_overhead_ms=round(s["cycle"]["overhead_seconds"] * 1000, 2),
            empty_cycle_overhead_ms=round(found["cycle"]["overhead_seconds"] * 1000, 2),
            # As a rate (cycles per second beyond the terminal): big over empty.
            scale_cycle_vs_empty=round(
                found["cycle"]["overhead_seconds"] / s["cycle"]["overhead_seconds"], 3
            ),
        )
    return result


def aims(f: dict) -> dict[str, dict]:
    checks = {
        "backfill_process_vs_raw_copy": (AIM_COPY_RATIO, True),
        "backfill_again_vs_first": (AIM_AGAIN_RATIO, False),
        "scale_backfill_vs_empty": (AIM_SCALE_RATIO, True),
        "scale_cycle_vs_empty": (AIM_SCALE_RATIO, True),
    }
    return {
        name: {"value": f[name], "aim": aim, "met": f[name] >= aim if at_least else f[name] < aim}
        for name, (aim, at_least) in checks.items()
        if name in f
    }


def table(f: dict, *, quick: bool = False) -> str:
    met = aims(f)
    note = " (QUICK: smoke sizes, figures mean nothing)" if quick else ""
    lines = [
        f"--backfill {f['backfill_process_days']:g} --timeframes M1, "
        f"{f['backfill_process_symbols']} symbols{note}: {f['backfill_process_bars']:,} bars",
        f"{'figure':<46}{'value':>14}  aim",
    ]
    rows = [
        ("process, start to exit (s)", f"{f['backfill_process_seconds']:.2f}", None),
        ("  of which start-up and shut-down (s)", f"{f['backfill_outside_load_seconds']:.2f}",
         None),
        ("  of which the load (s)", f"{f['backfill_load_seconds']:.2f}", None),
        ("    inside terminal calls (s)", f"{f['backfill_load_terminal_seconds']:.2f}", None),
        ("process (bars/s)", f"{f['backfill_process_bars_per_s']:,}", None),
        ("raw COPY of the same rows (s)", f"{f['backfill_raw_copy_seconds']:.2f}", None),
        ("raw COPY of the same rows (rows/s)", f"{f['backfill_raw_copy_rows_per_s']:,}", None),
        ("process / raw COPY", f"{f['backfill_process_vs_raw_copy']:.3f}",
         "backfill_process_vs_raw_copy"),
        ("load only / raw COPY", f"{f['backfill_load_vs_raw_copy']:.3f}", None),
        ("load beyond terminal calls / raw COPY",
         f"{f['backfill_load_beyond_terminal_vs_raw_copy']:.3f}", None),
        ("second run, all stored (s)", f"{f['backfill_again_seconds']:.2f}", None),
        ("  its load (s)", f"{f['backfill_again_load_seconds']:.2f}", None),
        ("    inside terminal calls (s)", f"{f['backfill_again_terminal_seconds']:.2f}", None),
        ("second run / first", f"{f['backfill_again_vs_first']:.3f}", "backfill_again_vs_first"),
        ("second run / first, loads only", f"{f['backfill_again_load_vs_first']:.3f}", None),
    ]  # fmt: skip
    if "scale_rows_before" in f:
        rows += [
            ("big table: rows already in bars", f"{f['scale_rows_before']:,}", None),
            ("big table: loaded in (s)", f"{f['scale_load_seconds']:.1f}", None),
            ("big table: backfill (bars/s)", f"{f['scale_backfill_bars_per_s']:,}", None),
            ("big table: the load of that backfill (s)",
             f"{f['scale_backfill_load_seconds']:.2f}", None),
            ("big table / empty table", f"{f['scale_backfill_vs_empty']:.3f}",
             "scale_backfill_vs_empty"),
            ("steady cycle beyond terminal, empty table (ms)",
             f"{f['empty_cycle_overhead_ms']:.1f}", None),
            ("steady cycle beyond terminal, big table (ms)",
             f"{f['scale_cycle_overhead_ms']:.1f}", None),
            ("cycle rate, big table / empty table", f"{f['scale_cycle_vs_empty']:.3f}",
             "scale_cycle_vs_empty"),
        ]  # fmt: skip
    for label, value, key in rows:
        verdict = ""
        if key:
            sign = ">=" if key != "backfill_again_vs_first" else "<"
            verdict = f"{sign} {met[key]['aim']} {'met' if met[key]['met'] else 'MISSED'}"
        lines.append(f"{label:<46}{value:>14}  {verdict}")
    return "\n".join(lines) + "\n"


def stage(*, quick: bool, scale: bool = False) -> dict:
    """The figures of a run at the full or quick sizes (with the big table if ``scale``):
    ``bench.bench_pipeline``'s stage."""
    return figures(measure(parse_args(["--quick"] * quick + ["--scale"] * scale)))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 symbols x 1 day: a smoke run")
    parser.add_argument("--symbols", type=int, help="symbols backfilled (at most 15)")
    parser.add_argument("--days", type=float, help="days of M1 history")
    parser.add_argument("--scale", action="store_true", help="also into a big bars table")
    parser.add_argument("--scale-rows", type=int, help="rows loaded for --scale")
    parser.add_argument("--cycles", type=int, help="steady cycles measured with --scale")
    args = parser.parse_args(argv)
    for name, value in (QUICK if args.quick else FULL).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if not 1 <= args.symbols <= len(FOREX) + len(CRYPTO):
        parser.error(f"--symbols: 1 to {len(FOREX) + len(CRYPTO)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results = figures(measure(args))
    sys.stdout.write(table(results, quick=args.quick))
    results["aims"] = aims(results)
    sys.stdout.write(json.dumps(results) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
