"""Latency of a closed bar: from its close on the terminal's clock to a Redis subscriber.

    .venv/bin/python -m bench.bench_latency [--minutes 3] [--symbols 40] [--quick]

Runs ``Bridge.run`` (scheduler, worker pool, every job) with ``PRICE_FETCH_INTERVAL=1`` on
the benchmark's wide simulated broker following the wall clock at real speed, against a
scratch PostgreSQL database and Redis key prefix. The simulated clock starts a few seconds
before a quarter hour, on the same fraction of a second as the host's clock (so the bars
close where a real broker's would, relative to the host's seconds), and a subscriber thread
on every bar channel records, for each bar closing after the start, the arrival time minus
the bar's close (open + timeframe), both on the simulated clock. ``--symbols`` symbols x
M1/M5/M15: every minute closes ``--symbols`` bars, every quarter hour three times as many.

A bar is final only once the terminal shows a tick past its end (see ``bar_closure``), so
each delay is split in two: the market's part, from the close to the symbol's first tick
after it (the feed, not the bridge), and the bridge's part, from that tick (or the close,
whichever is later) to the subscriber: the polling interval, the cycle and the delivery.

Prints the percentiles, then, last, one JSON line. ``--quick``: the quarter-hour close
only (about 15 s).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import threading
import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import redis

from bench._common import scratch_database, scratch_redis
from bench.pipeline_rig import bench_settings, symbol_names, wide_simulator_backend
from bridge_v3.config.constants import TIMEFRAMES
from bridge_v3.config.settings import OperationsSettings, WorkerSettings
from bridge_v3.daemon import Bridge
from bridge_v3.services.mt5.contract.constants import COPY_TICKS_ALL
from bridge_v3.simulator.clock import WallClock

# A Wednesday morning quarter hour: forex is open.
QUARTER = datetime(2026, 3, 25, 9, 15, tzinfo=timezone.utc).timestamp()
LEAD_SECONDS = 8.0  # simulated time before the first close: start-up and the first cycles
TAIL_SECONDS = 8.0  # after the last close measured: its quietest symbols' first ticks
TIMEFRAME_NAMES = ("M1", "M5", "M15")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the quarter-hour close only")
    parser.add_argument("--minutes", type=int, default=3, help="minutes of closes measured")
    parser.add_argument("--symbols", type=int, default=40, help="symbols x M1/M5/M15")
    parser.add_argument("--verbose", action="store_true", help="the bridge's own log lines")
    args = parser.parse_args(argv)
    if args.quick:
        args.minutes = 0
    return args


class Arrivals:
    """A subscriber thread on ``{prefix}:bar:*`` noting (arrival, symbol, close) per bar
    closing at or after ``since``, arrival on ``clock``."""

    def __init__(self, client: redis.Redis, prefix: str, clock, since: float) -> None:
        self._pubsub = client.pubsub(ignore_subscribe_messages=True)
        self._pubsub.psubscribe(f"{prefix}:bar:*")
        self._clock = clock
        self._since = since
        self.bars: list[tuple[float, str, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._listen, name="subscriber", daemon=True)
        self._thread.start()

    def _listen(self) -> None:
        while not self._stop.is_set():
            message = self._pubsub.get_message(timeout=0.2)
            if message is None:
                continue
            arrived = self._clock()
            data = json.loads(message["data"])["data"]
            timeframe = TIMEFRAMES[data["timeframe"]]
            opened = datetime.fromisoformat(data["time"].replace("Z", "+00:00")).timestamp()
            closed = opened + timeframe.seconds
            if closed >= self._since:
                self.bars.append((arrived, data["symbol"], closed))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._pubsub.close()


def run_settings(symbols: int, postgres, redis_settings, spool: str):
    names = symbol_names(symbols)
    timeframes = tuple(TIMEFRAMES[name] for name in TIMEFRAME_NAMES)
    settings = bench_settings(postgres, redis_settings, spool, names, timeframes)
    return replace(
        settings,
        worker=WorkerSettings(price_fetch_interval=1.0),
        operations=OperationsSettings(metrics_port=0),
    )


def measure(symbols: int, minutes: int, lead: float = LEAD_SECONDS) -> dict:
    """Bars' close-to-subscriber delays, in ms, for the closes from a quarter hour to
    ``minutes`` after it; the run starts ``lead`` seconds before the quarter hour."""
    # Whole simulated seconds fall on whole host seconds, as a broker's clock does.
    clock = WallClock(QUARTER - lead + time.time() % 1)
    with (
        scratch_database() as postgres,
        scratch_redis() as (client, redis_settings),
        tempfile.TemporaryDirectory() as spool,
    ):
        spool_path = str(Path(spool) / "outbox.sqlite3")
        settings = run_settings(symbols, postgres, redis_settings, spool_path)
        stop = threading.Event()
        bridge = Bridge(settings, stop, wide_simulator_backend(clock))
        bridge.connect()
        last_close = QUARTER + int(minutes) * 60
        arrivals = Arrivals(client, redis_settings.prefix, clock.now, QUARTER)
        runner = threading.Thread(target=bridge.run, name="bridge", daemon=True)
        runner.start()
        try:
            while clock.now() < last_close + TAIL_SECONDS and runner.is_alive():
                time.sleep(0.2)
            bars = [bar for bar in list(arrivals.bars) if bar[2] <= last_close]
            evidence = first_ticks(bridge, {(symbol, close) for _, symbol, close in bars})
        finally:
            stop.set()
            runner.join(30)
            bridge.shutdown(drain_seconds=30.0)
            arrivals.close()
    return summary(bars, evidence, symbols, minutes)


def first_ticks(bridge: Bridge, closes: set[tuple[str, float]]) -> dict:
    """(symbol, close) -> UTC time of the symbol's first tick at or after the close."""
    found = {}
    for symbol, close in closes:
        start = int(close * 1000)
        ticks = bridge.mt5.ticks_range(symbol, start, start + 60_000, COPY_TICKS_ALL)
        found[(symbol, close)] = float(ticks["time_msc"][0]) / 1000 if len(ticks) else close
    return found


