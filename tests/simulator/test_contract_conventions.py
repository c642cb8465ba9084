"""Calling conventions and documented failures, driven by the contract's function table."""

from __future__ import annotations

import pytest

from tests.simulator.face_support import (
    CONTRACT,
    build_terminal,
    clock_of,
    failure_value,
    valid_calls,
)

CONVENTIONS = CONTRACT["behaviour"]["argument_conventions"]
NOARGS = CONVENTIONS["METH_NOARGS (any argument -> TypeError)"]
POSITIONAL_ONLY = CONVENTIONS[
    "METH_VARARGS positional-only (any keyword -> TypeError '<f>() takes no keyword arguments')"
]
CUSTOM = CONVENTIONS["METH_VARARGS|METH_KEYWORDS (custom parsing)"]
NO_IPC = (-10004, "No IPC connection")
# Functions that work without a connection (local to the module).
LOCAL = {"initialize", "shutdown", "last_error"}
# market_book_add/release fail with False and leave last_error at (1, 'Success').
QUIET = {"market_book_add", "market_book_release"}


@pytest.fixture(scope="module")
def terminal():
    return build_terminal()


@pytest.fixture
def mt5(terminal):
    assert terminal.initialize()
    yield terminal
    terminal.shutdown()


def server_now(terminal) -> int:
    return terminal._market.broker_time.to_server(clock_of(terminal).now())


def test_the_conventions_cover_all_32_functions() -> None:
    assert sorted(NOARGS + POSITIONAL_ONLY + CUSTOM) == sorted(CONTRACT["functions"])
    assert len(CONTRACT["functions"]) == 32


@pytest.mark.parametrize("name", NOARGS)
def test_noargs_function_raises_type_error_on_any_argument(mt5, name: str) -> None:
    mt5.account_info()  # leaves (1, 'Success')
    with pytest.raises(TypeError, match="takes no arguments"):
        getattr(mt5, name)(1)
    with pytest.raises(TypeError, match="takes no keyword arguments"):
        getattr(mt5, name)(x=1)
    assert mt5.last_error() == (1, "Success")


@pytest.mark.parametrize("name", POSITIONAL_ONLY)
def test_positional_only_function_raises_type_error_on_a_keyword(mt5, name: str) -> None:
    args, _ = valid_calls(server_now(mt5))[name]
    with pytest.raises(TypeError, match="takes no keyword arguments"):
        getattr(mt5, name)(*args[:-1], last=args[-1])


@pytest.mark.parametrize("name", POSITIONAL_ONLY)
def test_positional_only_function_with_a_wrong_count_fails_with_invalid_arguments(
    mt5, name: str
) -> None:
    args, _ = valid_calls(server_now(mt5))[name]
    result = getattr(mt5, name)(*args, *args)
    # symbol_select answers False; market_book_add/release answer None for bad arguments
    # (their quiet False is for terminal failures only).
    assert result is (False if name == "symbol_select" else None)
    assert mt5.last_error() == (-2, "Invalid arguments")


@pytest.mark.parametrize("name", ["positions_get", "orders_get"])
def test_keyword_only_getter_refuses_a_positional_argument(mt5, name: str) -> None:
    assert getattr(mt5, name)("EURUSD") is None
    assert mt5.last_error() == (-2, "Unnamed arguments not allowed")


@pytest.mark.parametrize("name", sorted(set(CONTRACT["functions"]) - LOCAL))
def test_call_before_initialize_fails_with_no_ipc_connection(terminal, name: str) -> None:
    terminal.shutdown()
    args, kwargs = valid_calls(server_now(terminal))[name]
    result = getattr(terminal, name)(*args, **kwargs)
    if name in QUIET:
        assert result is False
        assert terminal.last_error() == (1, "Success")
    else:
        assert result is failure_value(name)
        assert terminal.last_error() == NO_IPC


@pytest.mark.parametrize("name", sorted(CONTRACT["functions"]))
def test_well_formed_call_succeeds_and_leaves_success(mt5, name: str) -> None:
    calls = valid_calls(server_now(mt5))
    if name == "market_book_release":
        mt5.market_book_add("EURUSD")
    if name == "market_book_get":
        mt5.market_book_add("EURUSD")
    args, kwargs = calls[name]
    result = getattr(mt5, name)(*args, **kwargs)
    assert result is not None and result is not False
    if name != "last_error":
        assert mt5.last_error() == (1, "Success")


def test_last_error_reads_zero_before_any_call() -> None:
    fresh = build_terminal()
    assert fresh.last_error() == (0, "")


def test_every_call_resets_last_error_to_success(mt5) -> None:
    assert mt5.symbol_info("NOPE") is None
    assert mt5.last_error()[0] < 0
    assert mt5.symbols_total() > 0
    assert mt5.last_error() == (1, "Success")


def test_last_error_does_not_reset_itself(mt5) -> None:
    mt5.symbol_info("NOPE")
    first = mt5.last_error()
    assert mt5.last_error() == first != (1, "Success")


