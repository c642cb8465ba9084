"""Each panel as the page receives it, from what the bridge stored (and the trading rows the
trade and strategy parts write), against real PostgreSQL."""

from __future__ import annotations

import psycopg2

from bridge_v3.config.settings import PostgresSettings
from bridge_v3.dashboard.panels import Panels
from bridge_v3.dashboard.reader import ReadDatabase
from bridge_v3.services.migrations.runner import MigrationRunner
from tests.dashboard.conftest import ACCOUNT, add_trading_rows, execute, rows
from tests.test_daemon_e2e import START


def panels_for(pg: dict, now: float = START, port: int | None = None) -> Panels:
    settings = PostgresSettings(
        host=pg["host"], port=port or pg["port"], db=pg["dbname"], user=pg["user"]
    )
    return Panels(ReadDatabase(settings), clock=lambda: now)


def test_market_shows_the_newest_bars_of_the_series_asked_for_with_fills_and_signals(
    sim_bridge, fresh_database
):
    add_trading_rows(fresh_database, START)
    stored = rows(
        fresh_database,
        "SELECT EXTRACT(EPOCH FROM time)::bigint, open, high, low, close FROM bars"
        " WHERE symbol = 'EURUSD' AND timeframe = 'M5' ORDER BY time DESC LIMIT 300",
    )

    market = panels_for(fresh_database).build("market", ACCOUNT, symbol="EURUSD", timeframe="M5")

    assert market["ok"] and (market["symbol"], market["timeframe"]) == ("EURUSD", "M5")
    assert {(s["symbol"], s["timeframe"]) for s in market["series"]} == {
        ("EURUSD", "M5"),
        ("EURUSD", "H1"),
        ("BTCUSD", "M15"),
    }
    assert [tuple(bar.values()) for bar in market["bars"]] == sorted(stored)
    marks = [
        (m["kind"], m.get("side"), m.get("entry"), m["bar_time"] % 300, m["time"] - m["bar_time"])
        for m in market["markers"]
    ]
    # The signal and three fills (not the deposit), each pinned to the M5 bar it falls in.
    assert [m[:3] for m in marks] == [
        ("signal", "buy", None),
        ("fill", "sell", "in"),
        ("fill", "buy", "in"),
        ("fill", "buy", "out"),
    ]
    assert all(offset == 0 and 0 <= inside < 300 for *_, offset, inside in marks)


def test_market_falls_back_to_the_first_series_and_an_empty_database_has_none(
    sim_bridge, fresh_database
):
    market = panels_for(fresh_database).build("market", ACCOUNT, symbol="XAUUSD", timeframe="M1")
    unknown = panels_for(fresh_database).build("market", 42)

    assert (market["symbol"], market["timeframe"]) == ("BTCUSD", "M15")
    assert unknown == {
        "ok": True,
        "series": [],
        "symbol": None,
        "timeframe": None,
        "bars": [],
        "markers": [],
    }


def test_trading_lists_open_positions_pending_orders_and_the_newest_deals(
    sim_bridge, fresh_database
):
    add_trading_rows(fresh_database, START)

    trading = panels_for(fresh_database).build("trading", ACCOUNT)

    assert [(p["ticket"], p["type"], p["profit"]) for p in trading["positions"]] == [
        (501, "buy", 50.0)
    ]
    assert [(o["ticket"], o["type"], o["volume"]) for o in trading["orders"]] == [
        (601, "buy limit", 0.3)
    ]
    ours = [d for d in trading["deals"] if 700 < d["ticket"] < 800]  # not the terminal's own
    assert [(d["ticket"], d["type"], d["entry"]) for d in ours] == [
        (704, "buy", "out"),
        (703, "buy", "in"),
        (702, "sell", "in"),
        (701, "balance", "in"),
    ]
    assert [(s["strategy"], s["side"]) for s in trading["signals"]] == [("ma-cross", "buy")]
    assert [(i["intent_id"], i["type"], i["status"]) for i in trading["intents"]] == [
        ("i-1", "buy", "filled")
    ]


def test_risk_before_any_check_says_so(fresh_database):
    conn = psycopg2.connect(**fresh_database)
    try:
        MigrationRunner(conn).run()
    finally:
        conn.close()

    risk = panels_for(fresh_database).build("risk", ACCOUNT)

    assert risk == {"ok": True, "state": None, "events": []}


def test_risk_shows_the_persisted_state_and_the_last_events(sim_bridge, fresh_database):
    add_trading_rows(fresh_database, START)

    risk = panels_for(fresh_database).build("risk", ACCOUNT)

    assert risk["state"]["state"] == "HALTED" and risk["state"]["daily_loss_pct"] == 6.1
    assert (risk["events"][0]["kind"], risk["events"][0]["state"]) == ("state_change", "HALTED")
    assert len(risk["events"]) <= 5


def test_account_today_and_thirty_days(sim_bridge, fresh_database):
    day = START - START % 86400
    points = [
        (day - 86400 * 40, 1.0),
        (day - 3600 * 5 + 10, 2.0),
        (day - 3600 * 5 + 20, 3.0),
        (day + 60, 4.0),
        (START + 60, 5.0),
    ]
    for at, equity in points:
        execute(
            fresh_database,
            "INSERT INTO account_snapshots (account, time, balance, equity) VALUES (%s, to_timestamp(%s), 10000, %s)",
            (ACCOUNT, at, equity),
        )

    account = panels_for(fresh_database).build("account", ACCOUNT)

    today = [(p["time"], p["equity"]) for p in account["today"]]
    assert (day + 60, 4.0) in today and (START + 60, 5.0) not in today  # not after now
    assert all(day <= time <= START for time, _ in today)
    hourly = [(p["time"], p["equity"]) for p in account["days"]]
    assert (day - 3600 * 5, 3.0) in hourly  # the hour's last snapshot
    assert all(time > START - 86400 * 30 for time, _ in hourly)


def test_quality_gives_lag_and_bars_quarantined_today(sim_bridge, fresh_database):
    for seen in (START - 60, START - 120, START - 86400):
        execute(
            fresh_database,
            "INSERT INTO bar_quarantine (account, symbol, timeframe, reason, seen_at)"
            " VALUES (%s, 'EURUSD', 'M5', 'high_below_low', to_timestamp(%s))",
            (ACCOUNT, seen),
        )
    last = dict(
        rows(
            fresh_database,
            "SELECT symbol || ' ' || timeframe, EXTRACT(EPOCH FROM last_time)::bigint FROM bar_watermarks",
        )
    )

    quality = panels_for(fresh_database, now=START + 600).build("quality", ACCOUNT)

    found = {f"{q['symbol']} {q['timeframe']}": q for q in quality["series"]}
    assert found.keys() == last.keys()
    assert found["EURUSD M5"]["quarantined_today"] == 2
    assert found["EURUSD H1"]["quarantined_today"] == 0
    assert found["EURUSD M5"]["lag_seconds"] == START + 600 - last["EURUSD M5"] - 300


def test_a_panel_that_cannot_be_read_says_why_in_place(fresh_database):
    panels = panels_for(fresh_database, port=1)

    market = panels.build("market", ACCOUNT)

    assert market["ok"] is False
    assert "PostgreSQL unreachable at 127.0.0.1:1" in market["error"]
