"""Many bridges, one database: ten accounts' bridges started together against one PostgreSQL.

    .venv/bin/python -m bench.bench_fleet [--bridges 10] [--symbols 3] [--days 10] [--quick]

Each bridge is a process of its own (``--child``): its own in-process simulated terminal
with a different login, its own ``BRIDGE_ID`` and outbox, on one scratch database (fresh:
the bridges race to migrate it) and one Redis key prefix. Each connects (migrations taken
in turn under the advisory lock), backfills ``--days`` of M1 history for ``--symbols``
symbols, then runs ``--cycles`` price cycles a minute apart that publish the new bars.
Checked: every process exits 0 with no ERROR or traceback in its log, the schema is
recorded once, every account holds exactly the bars one bridge alone stores (once each),
and each source's ``seq`` in the Redis streams runs 1, 2, 3... without gap or repeat.
Measured: the fleet's combined backfill rate (all bars over the span from the first
start to the last end) against one bridge alone on a fresh database, same run.
Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

from bench._common import postgres_params, scratch_database, scratch_redis
from bench.pipeline_rig import bench_settings, symbol_names, wide_market
from bridge_v3.config.constants import TIMEFRAMES, Backend
from bridge_v3.config.secret import Secret
from bridge_v3.config.settings import PostgresSettings, RedisSettings
from bridge_v3.services.mt5.backends import TerminalBackend
from bridge_v3.services.mt5.clients import ModuleClient
from bridge_v3.simulator.broker.broker import PaperBroker
from bridge_v3.simulator.clock import ManualClock
from bridge_v3.simulator.terminal import SimulatedTerminal

# A Wednesday morning: forex quotes, so the cycles after the backfill see new bars.
START = 1774418400.0  # 2026-03-25 06:00 UTC
FIRST_LOGIN = 20000001
M1 = TIMEFRAMES["M1"]
FULL = {"bridges": 10, "symbols": 3, "days": 10.0, "cycles": 5}
QUICK = {"bridges": 3, "symbols": 2, "days": 0.2, "cycles": 2}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    parser.add_argument("--bridges", type=int, help="bridges (accounts) started together")
    parser.add_argument("--symbols", type=int, help="M1 series per bridge")
    parser.add_argument("--days", type=float, help="days of history each bridge backfills")
    parser.add_argument("--cycles", type=int, help="publishing price cycles after it")
    parser.add_argument("--child", help=argparse.SUPPRESS)  # JSON: one bridge's orders
    args = parser.parse_args(argv)
    for name, value in (QUICK if args.quick else FULL).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    return args


# -- one bridge (a child process) ------------------------------------------------------------


def account_backend(clock: ManualClock, login: int) -> TerminalBackend:
    """An in-process simulated terminal logged in to ``login``."""
    market = wide_market(clock)
    broker = PaperBroker(market, login=login, balance=10000.0, server="BridgeSim")
    terminal = SimulatedTerminal(market, broker, password="sim")
    return TerminalBackend(
        Backend.SIMULATOR,
        f"SIMULATED terminal (fleet, login {login})",
        lambda: ModuleClient(terminal, "simulator"),
        clock=clock.now,
    )


def run_child(orders: dict) -> dict:
    """Connect, backfill, publish a few cycles; what it did, as numbers."""
    import threading

    from bridge_v3.daemon import Bridge

    password = Secret(postgres_params()["password"])
    postgres = PostgresSettings(**orders["postgres"], password=password)
    redis_settings = RedisSettings(**orders["redis"])
    symbols = orders["symbols"]
    settings = bench_settings(postgres, redis_settings, orders["spool"], symbols, (M1,))
    settings = replace(settings, bridge_id=orders["bridge_id"])
    clock = ManualClock(START)
    bridge = Bridge(settings, threading.Event(), account_backend(clock, orders["login"]))
    started = time.time()
    try:
        bridge.connect()
        connected = time.time()
        bars = stored = 0
        for symbol in symbols:
            result = bridge.prices.backfill(symbol, M1, orders["days"])
            bars, stored = bars + result.fetched, stored + result.stored
        backfilled = time.time()
        for _ in range(orders["cycles"]):
            clock.advance(60)
            bridge.sync_prices()
        bridge.publisher.deliver()
        sent = bridge.publisher.sent
        pending = bridge.publisher.pending
    finally:
        bridge.shutdown(drain_seconds=30.0)
    return {
        "login": orders["login"], "bridge_id": orders["bridge_id"], "bars": bars,
        "stored": stored, "sent": sent, "pending": pending, "started": started,
        "connected": connected, "backfilled": backfilled, "ended": time.time(),
    }  # fmt: skip


# -- the fleet (the parent) ------------------------------------------------------------------


def launch(index: int, args, postgres: PostgresSettings, redis_settings, spool: Path):
    orders = {
        "login": FIRST_LOGIN + index,
        "bridge_id": f"fleet-{index:02d}",
        "postgres": {"host": postgres.host, "port": postgres.port, "db": postgres.db,
                     "user": postgres.user, "pool_min": 1, "pool_max": 4},
        "redis": {"host": redis_settings.host, "port": redis_settings.port,
                  "prefix": redis_settings.prefix},
        "spool": str(spool / f"outbox-{index:02d}.sqlite3"),
        "symbols": symbol_names(args.symbols), "days": args.days, "cycles": args.cycles,
    }  # fmt: skip
    log = open(spool / f"bridge-{index:02d}.log", "w+")  # noqa: SIM115 (closed by collect)
    command = [sys.executable, "-m", "bench.bench_fleet", "--child", json.dumps(orders)]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, text=True), log


def run_fleet(args, count: int) -> dict:
    """``count`` bridges started together on a fresh database; their reports and checks."""
    with (
        scratch_database() as postgres,
        scratch_redis() as (client, redis_settings),
        tempfile.TemporaryDirectory() as spool,
    ):
        launched = [launch(i, args, postgres, redis_settings, Path(spool)) for i in range(count)]
        reports = [collect(child, log) for child, log in launched]
        checks = check(postgres, client, redis_settings.prefix, reports)
    span = max(r["backfilled"] for r in reports) - min(r["connected"] for r in reports)
    return {
        "bridges": count,
        "bars": sum(r["bars"] for r in reports),
        "backfill_span_seconds": span,
        "wall_seconds": max(r["ended"] for r in reports) - min(r["started"] for r in reports),
        **checks,
    }


def collect(child: subprocess.Popen, log) -> dict:
    out, _ = child.communicate(timeout=1800)
    log.seek(0)
    text = log.read()
    log.close()
    bad = [line for line in text.splitlines() if " ERROR " in line or "Traceback" in line]
    if child.returncode != 0 or bad:
        raise SystemExit(f"a bridge failed (exit {child.returncode}):\n{text[-3000:]}")
    return json.loads(out.strip().splitlines()[-1])


def check(postgres: PostgresSettings, client, prefix: str, reports: list[dict]) -> dict:
    from bridge_v3.services.database_service import DatabaseService

    db = DatabaseService(replace(postgres, pool_min=1, pool_max=1))
    db.start()
    try:
        versions = db.fetch_all("SELECT version FROM schema_migrations ORDER BY version")
        per_account = dict(
            db.fetch_all(
                "SELECT account, count(*) FROM bars GROUP BY account HAVING"
                " count(*) = count(DISTINCT (symbol, timeframe, time))"
            )
        )
    finally:
        db.close()
    if [v for (v,) in versions] != list(range(1, len(versions) + 1)):
        raise SystemExit(f"schema_migrations holds {versions}")
    counts = {per_account.get(r["login"]) for r in reports}
    if len(counts) != 1 or None in counts:
        raise SystemExit(f"accounts hold different bar counts: {per_account}")
    if any(r["stored"] != r["bars"] or r["pending"] for r in reports):
        raise SystemExit(f"a bridge did not store or send everything: {reports}")
    seqs = stream_seqs(client, prefix)
    for report in reports:
        got = seqs.get(report["bridge_id"], [])
        # At least what it had sent when it reported; its final heartbeat comes after.
        if got != list(range(1, len(got) + 1)) or len(got) < report["sent"]:
            raise SystemExit(f"{report['bridge_id']}: seqs {got} ({report['sent']} sent)")
    return {
        "bars_per_account": counts.pop(),
        "migrations": len(versions),
        "messages": sum(len(seqs.get(r["bridge_id"], [])) for r in reports),
    }


def stream_seqs(client, prefix: str) -> dict[str, list[int]]:
    """Every seq in the prefix's streams, per source, sorted."""
    found = defaultdict(list)
    for key in client.scan_iter(match=f"{prefix}:stream:*"):
        for _id, fields in client.xrange(key):
            envelope = json.loads(fields[b"envelope"])
            found[envelope["source"]].append(envelope["seq"])
    return {source: sorted(seqs) for source, seqs in found.items()}