def test_shutdown_returns_true_even_when_not_initialized(terminal) -> None:
    terminal.shutdown()
    assert terminal.shutdown() is True
    assert terminal.last_error() == (1, "Success")


def test_version_is_a_tuple_with_build_and_date(mt5) -> None:
    version = mt5.version()
    assert type(version) is tuple and version[0] == 500 and version[1] == 5120
    day, month, year = version[2].split()
    assert len(day) == 2 and len(month) == 3 and len(year) == 4


@pytest.mark.parametrize("name", ["symbols_total", "orders_total", "positions_total"])
def test_totals_are_none_on_error_not_zero(terminal, name: str) -> None:
    terminal.shutdown()
    assert getattr(terminal, name)() is None


def test_unknown_symbol_fails_with_a_terminal_code(mt5) -> None:
    assert mt5.symbol_info("NOPE") is None
    assert mt5.last_error() == (-1, "Terminal: Call failed")
    assert mt5.symbol_info_tick("NOPE") is None
    assert mt5.copy_rates_from_pos("NOPE", 16385, 0, 10) is None
    assert mt5.last_error()[0] == -1


@pytest.mark.parametrize("bad", [None, 5, "X" * 30])
def test_bad_symbol_argument_is_invalid_arguments(mt5, bad) -> None:
    assert mt5.symbol_info(bad) is None
    assert mt5.last_error() == (-2, "Invalid arguments")
    assert mt5.copy_rates_from_pos(bad, 16385, 0, 10) is None
    assert mt5.last_error() == (-2, "Invalid arguments")


def test_symbol_of_29_characters_passes_argument_checks(mt5) -> None:
    assert mt5.symbol_info("X" * 29) is None
    assert mt5.last_error() == (-1, "Terminal: Call failed")


def test_symbols_get_returns_false_on_bad_arguments(mt5) -> None:
    assert mt5.symbols_get("*", "*") is False
    assert mt5.last_error() == (-2, "Invalid number of arguments")
    assert mt5.symbols_get(5) is False
    assert mt5.last_error() == (-2, "Invalid 1st unnamed argument")
    assert mt5.symbols_get(group=5) is False
    assert mt5.last_error() == (-2, 'Invalid "group" argument')


@pytest.mark.parametrize("name", ["positions_get", "orders_get"])
def test_getter_checks_ticket_before_symbol_before_group(mt5, name: str) -> None:
    getter = getattr(mt5, name)
    assert getter(ticket=1.0, symbol=5, group=5) is None
    assert mt5.last_error() == (-2, 'Invalid "ticket" argument')
    assert getter(symbol=None, group=5) is None
    assert mt5.last_error() == (-2, 'Invalid "symbol" argument')
    assert getter(group=None) is None
    assert mt5.last_error() == (-2, 'Invalid "group" argument')


@pytest.mark.parametrize("name", ["history_orders_get", "history_deals_get"])
def test_history_get_forms(mt5, name: str) -> None:
    getter = getattr(mt5, name)
    assert getter(None, None) is None
    assert mt5.last_error() == (-2, "Invalid arguments")
    assert getter(0, 10, ticket=1) is None
    assert mt5.last_error() == (-2, "Unnamed arguments not allowed")
    assert getter(ticket="1") is None
    assert mt5.last_error() == (-2, 'Invalid "ticket" argument')
    assert getter(ticket=987654321) == ()
    assert getter(position=987654321) == ()


def test_float_where_the_module_parses_an_int_raises_system_error(mt5) -> None:
    with pytest.raises(SystemError) as raised:
        mt5.copy_rates_from_pos("EURUSD", 16385, 0, 10.0)
    assert isinstance(raised.value.__cause__, TypeError)


@pytest.mark.parametrize(
    ("args", "kwargs", "error"),
    [
        ((5,), {}, (-2, "Invalid 1st unnamed argument")),
        (("C:\\x" * 100,), {}, (-2, "Invalid 1st unnamed argument")),
        ((), {"path": None}, (-2, 'Invalid "path" argument')),
        ((), {"password": None}, (-2, 'Invalid "password" argument')),
        ((), {"server": 5}, (-2, 'Invalid "server" argument')),
        ((), {"timeout": 1.5}, (-2, 'Invalid "timeout" argument')),
    ],
)
def test_initialize_argument_errors_return_false(terminal, args, kwargs, error) -> None:
    assert terminal.initialize(*args, **kwargs) is False
    assert terminal.last_error() == error


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("1",), (-2, "Invalid 1st unnamed argument")),
        ((1, 2), (-2, "Invalid 2nd unnamed argument")),
        ((1, "p", None), (-2, "Invalid 3rd unnamed argument")),
        ((1, "p", "s", 5), (-2, "Invalid number of arguments")),
    ],
)
def test_login_argument_errors_return_false(mt5, args, error) -> None:
    assert mt5.login(*args) is False
    assert mt5.last_error() == error


def test_login_without_a_login_is_invalid(mt5) -> None:
    assert mt5.login(password="x") is False
    assert mt5.last_error() == (-2, 'Invalid "login" argument')
