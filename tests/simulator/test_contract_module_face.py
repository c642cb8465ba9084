"""The face as code written for the real module meets it: installed as ``MetaTrader5`` in
this process, and served over RPyC.

Libraries written against a real terminal import the result types by name, reach the
wheel's private ``_RawOrder``, keep module functions as class attributes, copy all the
ticks that exist, and must convert results before sending them to another process.
"""

from __future__ import annotations

import copy
import pickle
import sys
import threading

import pytest
import rpyc

from bridge_v3.services.mt5.clients import RemoteClient
from bridge_v3.simulator import SimulatorConfig, create_simulation
from bridge_v3.simulator.clock import ManualClock
from bridge_v3.simulator.served_module import MODULE_NAME, install
from bridge_v3.simulator.server import SimulatorServer
from bridge_v3.simulator.terminal import SimulatedTerminal
from tests.simulator.face_support import CONTRACT, START, build_terminal, clock_of

STRUCT_NAMES = [name for name in CONTRACT["structs"] if not name.startswith("_")]


@pytest.fixture
def installed(monkeypatch):
    """The face installed as the module ``MetaTrader5`` of this process, initialized."""
    terminal = build_terminal()
    module = install(terminal, threading.RLock(), {})
    monkeypatch.setitem(sys.modules, MODULE_NAME, module)
    assert module.initialize()
    return module


@pytest.fixture
def served(monkeypatch):
    """A simulator served over RPyC in this process; yields (connection, port)."""
    simulation = create_simulation(SimulatorConfig(seed=5), clock=ManualClock(START))
    server = SimulatorServer(simulation, port=0, modules={})
    monkeypatch.setitem(sys.modules, MODULE_NAME, server.module)
    server.start()
    conn = rpyc.classic.connect(*server.address)
    assert conn.modules.MetaTrader5.initialize()
    yield conn, server.address[1]
    conn.close()
    server.stop()


def opened_position(mt5) -> object:
    tick = mt5.symbol_info_tick("EURUSD")
    result = mt5._RawOrder(mt5.ORDER_TYPE_BUY, "EURUSD", 0.1, tick.ask, "face test")
    assert result.retcode == mt5.TRADE_RETCODE_DONE, result.comment
    return mt5.positions_get(ticket=result.order)[0]


# -- the result types ---------------------------------------------------------------------------


def test_the_contract_names_eleven_result_types() -> None:
    assert len(STRUCT_NAMES) == 11


@pytest.mark.parametrize("name", STRUCT_NAMES)
def test_each_result_type_is_an_attribute_of_the_face(installed, name: str) -> None:
    assert isinstance(getattr(SimulatedTerminal, name), type)
    assert getattr(installed, name) is getattr(SimulatedTerminal, name)
    assert getattr(installed, name).__name__ == name


def test_result_types_import_by_name_and_are_the_types_of_results(installed) -> None:
    from MetaTrader5 import OrderCheckResult, OrderSendResult, Tick, TradePosition

    position = opened_position(installed)
    check = installed.order_check(
        {"action": 1, "symbol": "EURUSD", "volume": 0.1, "type": 0, "price": position.price_open}
    )
    assert type(installed.symbol_info_tick("EURUSD")) is Tick
    assert isinstance(position, TradePosition)
    assert type(check) is OrderCheckResult
    assert type(installed._RawOrder(0, "EURUSD", 0.1, position.price_open)) is OrderSendResult


def test_no_type_is_exported_under_a_name_the_real_module_lacks(installed) -> None:
    # order_check's type is OrderCheckResult in the wheel's binary, the only name it has.
    assert not hasattr(installed, "TradeCheckResult")
    assert not hasattr(SimulatedTerminal, "TradeCheckResult")


# -- results cannot be pickled ------------------------------------------------------------------


def test_results_cannot_be_pickled_but_can_be_copied(installed) -> None:
    position = opened_position(installed)
    results = [installed.account_info(), installed.symbol_info_tick("EURUSD"), position]

    for result in results:
        assert type(result).__module__ == "builtins"
        with pytest.raises(pickle.PicklingError):
            pickle.dumps(result)
        assert copy.deepcopy(result) == result
    assert pickle.loads(pickle.dumps(position._asdict())) == position._asdict()


