"""The analytics views against figures worked out by hand from tests/report/hand_deals.py.

Closed trades (net = profit + commission + swap, all deals of the position), closing order:
  10  D1 10:00  magic 1 EURUSD   +44       13  D1 16:00  magic 1 GBPUSD  -11.2
  11  D1 12:00  magic 1 EURUSD   -23.5     15  D2 08:00  magic 1 EURUSD  +92
  12  D1 13:00  magic 2 GBPUSD   +24       16  D2 10:00  magic 2 GBPUSD  -44
                                           14  D2 11:00  magic 2 EURUSD    0
Position 17 is still open; deal 1 is a deposit.
"""

from __future__ import annotations

from datetime import date

import pytest

from tests.report.conftest import query
from tests.report.hand_deals import ACCOUNT

D1, D2 = date(2026, 3, 2), date(2026, 3, 3)


def stats(pg, level: str, **where) -> dict:
    sql = "SELECT * FROM trade_stats WHERE level = %s AND account = %s"
    params = [level, ACCOUNT]
    for column, value in where.items():
        sql += f" AND {column} = %s"
        params.append(value)
    rows = query(pg, sql, params)
    assert len(rows) == 1, rows
    return rows[0]


def assert_figures(row: dict, **expected) -> None:
    for name, value in expected.items():
        assert row[name] == pytest.approx(value, abs=1e-9), name


def test_a_trade_is_a_closed_position_with_all_its_costs(analytics_db):
    trades = query(analytics_db, "SELECT * FROM trades ORDER BY closed_at")
    assert [(t["position_id"], round(t["net_profit"], 6)) for t in trades] == [
        (10, 44),
        (11, -23.5),
        (12, 24),
        (13, -11.2),
        (15, 92),
        (16, -44),
        (14, 0),
    ]
    by_id = {t["position_id"]: t for t in trades}
    assert by_id[13]["volume"] == 0.2 and by_id[13]["deals"] == 3
    assert by_id[11]["side"] == "sell" and by_id[15]["side"] == "buy"
    assert by_id[15]["day"] == D2 and by_id[15]["magic"] == 1


def test_strategy_figures(analytics_db):
    assert_figures(
        stats(analytics_db, "strategy", magic=1),
        trades=4,
        won=2,
        lost=2,
        win_rate=0.5,
        gross_profit=136,
        gross_loss=-34.7,
        profit_factor=136 / 34.7,
        avg_win=68,
        avg_loss=-17.35,
        net_profit=101.3,
        expectancy=25.325,
        max_drawdown=34.7,
        commission=-16.2,
        swap=-2.5,
    )
    assert_figures(
        stats(analytics_db, "strategy", magic=2),
        trades=3,
        won=1,
        lost=1,
        win_rate=1 / 3,
        gross_profit=24,
        gross_loss=-44,
        profit_factor=24 / 44,
        avg_win=24,
        avg_loss=-44,
        net_profit=-20,
        expectancy=-20 / 3,
        max_drawdown=44,
        commission=-12,
        swap=0,
    )


def test_account_symbol_and_day_figures(analytics_db):
    assert_figures(
        stats(analytics_db, "account"),
        trades=7,
        won=3,
        lost=3,
        win_rate=3 / 7,
        gross_profit=160,
        gross_loss=-78.7,
        profit_factor=160 / 78.7,
        net_profit=81.3,
        expectancy=81.3 / 7,
        max_drawdown=44,
    )
    assert_figures(
        stats(analytics_db, "symbol", symbol="EURUSD"),
        trades=4,
        net_profit=112.5,
        max_drawdown=23.5,
    )
    assert_figures(
        stats(analytics_db, "symbol", symbol="GBPUSD"),
        trades=3,
        net_profit=-31.2,
        max_drawdown=55.2,
    )
    assert_figures(
        stats(analytics_db, "day", day=D1),
        trades=4,
        won=2,
        lost=2,
        net_profit=33.3,
        max_drawdown=23.5,
    )
    assert_figures(
        stats(analytics_db, "day", day=D2), trades=3, won=1, lost=1, net_profit=48, max_drawdown=44
    )


def test_strategy_symbol_day_figures(analytics_db):
    row = stats(analytics_db, "strategy_symbol_day", magic=1, symbol="EURUSD", day=D1)
    assert_figures(
        row, trades=2, won=1, lost=1, net_profit=20.5, profit_factor=44 / 23.5, max_drawdown=23.5
    )
    no_losses = stats(analytics_db, "strategy_symbol_day", magic=1, symbol="EURUSD", day=D2)
    assert no_losses["profit_factor"] is None and no_losses["avg_loss"] is None
    assert_figures(
        stats(analytics_db, "strategy_day", magic=2, day=D2),
        trades=2,
        won=0,
        lost=1,
        net_profit=-44,
    )
    assert_figures(
        stats(analytics_db, "symbol_day", symbol="GBPUSD", day=D1), trades=2, net_profit=12.8
    )


def test_equity_drawdown_and_daily_pnl(analytics_db):
    days = query(
        analytics_db, "SELECT * FROM daily_pnl WHERE account = %s ORDER BY day", (ACCOUNT,)
    )
    assert [d["day"] for d in days] == [D1, D2]
    assert_figures(
        days[0],
        realized_pnl=29.3,
        deals=11,
        open_equity=10000,
        close_equity=10030,
        min_equity=10000,
        max_equity=10060,
        max_drawdown=40,
        max_drawdown_pct=40 / 10060 * 100,
        starting_balance=10000,
        ending_balance=10029.3,
    )
    assert_figures(
        days[1], realized_pnl=49, deals=5, max_drawdown=50, max_drawdown_pct=50 / 10120 * 100
    )
    assert days[1]["starting_balance"] is None  # no daily_performance row for D2
    assert sum(d["realized_pnl"] for d in days) == pytest.approx(81.3 - 3.0)  # 17 still open
