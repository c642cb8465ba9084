"""Strategies run by the price cycle on the simulated terminal, with real PostgreSQL and Redis:
signals stored once and published in both modes, zero order_send in safety mode, one
intent per live signal and at most one order each, exits only while halted, a failing
strategy skipped without stopping the others, pause, resume and reload."""

from __future__ import annotations

import logging
from dataclasses import replace

import jsonschema
import pytest

from bridge_v3 import schemas
from bridge_v3.config.constants import TIMEFRAMES
from bridge_v3.strategies.base import Signal, Strategy
from tests.controllers.execution_support import configured, intents, sends, start
from tests.controllers.trade_support import make_desk, published, rows

M1 = TIMEFRAMES["M1"]
SYMBOLS = ("EURUSD", "GBPUSD", "USDJPY")


@pytest.fixture
def desk(fresh_database, redis_prefix, tmp_path):
    made = make_desk(fresh_database, redis_prefix, tmp_path)
    made.settings = replace(
        made.settings, market=replace(made.settings.market, forex_pairs=SYMBOLS)
    )
    yield made
    for bridge in list(made.bridges):
        made.stop(bridge)


def strategies_file(tmp_path, text: str) -> str:
    path = tmp_path / "strategies.toml"
    path.write_text(text)
    return str(path)


FAST = """
[ma_cross]
fast = 2
slow = 5
atr_period = 3
[donchian]
period = 5
"""


def cycles(desk, bridge, count: int) -> int:
    """``count`` minutes of market, each a price cycle and the strategy tasks it starts."""
    stored = 0
    for _ in range(count):
        desk.later(60)
        bridge.risk.run_check()  # the risk job runs every few seconds meanwhile
        bridge.prices.sync_all()
        stored += bridge.run_strategies()
    return stored


def signal_rows(pg):
    return rows(
        pg,
        "SELECT strategy, symbol, timeframe, time, side, mode FROM signals ORDER BY time, strategy",
    )


def test_safety_mode_over_a_long_run_stores_and_publishes_signals_and_sends_nothing(
    desk, fresh_database, redis_prefix, tmp_path
):
    settings = configured(
        desk,
        live=False,
        strategies=("ma_cross", "donchian"),
        strategies_file=strategies_file(tmp_path, FAST),
    )
    bridge = start(desk, settings)

    stored = cycles(desk, bridge, 240)

    found = signal_rows(fresh_database)
    assert stored == len(found) > 20
    assert {r[0] for r in found} == {"ma_cross", "donchian"}
    assert {r[1] for r in found} == set(SYMBOLS) and {r[5] for r in found} == {"safety"}
    messages = [m["data"] for m in published(redis_prefix, "signal")]
    assert len(messages) == len(found)
    assert {(m["strategy"], m["symbol"], m["side"]) for m in messages} == {
        (r[0], r[1], r[4]) for r in found
    }
    schema = jsonschema.Draft202012Validator(schemas.load("signal"))
    for message in messages:
        schema.validate(message)
    calls = desk.simulation.calls()
    assert calls.get("order_send", 0) == 0 and calls.get("order_check", 0) == 0
    assert intents(fresh_database) == []


def test_a_restart_replays_no_signal(desk, fresh_database, redis_prefix, tmp_path):
    settings = configured(
        desk,
        live=False,
        strategies=("ma_cross",),
        strategies_file=strategies_file(tmp_path, "[ma_cross]\nfast = 2\nslow = 5\n"),
    )
    bridge = start(desk, settings)
    cycles(desk, bridge, 60)
    before = signal_rows(fresh_database)
    desk.stop(bridge)

    again = start(desk, settings)
    again.strategies._cursors = dict.fromkeys(again.strategies._cursors)  # forget what it saw
    for symbol in SYMBOLS:
        again.strategies.run("ma_cross", symbol)  # the newest bar evaluated once more

    assert signal_rows(fresh_database) == before
    assert len(published(redis_prefix, "signal")) == len(before)


def test_live_mode_gives_every_signal_one_intent_and_at_most_one_order(
    desk, fresh_database, tmp_path
):
    settings = configured(
        desk,
        live=True,
        strategies=("ma_cross",),
        strategies_file=strategies_file(
            tmp_path, "[ma_cross]\nfast = 2\nslow = 5\natr_period = 3\n"
        ),
        price_tolerance_pct=1.0,
    )
    settings = replace(settings, risk=replace(settings.risk, max_simultaneous_trades=50))
    bridge = start(desk, settings)

    cycles(desk, bridge, 120)

    found = rows(fresh_database, "SELECT symbol, time FROM signals")
    journal = intents(fresh_database)
    assert len(found) > 5
    for symbol, time in found:
        linked = [i for i in journal if i["symbol"] == symbol and i["signal_time"] == time]
        assert linked, (symbol, time)
        assert sum(1 for i in linked if i["kind"] == "open") == 1
    sent = [i for i in journal if i["attempts"]]
    assert sends(desk) == sum(i["attempts"] for i in sent)
    assert all(i["attempts"] == 1 for i in sent)
    magic = bridge.strategy_set[0].magic
    for symbol in SYMBOLS:
        own = [p for p in desk.mt5.positions_get(symbol=symbol) if p.magic == magic]
        assert len(own) <= 1  # one position per strategy and symbol


