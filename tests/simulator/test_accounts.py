"""A terminal nobody is logged in to, and login() switching between the accounts it knows."""

from __future__ import annotations

import pytest

from bridge_v3.simulator import SimulatorConfig, create_simulation, create_terminal
from bridge_v3.simulator.__main__ import main
from bridge_v3.simulator.cli import build_parser, config_from_args
from bridge_v3.simulator.clock import ManualClock
from tests.simulator.face_support import START, market_request

FIRST, SECOND = 10000001, 20000002
PASSWORD = "pw-both"
AUTH_FAILED = (-6, "Terminal: Authorization failed")
NOT_LOGGED_IN = (-1, "Terminal: Call failed")


def terminal(**options):
    config = SimulatorConfig(password=PASSWORD, other_logins=(SECOND,), **options)
    return create_terminal(config, clock=ManualClock(START))


def buy(mt5, magic: int):
    request = market_request(price=mt5.symbol_info_tick("EURUSD").ask, magic=magic)
    result = mt5.order_send(request)
    assert result.retcode == mt5.TRADE_RETCODE_DONE, result.comment
    return result.order


@pytest.fixture
def nobody():
    mt5 = terminal(logged_in=False)
    assert mt5.initialize() is True
    return mt5


# -- nobody logged in ---------------------------------------------------------------------------


def test_initialize_succeeds_but_there_is_no_account(nobody):
    assert nobody.account_info() is None
    assert nobody.last_error() == NOT_LOGGED_IN
    assert nobody.terminal_info().connected is False


@pytest.mark.parametrize(
    ("name", "args", "kwargs"),
    [
        ("positions_get", (), {}),
        ("positions_total", (), {}),
        ("orders_get", (), {}),
        ("orders_total", (), {}),
        ("history_deals_get", (0, 2**31 - 1), {}),
        ("history_orders_total", (0, 2**31 - 1), {}),
        ("order_calc_margin", (0, "EURUSD", 0.1, 1.1), {}),
    ],
)
def test_trading_getters_fail_as_account_info_does(nobody, name, args, kwargs):
    assert getattr(nobody, name)(*args, **kwargs) is None
    assert nobody.last_error() == NOT_LOGGED_IN


@pytest.mark.parametrize("name", ["order_send", "order_check"])
def test_trade_requests_find_no_trade_server(nobody, name):
    request = market_request(price=nobody.symbol_info_tick("EURUSD").ask)

    result = getattr(nobody, name)(request)

    assert result.retcode == nobody.TRADE_RETCODE_CONNECTION
    assert nobody.last_error() == (1, "Success")


def test_login_with_the_password_logs_in(nobody):
    assert nobody.login(FIRST, password=PASSWORD, server="BridgeSim-Demo") is True

    assert nobody.account_info().login == FIRST
    assert nobody.terminal_info().connected is True
    assert nobody.positions_get() == ()


def test_without_a_saved_password_login_is_refused(nobody):
    assert nobody.login(FIRST) is False
    assert nobody.last_error() == AUTH_FAILED
    assert nobody.account_info() is None


# -- wrong credentials --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "credentials",
    [
        {"login": 55555555, "password": PASSWORD},
        {"login": SECOND, "password": "wrong"},
        {"login": SECOND, "password": PASSWORD, "server": "Other-Server"},
    ],
    ids=["unknown login", "wrong password", "wrong server"],
)
def test_wrong_credentials_are_an_authorization_failure(credentials):
    mt5 = terminal()
    assert mt5.initialize()

    assert mt5.login(**credentials) is False
    assert mt5.last_error() == AUTH_FAILED
    assert mt5.initialize(**credentials) is False
    assert mt5.last_error() == AUTH_FAILED


def test_a_failed_switch_keeps_the_account_logged_in_to():
    mt5 = terminal()
    assert mt5.initialize()

    assert mt5.login(SECOND, password="wrong") is False

    assert mt5.account_info().login == FIRST


# -- switching ----------------------------------------------------------------------------------


def test_each_account_keeps_its_positions_across_switches():
    mt5 = terminal()
    assert mt5.initialize() and mt5.account_info().login == FIRST
    first_ticket = buy(mt5, magic=1)

    assert mt5.login(SECOND, password=PASSWORD) is True
    assert mt5.account_info().login == SECOND
    assert mt5.positions_get() == ()
    second_ticket = buy(mt5, magic=2)

    assert mt5.initialize(login=FIRST) is True  # logged in before: the password is saved
    assert [p.ticket for p in mt5.positions_get()] == [first_ticket]
    assert mt5.login(SECOND) is True
    assert [p.ticket for p in mt5.positions_get()] == [second_ticket]


def test_the_default_terminal_is_logged_in_to_the_configured_account():
    mt5 = create_terminal(SimulatorConfig(login=777), clock=ManualClock(START))

    assert mt5.initialize() is True
    assert mt5.account_info().login == 777


def test_every_account_is_kept_in_the_state_file(tmp_path):
    config = SimulatorConfig(
        state_file=str(tmp_path / "state.json"), other_logins=(SECOND,), password=PASSWORD
    )
    simulation = create_simulation(config, clock=ManualClock(START))
    mt5 = simulation.terminal
    assert mt5.initialize(login=SECOND, password=PASSWORD)
    ticket = buy(mt5, magic=3)
    simulation.save()

    restored = create_simulation(config, clock=ManualClock(START)).terminal

    assert restored.initialize() and restored.account_info().login == FIRST
    assert restored.login(SECOND, password=PASSWORD)
    assert [p.ticket for p in restored.positions_get()] == [ticket]


# -- configuration ------------------------------------------------------------------------------


def test_the_command_line_starts_a_terminal_nobody_is_logged_in_to():
    args = build_parser().parse_args(["serve", "--not-logged-in", "--other-login", "5"])

    config = config_from_args(args)

    assert (config.logged_in, config.other_logins) == (False, (5,))
    assert SimulatorConfig().logged_in is True


@pytest.mark.parametrize("others", [["--other-login", "10000001"], ["--other-login", "0"]])
def test_a_clashing_or_invalid_other_login_exits_2(others, capsys):
    with pytest.raises(SystemExit) as caught:
        main(["serve", *others])

    assert caught.value.code == 2
    assert "other" in capsys.readouterr().err
