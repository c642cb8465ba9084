"""The bridge end to end: simulated terminal, real PostgreSQL and Redis, a clock we drive.

Every closed bar the terminal holds for a configured series must be stored exactly once,
in UTC, across restarts of the bridge with the terminal left running.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime, timezone

import psycopg2
import pytest

from bridge_v3.config.constants import TIMEFRAMES
from bridge_v3.config.secret import Secret
from bridge_v3.config.settings import (
    MarketSettings,
    MT5Settings,
    PostgresSettings,
    RedisSettings,
    Settings,
    SimulatorSettings,
)
from bridge_v3.daemon import Bridge
from bridge_v3.services.mt5.backends import simulator_backend
from bridge_v3.simulator.clock import BrokerTime, ManualClock

# Wednesday 25 March 2026, 10:00:30 UTC: the week Europe/Athens moves to summer time.
START = datetime(2026, 3, 25, 10, 0, 30, tzinfo=timezone.utc).timestamp()
M1, M5, H1 = TIMEFRAMES["M1"], TIMEFRAMES["M5"], TIMEFRAMES["H1"]


def make_settings(
    pg: dict, prefix: str, tmp_path, *, zone: str = "Europe/Athens", bridge_zone: str | None = None
) -> Settings:
    return Settings(
        mt5=MT5Settings(server_timezone=bridge_zone or zone),
        simulator=SimulatorSettings(seed=7, server_timezone=zone),
        postgres=PostgresSettings(
            host=pg["host"],
            port=pg["port"],
            db=pg["dbname"],
            user=pg["user"],
            password=Secret(pg["password"]),
        ),
        redis=RedisSettings(prefix=prefix),
        market=MarketSettings(
            forex_pairs=("EURUSD",),
            forex_timeframes=(M1, M5, H1),
            crypto_enabled=True,
            crypto_pairs=("BTCUSD",),
            crypto_timeframes=(M1,),
            initial_history_days=1,
        ),
        bridge_id="e2e",
        spool_path=str(tmp_path / "outbox.sqlite3"),
    )


@pytest.fixture
def clock():
    return ManualClock(START)


def run_bridge_once(settings: Settings, backend) -> Bridge:
    bridge = Bridge(settings, threading.Event(), backend)
    bridge.connect()
    bridge.run_once()
    bridge.shutdown()
    return bridge


def stored_bars(pg: dict, symbol: str, timeframe: str) -> list[tuple]:
    with psycopg2.connect(**pg) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT EXTRACT(EPOCH FROM time)::bigint, open, high, low, close, tick_volume"
            " FROM bars WHERE symbol = %s AND timeframe = %s ORDER BY time",
            (symbol, timeframe),
        )
        return cur.fetchall()


def terminal_closed_bars(
    backend, symbol: str, timeframe, utc_from: float, now: float, zone: str = "Europe/Athens"
) -> list[tuple]:
    """The terminal's own history, converted to UTC independently of the bridge's code
    (by the simulated broker's own clock)."""
    broker = BrokerTime(zone)
    client = backend.open_client()
    client.call("initialize")
    server_from, server_now = broker.to_server(utc_from), broker.to_server(now)
    rates, _ = client.call("copy_rates_range", symbol, timeframe.mt5, server_from, server_now)
    rows = []
    # The repeated autumn hour is shown once, so each reading has one instant.
    for rate, utc in zip(rates, broker.to_utc_array(rates["time"]).tolist(), strict=True):
        if utc + timeframe.seconds <= now and utc >= utc_from:
            rows.append(
                (
                    utc,
                    float(rate["open"]),
                    float(rate["high"]),
                    float(rate["low"]),
                    float(rate["close"]),
                    int(rate["tick_volume"]),
                )
            )
    return rows


def test_every_closed_bar_once_across_a_restart(
    fresh_database, redis_client, redis_prefix, clock, tmp_path
):
    settings = make_settings(fresh_database, redis_prefix, tmp_path)
    backend = simulator_backend(settings.simulator, clock)
    first_start = START - 86400

    run_bridge_once(settings, backend)
    first = stored_bars(fresh_database, "EURUSD", "M1")
    assert first == terminal_closed_bars(backend, "EURUSD", M1, first_start, clock.now())

    clock.advance(3 * 3600 + 17)  # the bridge is down for three hours; the terminal runs on
    pubsub = redis_client.pubsub()
    pubsub.subscribe(f"{redis_prefix}:bar:EURUSD:M5")
    pubsub.get_message(timeout=1)
    run_bridge_once(settings, backend)

    for symbol, timeframe in (("EURUSD", M1), ("EURUSD", M5), ("EURUSD", H1), ("BTCUSD", M1)):
        expected = terminal_closed_bars(backend, symbol, timeframe, first_start, clock.now())
        assert stored_bars(fresh_database, symbol, timeframe.name) == expected, (symbol, timeframe)
    published = []
    while (message := pubsub.get_message(timeout=0.5)) is not None:
        if message["type"] == "message":
            published.append(json.loads(message["data"]))
    pubsub.close()
    m5_after = [b for b in stored_bars(fresh_database, "EURUSD", "M5") if b[0] > first[-1][0] - 300]
    assert len(published) >= 36  # three hours of M5 bars filled after the restart
    assert [m["data"]["time"] for m in published] == sorted(m["data"]["time"] for m in published)
    assert {m["type"] for m in published} == {"bar"}
    seqs = [m["seq"] for m in published]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert len(m5_after) >= len(published)


def test_running_twice_at_the_same_moment_changes_nothing(
    fresh_database, redis_prefix, clock, tmp_path
):
    settings = make_settings(fresh_database, redis_prefix, tmp_path)
    backend = simulator_backend(settings.simulator, clock)
    run_bridge_once(settings, backend)
    before = stored_bars(fresh_database, "EURUSD", "M5")
    bridge = run_bridge_once(settings, backend)
    assert stored_bars(fresh_database, "EURUSD", "M5") == before
    assert bridge.prices.totals["stored"] == 0


@pytest.mark.parametrize("zone", ["Europe/Athens", "America/New_York", "Asia/Tokyo", "UTC"])
def test_newest_crypto_bar_is_within_two_minutes_of_utc(
    zone, fresh_database, redis_prefix, tmp_path
):
    clock = ManualClock(START + 3600 * 7)
    settings = make_settings(fresh_database, redis_prefix, tmp_path, zone=zone, bridge_zone="auto")
    backend = simulator_backend(settings.simulator, clock)
    run_bridge_once(settings, backend)
    newest = stored_bars(fresh_database, "BTCUSD", "M1")[-1][0]
    assert clock.now() - 120 <= newest <= clock.now() - 60
    with psycopg2.connect(**fresh_database) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM account_snapshots")
        assert cur.fetchone()[0] == 1


@pytest.mark.parametrize(
    ("zone", "friday", "monday"),
    [
        # Athens leaves summer time on Sunday 25 October 2026...
        ("Europe/Athens", datetime(2026, 10, 23, 12, 0, 30), datetime(2026, 10, 26, 12)),
        # ...New York (and so New York + 7) a week later.
        ("America/New_York+7", datetime(2026, 10, 30, 12, 0, 30), datetime(2026, 11, 2, 12)),
    ],
)
def test_auto_stores_every_bar_in_true_utc_across_a_dst_change_in_one_process(
    zone, friday, monday, fresh_database, redis_prefix, tmp_path
):
    start = friday.replace(tzinfo=timezone.utc).timestamp()
    end = monday.replace(tzinfo=timezone.utc).timestamp()
    clock = ManualClock(start)
    settings = make_settings(fresh_database, redis_prefix, tmp_path, zone=zone, bridge_zone="auto")
    backend = simulator_backend(settings.simulator, clock)
    bridge = Bridge(settings, threading.Event(), backend, connect_attempts=1)
    bridge.connect()
    try:
        assert bridge.mt5.clock_watch.status()["zone"] == zone
        bridge.prices.sync_all()
        while clock.now() < end:
            clock.advance(1800)
            assert bridge.mt5.check_clock()["trusted"]
            bridge.prices.sync_all()
    finally:
        bridge.shutdown()

    first = start - 86400
    for symbol, timeframe in (("EURUSD", M1), ("EURUSD", H1), ("BTCUSD", M1)):
        expected = terminal_closed_bars(backend, symbol, timeframe, first, clock.now(), zone)
        assert stored_bars(fresh_database, symbol, timeframe.name) == expected, (symbol, timeframe)