def test_while_halted_a_signal_closes_its_position_and_the_entry_is_refused(
    desk, fresh_database, tmp_path
):
    wide = "sl_atr = 1000\ntp_atr = 1000\n"  # stops the shock below cannot reach
    settings = configured(
        desk,
        live=True,
        strategies=("ma_cross",),
        strategies_file=strategies_file(
            tmp_path,
            f'[ma_cross]\nsymbols = ["EURUSD"]\nfast = 2\nslow = 5\natr_period = 3\n{wide}',
        ),
        price_tolerance_pct=1.0,
    )
    settings = replace(settings, risk=replace(settings.risk, risk_per_trade=5.0))
    bridge = start(desk, settings)
    magic = bridge.strategy_set[0].magic
    while not desk.mt5.positions_get(symbol="EURUSD"):
        cycles(desk, bridge, 1)
    (held,) = desk.mt5.positions_get(symbol="EURUSD")
    desk.send(  # a losing trade by hand, the same way, halts the account
        action=1, symbol="EURUSD", volume=1.0, type=held.type, deviation=20, type_filling=1
    )
    bridge.trades.sync()
    bridge.risk.run_check()
    desk.simulation.market.shock("EURUSD", 3 if held.type == 1 else -3)
    for _ in range(2):
        desk.later(5)
        bridge.risk.run_check()
    assert bridge.risk.state.value == "HALTED"

    while [p for p in desk.mt5.positions_get(symbol="EURUSD") if p.magic == magic]:
        cycles(desk, bridge, 1)

    last = [i for i in intents(fresh_database) if i["signal_time"] is not None][-2:]
    assert [(i["kind"], i["status"]) for i in last] == [("close", "filled"), ("open", "refused")]
    assert "HALTED" in last[-1]["error"]


class Broken(Strategy):
    name = "broken"

    @property
    def warmup(self) -> int:
        return 1

    def evaluate(self, bars):
        raise ZeroDivisionError("a bug in a plug-in")


class Always(Strategy):
    name = "always"

    @property
    def warmup(self) -> int:
        return 1

    def evaluate(self, bars):
        return Signal("buy", float(bars["close"].iloc[-1]), reason="every bar")


def test_a_strategy_that_raises_is_logged_once_counted_and_the_others_run(
    desk, fresh_database, caplog
):
    settings = configured(
        desk,
        live=False,
        strategies=(
            "tests.controllers.test_strategy_controller:Broken",
            "tests.controllers.test_strategy_controller:Always",
        ),
    )
    bridge = start(desk, settings)

    with caplog.at_level(logging.ERROR, logger="bridge_v3.controllers.strategy_controller"):
        cycles(desk, bridge, 5)

    failures = [r for r in caplog.records if "Strategy broken failed" in r.getMessage()]
    assert len(failures) == 1 and failures[0].exc_info[0] is ZeroDivisionError
    assert bridge.strategies.totals["errors"] == 5 * len(SYMBOLS)
    assert {r[0] for r in signal_rows(fresh_database)} == {"always"}
    assert len(signal_rows(fresh_database)) == 5 * len(SYMBOLS)


def test_pause_resume_and_a_reload_that_keeps_the_old_set_when_the_file_is_bad(
    desk, fresh_database, tmp_path
):
    always = "tests.controllers.test_strategy_controller:Always"
    settings = configured(desk, live=False, strategies=(always,))
    current = {"settings": settings}
    bridge = start(desk, settings, source=lambda: current["settings"])

    assert bridge.strategies.pause("always") and not bridge.strategies.pause("nothing")
    cycles(desk, bridge, 3)
    paused = len(signal_rows(fresh_database))
    bridge.strategies.resume("always")
    cycles(desk, bridge, 2)
    current["settings"] = replace(
        settings,
        trading=replace(
            settings.trading, strategies_file=strategies_file(tmp_path, "[always]\nbad = [")
        ),
    )
    bad = bridge.strategies.reload()
    current["settings"] = replace(
        settings, trading=replace(settings.trading, strategies=(always, "ma_cross"))
    )
    good = bridge.strategies.reload()

    assert paused == 0 and len(signal_rows(fresh_database)) == 2 * len(SYMBOLS)
    assert not bad.ok and "not valid TOML" in bad.error and bad.strategies == ("always",)
    assert good.ok and good.strategies == ("always", "ma_cross")
    assert bridge.strategies.names == ("always", "ma_cross")
