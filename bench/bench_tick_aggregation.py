"""Tick aggregation rate (ticks/s) against a pandas resample baseline, in one run.

    .venv/bin/python -m bench.bench_tick_aggregation [--ticks 5000000] [--repeats 3]

Generates ticks like a busy symbol (exponential gaps, random-walk bid), aggregates them
into bars per period with ``aggregate_ticks`` and with pandas (``resample().ohlc()`` plus
``count()``, Series construction included), and prints the best of ``--repeats`` runs as
ticks/s and as a ratio to pandas; the last line is the same figures as one JSON object.
Aim (DESIGN §6): >= 1,000,000 ticks/s.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from bridge_v3.controllers.tick_aggregation import aggregate_ticks

PERIODS = {"S1": "1s", "M1": "1min", "H1": "1h", "D1": "1D", "MN1": "MS"}
AIM_TICKS_PER_SECOND = 1_000_000


def make_ticks(count: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """``count`` ticks from 2024-01-02, 250 ms apart on average, bid walking from 1.08."""
    rng = np.random.default_rng(seed)
    gaps = rng.exponential(250.0, count).astype(np.int64)
    time_msc = 1_704_153_600_000 + np.cumsum(gaps)
    bid = np.round(1.08 + np.cumsum(rng.normal(0.0, 0.00002, count)), 5)
    return time_msc, bid


def best_seconds(run: Callable[[], object], repeats: int) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeats):
        started = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - started)
    return best, result


def pandas_bars(time_msc: np.ndarray, bid: np.ndarray, rule: str) -> pd.DataFrame:
    grouped = pd.Series(bid, index=pd.to_datetime(time_msc, unit="ms")).resample(rule)
    bars = grouped.ohlc()
    bars["count"] = grouped.count()
    return bars[bars["count"] > 0]


def measure(time_msc: np.ndarray, bid: np.ndarray, period: str, repeats: int) -> dict:
    ours_s, ours = best_seconds(lambda: aggregate_ticks(time_msc, bid, period), repeats)
    theirs_s, theirs = best_seconds(lambda: pandas_bars(time_msc, bid, PERIODS[period]), repeats)
    if len(ours) != len(theirs) or not np.array_equal(ours["close"], theirs["close"].to_numpy()):
        raise SystemExit(f"{period}: aggregate_ticks and pandas disagree; figures withheld")
    return {
        "period": period,
        "bars": len(ours),
        "ticks_per_s": round(time_msc.size / ours_s),
        "pandas_ticks_per_s": round(time_msc.size / theirs_s),
        "ratio_vs_pandas": round(theirs_s / ours_s, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=5_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    time_msc, bid = make_ticks(args.ticks)
    rows = [measure(time_msc, bid, period, args.repeats) for period in PERIODS]
    print(f"tick aggregation, {args.ticks:,} ticks, best of {args.repeats}")
    print(f"{'period':<7}{'bars':>10}{'ticks/s':>16}{'pandas ticks/s':>18}{'x pandas':>10}")
    for row in rows:
        print(
            f"{row['period']:<7}{row['bars']:>10,}{row['ticks_per_s']:>16,}"
            f"{row['pandas_ticks_per_s']:>18,}{row['ratio_vs_pandas']:>10.2f}"
        )
    slowest = min(row["ticks_per_s"] for row in rows)
    summary = {"ticks": args.ticks, "periods": rows, "min_ticks_per_s": slowest}
    summary["aim_ticks_per_s"] = AIM_TICKS_PER_SECOND
    summary["aim_met"] = slowest >= AIM_TICKS_PER_SECOND
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
