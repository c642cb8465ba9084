"""The whole price pipeline against its limits and against V2, in one run.

    .venv/bin/python -m bench.bench_pipeline [--symbols 20] [--days 21] [--quick] ...

Builds the bridge as the daemon does, on an in-process simulated terminal driven by a
manual clock, against the real PostgreSQL (a scratch database, dropped afterwards) and
Redis (a key prefix of its own, deleted afterwards) of TEST_POSTGRES_* / TEST_REDIS_*, and
measures, each against a baseline taken in the same run:

- backfill: ``PriceController.backfill`` of M1 history for ``--symbols`` symbols, end to end
  and without the time spent inside terminal calls (the simulator generating history is not
  the bridge's cost), against a raw COPY of the same rows into an empty ``bars``-shaped
  table and against V2's one INSERT + commit + PUBLISH per bar (on ``--baseline-rows``);
- a steady cycle: ``--cycle-symbols`` x (M1, M5, M15), one new bar per series, every sync
  through the daemon's worker pool; the median of ``--cycles`` cycles, wall time minus
  terminal-call time;
- tick aggregation (``aggregate_ticks``) against pandas resample;
- bar publishing through ``Publisher.publish_many`` against a bare redis-py pipeline of the
  same PUBLISH + XADD commands with pre-serialised envelopes;
- latency (``bench.bench_latency``): a real ``Bridge.run`` with PRICE_FETCH_INTERVAL=1 on a
  simulated terminal at real speed, from each bar's close to a Redis subscriber, over
  ``--latency-minutes`` of closes of ``--cycle-symbols`` x (M1, M5, M15).
- ``--backfill`` as a user runs it, a whole process (``bench.bench_backfill``: 15 symbols x
  60 days, quick: 2 x 1), against a raw COPY of its rows, and run again over stored rows.
- a tick catch-up (``bench.bench_ticks``) against a raw COPY of the same rows;
- ten bridges on one database (``bench.bench_fleet``) against one alone;
- memory of a long run (``bench.bench_memory``, ``--memory-minutes``; 0 skips it).

Prints a table, then, last, one JSON line with every figure. Aims are DESIGN §6.
``--quick`` runs everything on tiny sizes (a smoke run: its figures mean nothing).
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from bench import bench_backfill, bench_fleet, bench_latency, bench_memory, bench_ticks
from bench import pipeline_measures as measures
from bench._common import scratch_database, scratch_redis
from bench.bench_tick_aggregation import PERIODS
from bench.pipeline_report import aims, figures, table
from bench.pipeline_rig import bench_settings, running_bridge, symbol_names
from bridge_v3.config.constants import TIMEFRAMES
from bridge_v3.simulator.clock import ManualClock

# A Wednesday morning: forex is open for the steady cycles that follow the backfill.
START = datetime(2026, 3, 25, 9, 0, 30, tzinfo=timezone.utc).timestamp()
CYCLE_TIMEFRAMES = tuple(TIMEFRAMES[name] for name in ("M1", "M5", "M15"))

FULL = {
    "symbols": 20, "days": 21, "baseline_rows": 2000, "cycle_symbols": 40, "cycles": 7,
    "ticks": 2_000_000, "tick_periods": ",".join(PERIODS), "repeats": 3, "messages": 50_000,
    "latency_minutes": 2, "latency_lead": bench_latency.LEAD_SECONDS,
    "memory_minutes": 60.0,
}  # fmt: skip
QUICK = {
    "symbols": 2, "days": 1, "baseline_rows": 20, "cycle_symbols": 2, "cycles": 1,
    "ticks": 20_000, "tick_periods": "M1", "repeats": 1, "messages": 200,
    "latency_minutes": 0, "latency_lead": 3.0,
    "memory_minutes": 0.3,
}  # fmt: skip


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    parser.add_argument("--symbols", type=int, help="symbols backfilled (M1)")
    parser.add_argument("--days", type=float, help="days of M1 history per symbol")
    parser.add_argument("--baseline-rows", type=int, help="bars written the V2 way")
    parser.add_argument("--cycle-symbols", type=int, help="symbols in the steady cycle")
    parser.add_argument("--cycles", type=int, help="steady cycles measured (median)")
    parser.add_argument("--ticks", type=int, help="ticks aggregated")
    parser.add_argument("--tick-periods", help="comma-separated, e.g. S1,M1,H1")
    parser.add_argument("--repeats", type=int, help="best of N for ticks and publishing")
    parser.add_argument("--messages", type=int, help="bar messages published")
    parser.add_argument("--latency-minutes", type=int, help="minutes of closes for latency")
    parser.add_argument("--latency-lead", type=float, help="seconds run before the first close")
    parser.add_argument("--memory-minutes", type=float, help="long run for memory; 0 skips")
    parser.add_argument(
        "--scale", action="store_true", help="also backfill into a big bars table (minutes)"
    )
    parser.add_argument("--verbose", action="store_true", help="the bridge's own log lines")
    args = parser.parse_args(argv)
    for name, value in (QUICK if args.quick else FULL).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    return args


def measure_bridge(args: argparse.Namespace) -> dict:
    """Everything that needs the bridge: backfill, limits, V2, cycles, publishing."""
    symbols = symbol_names(max(args.symbols, args.cycle_symbols))
    clock = ManualClock(START)
    with (
        scratch_database() as postgres,
        scratch_redis() as (client, redis_settings),
        tempfile.TemporaryDirectory() as spool,
    ):
        settings = bench_settings(
            postgres, redis_settings, str(Path(spool) / "outbox.sqlite3"),
            symbols[: args.cycle_symbols], CYCLE_TIMEFRAMES,
        )  # fmt: skip
        with running_bridge(settings, clock) as bridge:
            return measure_stages(args, bridge, client, clock, symbols[: args.symbols])


def measure_stages(args, bridge, client, clock: ManualClock, backfilled: list[str]) -> dict:
    found = {"backfill": measures.backfill(bridge, backfilled, args.days)}
    rows = measures.stored_rows(bridge.database, backfilled)
    found["copy_seconds"] = measures.copy_limit(bridge.database, rows, args.repeats)
    found["v2"] = measures.v2_baseline(bridge, client, rows[: args.baseline_rows])
    found["cycle"] = measures.steady_cycles(bridge, clock, args.cycles)
    found["publish"] = measures.publishing(bridge, client, args.messages, args.repeats)
    return found


def measure_separate(args: argparse.Namespace) -> dict:
    """The stages that build their own bridges: tick catch-up, fleet, memory."""
    size = ["--quick"] if args.quick else []
    ticks = bench_ticks.parse_args(size)
    found = {
        "tick_catchup": bench_ticks.measure(ticks.symbols, ticks.hours, ticks.repeats),
        "fleet": bench_fleet.measure(bench_fleet.parse_args(size)),
    }
    if args.memory_minutes:
        memory = ["--minutes", str(args.memory_minutes), "--every", "5" if args.quick else "10"]
        with tempfile.TemporaryDirectory() as scratch:
            if args.quick:  # a smoke run's curve is not kept
                memory += ["--curve", str(Path(scratch) / "memory_curve.csv")]
            found["memory"] = memory_in_own_process(memory)
    return found


def memory_in_own_process(arguments: list[str]) -> dict:
    """``bench.bench_memory`` in a fresh process: this one's RSS holds the other stages."""
    command = [sys.executable, "-m", bench_memory.__name__, *arguments]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    found = measure_bridge(args)
    found["backfill_process"] = bench_backfill.stage(quick=args.quick, scale=args.scale)
    periods = [p.strip() for p in args.tick_periods.split(",") if p.strip()]
    found["ticks"] = measures.tick_aggregation(args.ticks, periods, args.repeats)
    found["latency"] = bench_latency.measure(
        args.cycle_symbols, args.latency_minutes, args.latency_lead
    )
    found.update(measure_separate(args))
    results = figures(found)
    sys.stdout.write(table(results, found, quick=args.quick))
    results["aims"] = aims(results)
    sys.stdout.write(json.dumps(results) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