def test_the_bridge_remote_client_gets_plain_values_over_the_server(served) -> None:
    _, port = served
    client = RemoteClient("127.0.0.1", port, timeout=30)
    try:
        tick, _ = client.call("symbol_info_tick", "EURUSD")
        request = {"action": 1, "symbol": "EURUSD", "volume": 0.1, "type": 0}
        sent, error = client.call("order_send", {**request, "price": tick["ask"]})
        positions, _ = client.call("positions_get", symbol="EURUSD")
    finally:
        client.close()

    assert sent["retcode"] == 10009, (sent, error)
    assert type(sent["request"]) is dict and sent["request"]["symbol"] == "EURUSD"
    assert [p["ticket"] for p in positions] == [sent["order"]]


# -- _RawOrder ----------------------------------------------------------------------------------


def test_raw_order_sends_the_wheels_market_deal(installed) -> None:
    tick = installed.symbol_info_tick("EURUSD")

    result = installed._RawOrder(installed.ORDER_TYPE_BUY, "EURUSD", 0.1, tick.ask)

    assert result.retcode == installed.TRADE_RETCODE_DONE
    request = result.request
    assert (request.action, request.type, request.volume) == (1, 0, 0.1)
    assert (request.deviation, request.type_filling, request.magic) == (10, 0, 0)
    assert (request.comment, request.position, request.sl, request.tp) == ("", 0, 0.0, 0.0)


def test_raw_order_with_a_ticket_closes_that_position(installed) -> None:
    position = opened_position(installed)
    bid = installed.symbol_info_tick("EURUSD").bid

    result = installed._RawOrder(1, "EURUSD", 0.1, bid, "closing", position.ticket)

    assert result.retcode == installed.TRADE_RETCODE_DONE
    assert (result.request.position, result.request.comment) == (position.ticket, "closing")
    assert installed.positions_get(ticket=position.ticket) == ()


# -- ticks are not limited by 'Max bars in chart' -----------------------------------------------


def test_copy_ticks_returns_every_tick_that_exists_whatever_the_count() -> None:
    mt5 = build_terminal(max_bars=100)
    assert mt5.initialize()
    now = mt5._market.broker_time.to_server(clock_of(mt5).now())

    everything = mt5.copy_ticks_range("EURUSD", now - 3600, now, mt5.COPY_TICKS_ALL)
    counted = mt5.copy_ticks_from("EURUSD", now - 3600, 10**9, mt5.COPY_TICKS_ALL)

    assert len(everything) > 100 and mt5.last_error() == (1, "Success")
    assert counted is not None and len(counted) == len(everything)
    assert mt5.copy_rates_from_pos("EURUSD", mt5.TIMEFRAME_M1, 0, 101) is None  # bars are


# -- module functions stay unbound on a class ---------------------------------------------------


def _stored_on_a_class(mt5) -> object:
    class Holder:
        version = mt5.version
        tick = mt5.symbol_info_tick

    return Holder()


def test_functions_stored_on_a_class_stay_unbound_in_process(installed) -> None:
    terminal = build_terminal()
    assert terminal.initialize()

    for mt5 in (installed, terminal):
        holder = _stored_on_a_class(mt5)
        assert holder.version() == mt5.version()
        assert holder.tick("EURUSD").bid > 0
    assert repr(installed.version) == "<built-in function version>"


def test_functions_stored_on_a_class_stay_unbound_over_rpyc(served) -> None:
    conn, _ = served
    holder = _stored_on_a_class(conn.modules.MetaTrader5)

    assert tuple(holder.version()) == tuple(conn.modules.MetaTrader5.version())
    assert holder.tick("EURUSD").bid > 0


def test_types_and_raw_order_import_by_name_over_rpyc(served) -> None:
    conn, _ = served
    conn.execute(
        "from MetaTrader5 import Tick, TradePosition, OrderSendResult, _RawOrder\n"
        "import MetaTrader5, pickle\n"
        "tick = MetaTrader5.symbol_info_tick('EURUSD')\n"
        "sent = _RawOrder(0, 'EURUSD', 0.1, tick.ask)\n"
        "try:\n"
        "    pickle.dumps(tick)\n"
        "    pickled = True\n"
        "except pickle.PicklingError:\n"
        "    pickled = False\n"
    )

    assert conn.eval("type(tick) is Tick and type(sent) is OrderSendResult")
    assert conn.eval("sent.retcode") == 10009
    assert conn.eval("isinstance(MetaTrader5.positions_get()[0], TradePosition)")
    assert conn.eval("pickled") is False
