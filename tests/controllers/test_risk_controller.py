"""The risk controller against the simulated terminal, PostgreSQL and Redis.

Losses are forced with the simulator's shock (prices gap from now on), as a chaos test
or a demo would; trades are made by hand on the terminal's face.
"""

from __future__ import annotations

import logging
import math
from datetime import datetime, timezone

import pytest

from bridge_v3.config.constants import Priority
from bridge_v3.models.risk import RiskState
from bridge_v3.risk_commands import run_risk_command
from bridge_v3.services.mt5.contract import constants as mc
from tests.controllers.trade_support import START, make_desk, published, row_dicts, rows

ACTIVE, REDUCING, HALTED = RiskState.ACTIVE, RiskState.REDUCING, RiskState.HALTED
# Server midnight in Europe/Athens (UTC+2 until 29 March 2026) is 22:00 UTC.
MIDNIGHT = datetime(2026, 3, 25, 22, 0, tzinfo=timezone.utc).timestamp()


@pytest.fixture
def desk(fresh_database, redis_prefix, tmp_path):
    made = make_desk(fresh_database, redis_prefix, tmp_path)
    yield made
    for bridge in list(made.bridges):
        made.stop(bridge)


def checks(bridge, desk, count: int, every: float = 5.0) -> list[RiskState]:
    states = []
    for _ in range(count):
        desk.later(every)
        bridge.risk.run_check()
        states.append(bridge.risk.state)
    return states


def shock_to_loss(desk, bridge, loss_pct: float) -> None:
    """Gap EURUSD so that the day's loss on equity becomes about ``loss_pct`` (one long
    EURUSD position open)."""
    start = bridge.risk.run_check()["day_start_equity"]
    info = desk.mt5.account_info()
    (position,) = desk.mt5.positions_get()
    wanted = start * loss_pct / 100 - (start - info.equity)
    per_percent = position.price_current * position.volume * 100_000 / 100
    desk.simulation.market.shock("EURUSD", -wanted / per_percent)
    desk.later(60)


def halt(desk, bridge) -> None:
    desk.buy(1.0)
    bridge.trades.sync()
    bridge.risk.run_check()
    desk.simulation.market.shock("EURUSD", -3)
    desk.later(60)


def risk_messages(prefix: str) -> list[dict]:
    return [m["data"] for m in published(prefix, "risk")]


def test_a_shock_halts_within_two_checks_and_is_recorded_published_and_logged(
    desk, fresh_database, redis_prefix, redis_client, caplog
):
    bridge = desk.bridge()
    halt(desk, bridge)

    with caplog.at_level(logging.WARNING, logger="bridge_v3.controllers.risk_controller"):
        states = checks(bridge, desk, 2)

    assert states == [ACTIVE, HALTED]
    ((state, reason, details),) = rows(
        fresh_database, "SELECT state, reason, details FROM risk_events WHERE kind = 'state_change'"
    )
    assert state == "HALTED" and "MAX_DAILY_LOSS_PCT" in reason
    assert details["daily_loss_pct"] > 5 and details["open_positions"] == 1
    (message,) = risk_messages(redis_prefix)
    assert (message["state"], message["previous_state"]) == ("HALTED", "ACTIVE")
    assert message["daily_loss_pct"] > 5 and message["day_start_equity"] == 10_000
    assert message["limits"]["max_daily_loss_pct"] == 5 and message["open_positions"] == 1
    assert [r.levelno for r in caplog.records if "HALTED" in r.getMessage()] == [logging.CRITICAL]
    assert redis_client.get(f"{redis_prefix}:last:risk") is not None
    ((halted, loss),) = rows(fresh_database, "SELECT halted, daily_loss_pct FROM daily_performance")
    assert halted and loss > 5


def test_a_close_passes_while_halted_and_an_open_is_refused(desk, redis_prefix):
    bridge = desk.bridge()
    halt(desk, bridge)
    checks(bridge, desk, 2)
    (position,) = desk.mt5.positions_get()
    close = {
        "action": mc.TRADE_ACTION_DEAL,
        "symbol": "EURUSD",
        "volume": position.volume,
        "type": mc.ORDER_TYPE_SELL,
        "position": position.ticket,
    }
    open_ = {"action": mc.TRADE_ACTION_DEAL, "symbol": "EURUSD", "volume": 0.1, "type": 0}

    closing, opening = bridge.risk.check(close), bridge.risk.check(open_)
    tighter = bridge.risk.check(
        {
            "action": mc.TRADE_ACTION_SLTP,
            "position": position.ticket,
            "sl": position.price_current - 0.001,
        }
    )

    assert closing and closing.action == "close" and closing.state is HALTED
    assert not opening and "HALTED" in opening.reason
    assert tighter
    desk.close(position.ticket)  # it really goes through, and the mirror follows
    bridge.trades.sync()
    assert bridge.trades.open_positions == []