def measure(args: argparse.Namespace) -> dict:
    alone = run_fleet(args, 1)
    fleet = run_fleet(args, args.bridges)
    if fleet["bars_per_account"] != alone["bars_per_account"]:
        raise SystemExit(f"{fleet['bars_per_account']} bars per account, one bridge alone "
                         f"{alone['bars_per_account']}")  # fmt: skip
    alone_rate = alone["bars"] / alone["backfill_span_seconds"]
    fleet_rate = fleet["bars"] / fleet["backfill_span_seconds"]
    return {
        "fleet_bridges": fleet["bridges"],
        "fleet_bars": fleet["bars"],
        "fleet_bars_per_account": fleet["bars_per_account"],
        "fleet_messages": fleet["messages"],
        "fleet_wall_seconds": round(fleet["wall_seconds"], 2),
        "fleet_backfill_bars_per_s": round(fleet_rate),
        "alone_wall_seconds": round(alone["wall_seconds"], 2),
        "alone_backfill_bars_per_s": round(alone_rate),
        "fleet_vs_alone": round(fleet_rate / alone_rate, 2),
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")  # fmt: skip
    if args.child:
        print(json.dumps(run_child(json.loads(args.child))))
        return 0
    result = measure(args)
    for name, value in result.items():
        print(f"{name:<32}{value:>14,}")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
