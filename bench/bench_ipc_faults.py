"""Bars keep flowing through a terminal that times out now and then.

    .venv/bin/python -m bench.bench_ipc_faults [--seconds 180] [--rate 0.2] [--quick]

Serves the simulated terminal over RPyC in a separate process (as mt5linux serves a real
one), runs the bridge against it with ``MT5_BACKEND=remote`` and ``PRICE_FETCH_INTERVAL=1``
for ``--seconds`` of wall time, once without faults and once with ``--rate`` of all
terminal calls failing with ``(-10005, 'IPC timeout')``, and measures for each run how late
every closed M1 bar reached a Redis subscriber (arrival minus the bar's end), how many
bars were stored and published, and how often the bridge reconnected. The aim (issue
"The real terminal is harsher"): with faults, the median delay within twice the fault-free
one, and no bar missing. Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from bench._common import scratch_database, scratch_redis
from bridge_v3.config.constants import TIMEFRAMES, Backend
from bridge_v3.config.settings import (
    MarketSettings,
    MT5Settings,
    Settings,
    WorkerSettings,
)
from bridge_v3.daemon import Bridge

SYMBOLS = ("BTCUSD", "ETHUSD", "LTCUSD", "XRPUSD")  # quote all week: any day will do
M1 = TIMEFRAMES["M1"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def serve(port: int, rate: float) -> subprocess.Popen:
    command = [sys.executable, "-m", "bridge_v3.simulator", "serve", "--port", str(port)]
    command += ["--seed", "3", "--log-level", "WARNING"]
    if rate:
        command += ["--ipc-timeout-rate", str(rate), "--fault-seed", "1"]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return server
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise RuntimeError("the simulator server did not start")


class Arrivals:
    """Every bar message on ``{prefix}:bar:*``: (arrival wall time, symbol, bar open UTC)."""

    def __init__(self, client, prefix: str) -> None:
        self.seen: list[tuple[float, str, float]] = []
        self._pubsub = client.pubsub()
        self._pubsub.psubscribe(f"{prefix}:bar:*")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._listen, name="arrivals", daemon=True)
        self._thread.start()

    def _listen(self) -> None:
        while not self._stop.is_set():
            message = self._pubsub.get_message(timeout=0.2)
            if message and message["type"] == "pmessage":
                data = json.loads(message["data"])["data"]
                opened = datetime.fromisoformat(data["time"].replace("Z", "+00:00"))
                self.seen.append((time.time(), data["symbol"], opened.timestamp()))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._pubsub.close()


def one_run(base: Settings, client, seconds: float, rate: float) -> dict:
    port = free_port()
    server = serve(port, rate)
    settings = replace(
        base,
        mt5=MT5Settings(backend=Backend.REMOTE, remote_port=port, timeout_ms=5000),
        bridge_id=f"ipc-{int(rate * 100)}",
    )
    arrivals = Arrivals(client, settings.redis.prefix)
    bridge = Bridge(settings, threading.Event(), connect_attempts=5)
    started = time.time()
    try:
        bridge.connect()
        runner = threading.Thread(target=bridge.run, daemon=True)
        runner.start()
        time.sleep(seconds)
        bridge.stop_event.set()
        runner.join(10)
    finally:
        bridge.shutdown()
        arrivals.stop()
        server.terminate()
        server.wait(10)
    return summarise(arrivals.seen, started, bridge)


def summarise(seen: list, started: float, bridge: Bridge) -> dict:
    # Bars that closed while the bridge ran (the first minutes are history catch-up).
    live = [(at, sym, opened) for at, sym, opened in seen if opened + 60 > started + 5]
    delays = sorted(at - (opened + 60) for at, _, opened in live)
    keys = [(sym, opened) for _, sym, opened in live]
    return {
        "bars_published_live": len(live),
        "duplicates": len(keys) - len(set(keys)),
        "delay_p50_s": statistics.median(delays) if delays else None,
        "delay_max_s": delays[-1] if delays else None,
        "reconnects": bridge.mt5.reconnects,
        "bars_stored": bridge.prices.totals["new"],
        "series_skipped": bridge.prices.totals["skipped"],
    }


def seconds_text(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f} s"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=180.0)
    parser.add_argument("--rate", type=float, default=0.2)
    parser.add_argument("--quick", action="store_true", help="70 s per run: a smoke run")
    args = parser.parse_args(argv)
    seconds = 70.0 if args.quick else args.seconds
    with (
        scratch_database() as pg,
        scratch_redis() as (client, rd),
        tempfile.TemporaryDirectory() as tmp,
    ):
        base = Settings(
            postgres=pg,
            redis=rd,
            market=MarketSettings(
                forex_pairs=(), crypto_enabled=True, crypto_pairs=SYMBOLS,
                crypto_timeframes=(M1,), initial_history_days=1,
            ),
            worker=WorkerSettings(price_fetch_interval=1.0),
            spool_path=str(Path(tmp) / "outbox.sqlite3"),
        )  # fmt: skip
        clean = one_run(base, client, seconds, 0.0)
        faulty = one_run(base, client, seconds, args.rate)
    report = {"seconds": seconds, "rate": args.rate, "clean": clean, "faulty": faulty}
    if clean["delay_p50_s"] and faulty["delay_p50_s"]:
        report["delay_ratio"] = faulty["delay_p50_s"] / clean["delay_p50_s"]
    for name, run in (("no faults", clean), (f"{args.rate:.0%} IPC timeouts", faulty)):
        print(
            f"{name:>18}: {run['bars_published_live']} live bars, p50 delay "
            f"{seconds_text(run['delay_p50_s'])}, max {seconds_text(run['delay_max_s'])}, "
            f"{run['duplicates']} duplicates, {run['reconnects']} reconnects, "
            f"{run['series_skipped']} series-cycles skipped"
        )
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