def test_the_halt_survives_a_restart_and_the_day_change_and_only_a_reset_lifts_it(
    desk, fresh_database, redis_prefix, caplog
):
    first = desk.bridge()
    halt(desk, first)
    checks(first, desk, 2)
    desk.stop(first)
    desk.simulation.market.shock("EURUSD", 3.2)  # the loss is made good...
    desk.later(60)

    with caplog.at_level(logging.CRITICAL):
        second = desk.bridge()
    assert second.risk.state is HALTED
    assert any("--risk-reset" in r.getMessage() for r in caplog.records)
    assert checks(second, desk, 3) == [HALTED] * 3
    desk.clock.set(MIDNIGHT + 600)  # ...and a new broker day begins
    assert checks(second, desk, 2) == [HALTED] * 2
    ((value,),) = rows(fresh_database, "SELECT value FROM bridge_state WHERE key = 'risk_state'")
    assert value["day"] == "2026-03-26" and value["state"] == "HALTED"

    assert run_risk_command(second.settings, reset_by="alice") == 0
    assert second.risk.state is HALTED  # the running bridge applies it at its next check
    checks(second, desk, 1)

    assert second.risk.state is ACTIVE
    lifted = risk_messages(redis_prefix)[-1]
    assert (lifted["state"], lifted["previous_state"]) == ("ACTIVE", "HALTED")
    assert lifted["acknowledged_by"] == "alice"
    ((value,),) = rows(fresh_database, "SELECT value FROM bridge_state WHERE key = 'risk_state'")
    assert value["day_start_source"] == "reset" and value["reset_by"] == "alice"
    assert value["day_start_equity"] == value["equity"]
    acknowledged = rows(
        fresh_database,
        "SELECT kind, acknowledged_by FROM risk_events WHERE kind <> 'reconciliation'",
    )
    assert sorted(acknowledged) == [("reset", "alice"), ("state_change", "alice")]
    assert checks(second, desk, 3) == [ACTIVE] * 3


def test_one_bad_equity_reading_never_halts(desk, caplog):
    bridge = desk.bridge()
    desk.buy(0.1)
    bridge.trades.sync()
    bad = iter([math.nan, 0.0, -250.0, 1.0])  # the last one is positive but absurd

    def one_bad_reading(result, error):
        return {**result, "equity": next(bad)}, error

    states = []
    with caplog.at_level(logging.WARNING):
        for _ in range(4):
            desk.client.edits["account_info"] = one_bad_reading
            states += checks(bridge, desk, 1)
            del desk.client.edits["account_info"]
            states += checks(bridge, desk, 1)

    assert states == [ACTIVE] * 8
    assert bridge.risk.ignored_readings == 3
    assert sum("reading ignored" in r.getMessage() for r in caplog.records) == 3


def test_reducing_comes_with_the_loss_and_lifts_itself(desk, redis_prefix):
    bridge = desk.bridge(max_daily_loss_pct=10)
    desk.buy(1.0)
    bridge.trades.sync()

    shock_to_loss(desk, bridge, 9)
    assert checks(bridge, desk, 2) == [ACTIVE, REDUCING]
    opening = bridge.risk.check({"action": 1, "symbol": "EURUSD", "volume": 0.1, "type": 0})
    assert not opening and "REDUCING" in opening.reason
    shock_to_loss(desk, bridge, 1)
    assert checks(bridge, desk, 2) == [REDUCING, ACTIVE]

    assert [(m["previous_state"], m["state"]) for m in risk_messages(redis_prefix)] == [
        ("ACTIVE", "REDUCING"),
        ("REDUCING", "ACTIVE"),
    ]


def test_a_low_margin_level_means_reducing(desk):
    bridge = desk.bridge(min_margin_level=5000)
    ticket = desk.buy(1.0)  # about 1,000 % margin level
    bridge.trades.sync()
    assert checks(bridge, desk, 2) == [ACTIVE, REDUCING]
    desk.close(ticket)
    assert checks(bridge, desk, 2) == [REDUCING, ACTIVE]