def summary(bars: list[tuple[float, str, float]], evidence: dict, symbols: int, minutes: int):
    if not bars:
        raise SystemExit("no bar reached the subscriber; figures withheld")
    total = np.array([arrived - close for arrived, _, close in bars])
    market = np.array([evidence[(symbol, close)] - close for _, symbol, close in bars])
    bridge = total - np.maximum(market, 0.0)
    return {
        "symbols": symbols,
        "minutes": minutes,
        "bars": len(bars),
        "p50_ms": _ms(np.percentile(total, 50)),
        "p99_ms": _ms(np.percentile(total, 99)),
        "max_ms": _ms(total.max()),
        "market_p50_ms": _ms(np.percentile(market, 50)),
        "bridge_p50_ms": _ms(np.percentile(bridge, 50)),
        "bridge_p99_ms": _ms(np.percentile(bridge, 99)),
    }


def _ms(seconds: float) -> float:
    return round(float(seconds) * 1000, 1)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    result = measure(args.symbols, args.minutes)
    print(
        f"bar close -> Redis subscriber, {result['bars']} bars of {result['symbols']} symbols"
        f" x M1/M5/M15 over {result['minutes']:g} min, PRICE_FETCH_INTERVAL=1:"
        f" p50 {result['p50_ms']:.0f} ms, p99 {result['p99_ms']:.0f} ms (max"
        f" {result['max_ms']:.0f}); of it the market's (close -> first tick after it) p50"
        f" {result['market_p50_ms']:.0f} ms, the bridge's (that tick -> subscriber) p50"
        f" {result['bridge_p50_ms']:.0f} ms, p99 {result['bridge_p99_ms']:.0f} ms"
    )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
