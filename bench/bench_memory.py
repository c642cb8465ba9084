"""Memory of a long run: the daemon's own jobs on a fast simulated clock, RSS sampled.

    .venv/bin/python -m bench.bench_memory [--minutes 60] [--symbols 40] [--speed 60]

Runs ``Bridge.run`` (scheduler, worker pool, every job) in this process against a
scratch PostgreSQL database and Redis key prefix, on the benchmark's wide simulated
broker (``bench.pipeline_rig``), with ``--symbols`` symbols x M1/M5/M15 and ``--tick-symbols``
symbols' ticks. At ``--speed`` 60 one simulated minute passes every second, so with
``PRICE_FETCH_INTERVAL=1`` an M1 bar closes on every price cycle. The resident set size is
read from ``/proc/self/status`` every ``--every`` seconds; the curve is written to
``--curve`` (CSV) and summarised: RSS at minute 10 and at the end, growth between them,
peak. Last line: one JSON object. Linux only (``/proc``).
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import sys
import tempfile
import threading
import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

from bench._common import scratch_database, scratch_redis
from bench.pipeline_rig import bench_settings, symbol_names, wide_simulator_backend
from bridge_v3.config.constants import TIMEFRAMES
from bridge_v3.config.settings import OperationsSettings, WorkerSettings
from bridge_v3.daemon import Bridge
from bridge_v3.simulator.clock import WallClock

# A Monday morning: sixty simulated hours later it is still mid-week, forex open throughout.
START = datetime(2026, 3, 23, 6, 0, tzinfo=timezone.utc).timestamp()
TIMEFRAME_NAMES = ("M1", "M5", "M15")
WARM_MINUTE = 10


def rss_mb() -> float:
    """This process's resident set size in MiB, from /proc."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise SystemExit("no VmRSS in /proc/self/status: this benchmark needs Linux")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0, help="length of the run")
    parser.add_argument("--symbols", type=int, default=40, help="symbols x M1/M5/M15")
    parser.add_argument("--tick-symbols", type=int, default=5, help="symbols whose ticks are kept")
    parser.add_argument("--speed", type=float, default=60.0, help="simulated seconds per second")
    parser.add_argument("--every", type=float, default=10.0, help="seconds between samples")
    parser.add_argument("--curve", default="artifacts/memory_curve.csv", help="CSV written")
    return parser.parse_args(argv)


def run_settings(args, postgres, redis_settings, spool: str):
    symbols = symbol_names(args.symbols)
    timeframes = tuple(TIMEFRAMES[name] for name in TIMEFRAME_NAMES)
    settings = bench_settings(postgres, redis_settings, spool, symbols, timeframes)
    return replace(
        settings,
        market=replace(settings.market, tick_symbols=tuple(symbols[: args.tick_symbols])),
        worker=WorkerSettings(price_fetch_interval=1.0, heartbeat_interval=5.0),
        operations=OperationsSettings(metrics_port=0),
    )


def sample(args, bridge: Bridge, stop: threading.Event) -> list[tuple[float, float, int]]:
    """(minutes since start, RSS MiB, bars stored) every ``args.every`` s until the end."""
    started = time.monotonic()
    curve = []
    while True:
        minutes = (time.monotonic() - started) / 60
        curve.append(
            (minutes, rss_mb(), bridge.database.fetch_all("SELECT count(*) FROM bars")[0][0])
        )
        print(f"{minutes:6.1f} min  RSS {curve[-1][1]:7.1f} MiB  bars {curve[-1][2]:,}", flush=True)
        if minutes >= args.minutes or stop.wait(args.every):
            return curve


def summary(curve: list[tuple[float, float, int]]) -> dict:
    warm = next((point for point in curve if point[0] >= WARM_MINUTE), curve[0])
    end = curve[-1]
    return {
        "minutes": round(end[0], 1),
        "rss_start_mb": round(curve[0][1], 1),
        "rss_at_10_min_mb": round(warm[1], 1),
        "rss_end_mb": round(end[1], 1),
        "rss_peak_mb": round(max(point[1] for point in curve), 1),
        "growth_after_10_min_pct": round(100 * (end[1] - warm[1]) / warm[1], 1),
        "bars_stored": end[2],
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")  # fmt: skip
    clock = WallClock(START, speed=args.speed)
    with (
        scratch_database() as postgres,
        scratch_redis() as (_client, redis_settings),
        tempfile.TemporaryDirectory() as spool,
    ):
        settings = run_settings(args, postgres, redis_settings, str(Path(spool) / "outbox.sqlite3"))
        stop = threading.Event()
        bridge = Bridge(settings, stop, wide_simulator_backend(clock))
        bridge.connect()
        runner = threading.Thread(target=bridge.run, name="bridge", daemon=True)
        runner.start()
        try:
            curve = sample(args, bridge, threading.Event())
        finally:
            stop.set()
            runner.join(30)
            bridge.shutdown(drain_seconds=30.0)
    Path(args.curve).parent.mkdir(parents=True, exist_ok=True)
    with open(args.curve, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["minutes", "rss_mib", "bars_stored"])
        writer.writerows((round(m, 2), round(r, 1), b) for m, r, b in curve)
    result = summary(curve)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