def test_an_unconfirmed_state_refuses_opening_and_still_lets_a_position_close(desk):
    # PostgreSQL (or the terminal) out for longer than three checks: the state in force
    # might hide a breach. Opening waits for a fresh check; closing never does.
    bridge = desk.bridge()
    ticket = desk.buy(0.1)
    bridge.trades.sync()
    bridge.risk.run_check()
    opening = {"action": 1, "symbol": "EURUSD", "volume": 0.1, "type": 0}
    close = {"action": 1, "symbol": "EURUSD", "volume": 0.1, "type": 1, "position": ticket}
    assert bridge.risk.check(opening)

    desk.later(60)  # no check completes meanwhile
    refused = bridge.risk.check(opening)
    assert not refused and "last completed risk check is 60 s old" in refused.reason
    assert bridge.risk.check(close)
    bridge.risk.run_check()
    assert bridge.risk.check(opening)


def test_a_distrusted_broker_clock_never_keeps_a_position_from_closing(desk):
    bridge = desk.bridge()
    ticket = desk.buy(0.1)
    bridge.trades.sync()
    bridge.risk.run_check()
    bridge.mt5.server_time.distrust("a test contradiction")

    close = {"action": 1, "symbol": "EURUSD", "volume": 0.1, "type": 1, "position": ticket}
    decision = bridge.risk.check(close)
    assert decision and decision.action == "close"


def test_position_limits_count_every_position_and_each_kind(desk):
    bridge = desk.bridge(max_simultaneous_trades=3, max_crypto_positions=1)
    desk.buy(0.1)
    desk.buy(0.01, symbol="BTCUSD", type_filling=mc.ORDER_FILLING_FOK)
    bridge.trades.sync()
    bridge.risk.run_check()

    def opening(symbol: str, volume: float = 0.1):
        return bridge.risk.check({"action": 1, "symbol": symbol, "volume": volume, "type": 0})

    assert opening("GBPUSD")
    refused = opening("ETHUSD")
    assert not refused and "MAX_CRYPTO_POSITIONS 1" in refused.reason
    desk.buy(0.1, symbol="GBPUSD")
    assert "MAX_SIMULTANEOUS_TRADES 3" in opening("USDJPY").reason
    assert "outside" in opening("EURUSD", 0.001).reason  # below the symbol's minimum volume


def test_trading_stays_disabled_until_reconciliation_succeeds(desk, redis_prefix):
    desk.client.edits["history_deals_get"] = lambda result, error: (
        None,
        (-1, "Terminal: Call failed"),
    )
    bridge = desk.bridge()
    ticket = desk.buy(0.1)

    assert not bridge.trades.reconciled
    assert bridge.status.snapshot()["trading"]["enabled"] is False
    assert "reconciliation pending" in bridge.status.snapshot()["trading"]["reason"]
    assert bridge.risk.run_check() is None
    refused = bridge.risk.check({"action": 1, "symbol": "EURUSD", "volume": 0.1, "type": 0})
    assert not refused and "reconciliation" in refused.reason
    close = {"action": 1, "symbol": "EURUSD", "volume": 0.1, "type": 1, "position": ticket}
    assert bridge.risk.check(close)

    del desk.client.edits["history_deals_get"]
    bridge.trades.run()
    assert bridge.trades.reconciled and bridge.status.snapshot()["trading"]["enabled"]
    bridge.risk.run_check()
    assert bridge.risk.check({"action": 1, "symbol": "EURUSD", "volume": 0.1, "type": 0})


# -- the trading day ----------------------------------------------------------------------


def test_a_bridge_running_at_midnight_takes_the_first_equity_of_the_day(desk, fresh_database):
    bridge = desk.bridge()
    desk.buy(0.5)
    bridge.trades.sync()
    desk.clock.set(MIDNIGHT - 30)
    bridge.risk.run_check()
    desk.clock.set(MIDNIGHT + 5)

    value = bridge.risk.run_check()

    assert value["day"] == "2026-03-26" and value["day_start_source"] == "observed"
    assert value["day_start_equity"] == value["equity"] == desk.mt5.account_info().equity
    days = rows(
        fresh_database, "SELECT day::text, starting_equity FROM daily_performance ORDER BY 1"
    )
    assert days[-1] == ("2026-03-26", value["equity"])


