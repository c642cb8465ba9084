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

The simulated terminal lives in this process (a real one is a process of its own): the
bytes of bars and ticks its market holds in its caches are sampled too, and "bridge alone"
is the process's RSS minus them. That split is a lower bound on the simulator's share
(its code, buffers being built and allocator slack are charged to the bridge).
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
from bench.pipeline_rig import bench_settings, symbol_names, wide_market, wide_simulator_backend
from bridge_v3.config.constants import TIMEFRAMES
from bridge_v3.config.settings import OperationsSettings, WorkerSettings
from bridge_v3.daemon import Bridge
from bridge_v3.simulator.clock import WallClock

# A Monday morning: sixty simulated hours later it is still mid-week, forex open throughout.
START = datetime(2026, 3, 23, 6, 0, tzinfo=timezone.utc).timestamp()
TIMEFRAME_NAMES = ("M1", "M5", "M15")
WARM_MINUTE = 10
MIB = 1024 * 1024


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


def sample(args, bridge: Bridge, market, stop: threading.Event) -> list[tuple]:
    """(minutes since start, RSS MiB, simulator MiB, bars stored) every ``args.every`` s."""
    started = time.monotonic()
    curve = []
    while True:
        minutes = (time.monotonic() - started) / 60
        bars = bridge.database.fetch_all("SELECT count(*) FROM bars")[0][0]
        curve.append((minutes, rss_mb(), market.cached_bytes() / MIB, bars))
        _, rss, simulator, _ = curve[-1]
        print(
            f"{minutes:6.1f} min  RSS {rss:7.1f} MiB  (simulator {simulator:6.1f}, "
            f"bridge alone {rss - simulator:7.1f})  bars {bars:,}",
            flush=True,
        )
        if minutes >= args.minutes or stop.wait(args.every):
            return curve


def summary(curve: list[tuple]) -> dict:
    warm = next((point for point in curve if point[0] >= WARM_MINUTE), curve[0])
    end = curve[-1]

    def alone(point) -> float:
        return point[1] - point[2]

    return {
        "minutes": round(end[0], 1),
        "rss_start_mb": round(curve[0][1], 1),
        "rss_at_10_min_mb": round(warm[1], 1),
        "rss_end_mb": round(end[1], 1),
        "rss_peak_mb": round(max(point[1] for point in curve), 1),
        "growth_after_10_min_pct": round(100 * (end[1] - warm[1]) / warm[1], 1),
        "simulator_end_mb": round(end[2], 1),
        "bridge_alone_start_mb": round(alone(curve[0]), 1),
        "bridge_alone_end_mb": round(alone(end), 1),
        "bridge_alone_peak_mb": round(max(alone(point) for point in curve), 1),
        "bridge_alone_growth_after_10_min_pct": round(
            100 * (alone(end) - alone(warm)) / alone(warm), 1
        ),
        "bars_stored": end[3],
    }


def measure(args: argparse.Namespace) -> dict:
    """Run the daemon for ``args.minutes``, write the curve, return the summary."""
    clock = WallClock(START, speed=args.speed)
    with (
        scratch_database() as postgres,
        scratch_redis() as (_client, redis_settings),
        tempfile.TemporaryDirectory() as spool,
    ):
        settings = run_settings(args, postgres, redis_settings, str(Path(spool) / "outbox.sqlite3"))
        stop = threading.Event()
        market = wide_market(clock)
        bridge = Bridge(settings, stop, wide_simulator_backend(clock, market))
        bridge.connect()
        runner = threading.Thread(target=bridge.run, name="bridge", daemon=True)
        runner.start()
        try:
            curve = sample(args, bridge, market, threading.Event())
        finally:
            stop.set()
            runner.join(30)
            bridge.shutdown(drain_seconds=30.0)
    Path(args.curve).parent.mkdir(parents=True, exist_ok=True)
    with open(args.curve, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["minutes", "rss_mib", "simulator_mib", "bridge_alone_mib", "bars_stored"])
        writer.writerows(
            (round(m, 2), round(r, 1), round(s, 1), round(r - s, 1), b) for m, r, s, b in curve
        )
    return summary(curve)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")  # fmt: skip
    print(json.dumps(measure(args)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
