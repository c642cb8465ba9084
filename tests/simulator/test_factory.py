"""SimulatorConfig validation and the factory that assembles a terminal from it."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from bridge_v3.exceptions import ConfigError
from bridge_v3.simulator import SimulatorConfig, create_simulation, create_terminal, save_state
from bridge_v3.simulator.clock import ManualClock
from bridge_v3.simulator.state import StateFileError
from bridge_v3.simulator.state import save_state as write_state


def test_defaults_describe_a_hedging_usd_demo_account_in_a_dst_broker_zone():
    config = SimulatorConfig()

    assert (config.server_timezone, config.hedging, config.currency) == (
        "Europe/Athens",
        True,
        "USD",
    )
    assert (config.balance, config.leverage, config.state_file) == (10000.0, 100, None)


def test_password_is_masked_in_the_repr():
    config = SimulatorConfig(password="s3cr3t-pass")

    assert "s3cr3t-pass" not in repr(config)
    assert "password='***'" in repr(config)


def test_config_is_frozen_and_its_replays_cannot_be_changed_behind_its_back():
    replays = {"EURUSD": "eurusd.csv"}
    config = SimulatorConfig(replays=replays)
    replays["GBPUSD"] = "gbpusd.csv"

    assert dict(config.replays) == {"EURUSD": "eurusd.csv"}
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.seed = 3
    with pytest.raises(TypeError):
        config.replays["USDJPY"] = "usdjpy.csv"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("server_timezone", "Nowhere/Atlantis"),
        ("speed", 0),
        ("speed", float("inf")),
        ("balance", -1.0),
        ("leverage", 0),
        ("leverage", 1.5),
        ("login", True),
        ("seed", -1),
        ("history_days", 0),
        ("save_interval", 0),
        ("start", float("nan")),
    ],
)
def test_an_invalid_value_is_refused_naming_the_field(field, value):
    with pytest.raises(ConfigError) as caught:
        SimulatorConfig(**{field: value})

    assert caught.value.variable == field


# --- assembling a terminal ---------------------------------------------------------------

WEDNESDAY_9_UTC = 1772614800.0  # 2026-03-04 09:00 UTC: forex open
TRADE_RETCODE_DONE = 10009


def buy(mt5, symbol: str = "EURUSD", volume: float = 0.1, magic: int = 7):
    tick = mt5.symbol_info_tick(symbol)
    filling = mt5.ORDER_FILLING_FOK if mt5.symbol_info(symbol).filling_mode & 1 else 1
    return mt5.order_send(
        {
            "action": mt5.TRADE_ACTION_DEAL,
            "symbol": symbol,
            "volume": volume,
            "type": mt5.ORDER_TYPE_BUY,
            "price": tick.ask,
            "deviation": 50,
            "magic": magic,
            "type_filling": filling,
        }
    )


def test_the_terminal_follows_the_config(tmp_path):
    config = SimulatorConfig(
        seed=5, balance=2500.0, leverage=30, login=777, symbols_suffix=".m", hedging=False
    )

    mt5 = create_terminal(config, clock=ManualClock(WEDNESDAY_9_UTC))

    assert mt5.initialize()
    account = mt5.account_info()
    assert (account.login, account.balance, account.leverage) == (777, 2500.0, 30)
    assert account.margin_mode == mt5.ACCOUNT_MARGIN_MODE_RETAIL_NETTING
    assert mt5.symbol_info("EURUSD.m") is not None
    assert mt5.symbol_info("EURUSD") is None


def test_the_configured_password_is_the_one_initialize_accepts():
    mt5 = create_terminal(SimulatorConfig(password="right"), clock=ManualClock(WEDNESDAY_9_UTC))

    assert mt5.initialize(login=10000001, password="wrong") is False
    assert mt5.initialize(login=10000001, password="right") is True


def test_same_seed_same_prices():
    first = create_terminal(SimulatorConfig(seed=9), clock=ManualClock(WEDNESDAY_9_UTC))
    second = create_terminal(SimulatorConfig(seed=9), clock=ManualClock(WEDNESDAY_9_UTC))
    other = create_terminal(SimulatorConfig(seed=10), clock=ManualClock(WEDNESDAY_9_UTC))
    for mt5 in (first, second, other):
        mt5.initialize()

    rates = [m.copy_rates_from_pos("EURUSD", m.TIMEFRAME_M1, 0, 30) for m in (first, second, other)]

    assert np.array_equal(rates[0], rates[1])
    assert not np.array_equal(rates[0], rates[2])


def test_saved_state_brings_back_the_account_positions_and_clock(tmp_path):
    config = SimulatorConfig(seed=2, state_file=str(tmp_path / "state.json"))
    clock = ManualClock(WEDNESDAY_9_UTC)
    mt5 = create_terminal(config, clock=clock)
    mt5.initialize()
    result = buy(mt5, magic=31)
    assert result.retcode == TRADE_RETCODE_DONE
    clock.advance(600)
    before = [p._asdict() for p in mt5.positions_get()]
    balance = mt5.account_info().balance

    assert save_state(mt5) == config.state_file
    restored = create_simulation(config, clock=ManualClock(WEDNESDAY_9_UTC + 600))
    restored.terminal.initialize()

    assert [p._asdict() for p in restored.terminal.positions_get()] == before
    assert before[0]["ticket"] == result.order
    assert restored.terminal.account_info().balance == balance
    assert restored.snapshot()["clock_utc"] == WEDNESDAY_9_UTC + 600


def test_a_restored_wall_clock_never_starts_before_the_saved_time(tmp_path):
    path = tmp_path / "state.json"
    config = SimulatorConfig(state_file=str(path))
    far_future = 4102444800.0  # 2100-01-01: later than any wall clock running this test
    simulation = create_simulation(config, clock=ManualClock(far_future))
    simulation.save()

    restored = create_simulation(config)  # no clock given: a wall clock

    assert restored.clock.now() >= far_future


def test_a_corrupt_broker_part_is_a_state_file_error_naming_the_file(tmp_path):
    path = tmp_path / "state.json"
    write_state(path, {"clock_utc": WEDNESDAY_9_UTC, "broker": {"version": 1, "ledger": 3}})

    with pytest.raises(StateFileError) as caught:
        create_simulation(SimulatorConfig(state_file=str(path)), clock=ManualClock(0.0))

    assert str(path) in str(caught.value)
    assert "broker state" in str(caught.value)


def test_save_state_refuses_a_terminal_it_did_not_make():
    with pytest.raises(ValueError, match="not made by create_terminal"):
        save_state(object(), "/tmp/never-written.json")


def test_save_state_without_a_path_or_state_file_is_refused():
    mt5 = create_terminal(SimulatorConfig(), clock=ManualClock(WEDNESDAY_9_UTC))

    with pytest.raises(ValueError, match="no state file"):
        save_state(mt5)