def test_a_bridge_down_at_midnight_rebuilds_the_day_start_from_balance_and_deals(
    desk, fresh_database, caplog
):
    bridge = desk.bridge()
    bridge.risk.run_check()
    desk.stop(bridge)
    desk.clock.set(MIDNIGHT + 3600)
    ticket = desk.buy(1.0)
    desk.simulation.market.shock("EURUSD", 0.5)
    desk.later(120)
    desk.close(ticket)  # a profit realised today while the bridge was down
    desk.buy(0.2)

    with caplog.at_level(logging.INFO):
        bridge = desk.bridge()
        value = bridge.risk.run_check()

    info = desk.mt5.account_info()
    today = [d for d in desk.mt5.history_deals_get(0, 2**31 - 1) if d.type in (0, 1)]
    realised = sum(d.profit + d.commission + d.swap + d.fee for d in today)
    assert realised > 0
    assert value["day_start_source"] == "rebuilt"
    assert value["day_start_equity"] == pytest.approx(info.balance - realised)
    assert any("rebuilt from the balance" in r.getMessage() for r in caplog.records)
    (day,) = row_dicts(fresh_database, "daily_performance", order="day DESC LIMIT 1")
    assert day["starting_equity"] == pytest.approx(info.balance - realised)
    assert day["realized_pnl"] == pytest.approx(realised)
    assert (day["deals_count"], day["trades_won"], day["trades_lost"]) == (3, 1, 0)
    assert day["floating_pnl"] == pytest.approx(info.profit)


def test_daily_performance_tracks_the_days_extremes(desk, fresh_database):
    bridge = desk.bridge()
    ticket = desk.buy(1.0)
    bridge.trades.sync()
    checks(bridge, desk, 1)
    desk.simulation.market.shock("EURUSD", -1)
    checks(bridge, desk, 1, every=60)
    desk.simulation.market.shock("EURUSD", 2)
    checks(bridge, desk, 1, every=60)
    low_equity = min(r[0] for r in rows(fresh_database, "SELECT min_equity FROM daily_performance"))
    desk.close(ticket)
    bridge.trades.sync()
    checks(bridge, desk, 1)

    (day,) = row_dicts(fresh_database, "daily_performance", order="day")
    assert day["min_equity"] == low_equity < 10_000 < day["max_equity"]
    drawdown = (day["max_equity"] - day["min_equity"]) / day["max_equity"] * 100
    assert 0 < day["max_drawdown_pct"] <= drawdown + 1e-9
    assert day["ending_equity"] == day["ending_balance"] == desk.mt5.account_info().balance
    assert day["realized_pnl"] > 0 and day["trades_won"] == 1
    assert day["halted"] is False
    assert START  # the day is the test's start day


def test_the_jobs_run_at_their_priorities_and_syncs_are_followed_by_a_risk_check(desk):
    bridge = desk.bridge()
    bridge.schedule_jobs()
    jobs = {name: (interval, priority) for name, interval, priority in bridge.scheduler.jobs()}
    assert jobs["trades"] == (15.0, Priority.HIGH)
    assert jobs["risk"] == (5.0, Priority.CRITICAL)
    assert jobs["symbols"][1] == Priority.LOW

    submitted = []
    bridge.worker.submit = lambda name, func, priority: submitted.append((name, priority))
    bridge.sync_trades()
    bridge.sync_account()
    assert submitted == [("risk", Priority.CRITICAL)] * 2


def test_a_reset_made_while_the_bridge_is_down_is_announced_at_its_first_check(
    desk, fresh_database, redis_prefix
):
    first = desk.bridge()
    halt(desk, first)
    checks(first, desk, 2)
    desk.stop(first)

    assert run_risk_command(first.settings, reset_by="bob") == 0
    second = desk.bridge()
    assert second.risk.state is ACTIVE
    checks(second, desk, 1)

    lifted = risk_messages(redis_prefix)[-1]
    assert (lifted["state"], lifted["previous_state"], lifted["acknowledged_by"]) == (
        "ACTIVE",
        "HALTED",
        "bob",
    )
    ((value,),) = rows(fresh_database, "SELECT value FROM bridge_state WHERE key = 'risk_state'")
    assert value["rebase_pending"] is False and value["day_start_source"] == "reset"
    checks(second, desk, 1)
    assert len(risk_messages(redis_prefix)) == 2  # the halt, and its lifting: once each
