"""The simulator counts the calls its terminal receives, without a new attribute on the face."""

from __future__ import annotations

import sys

import rpyc

from bridge_v3.simulator.clock import ManualClock
from bridge_v3.simulator.factory import SimulatorConfig, create_simulation
from bridge_v3.simulator.served_control import MODULE_NAME
from bridge_v3.simulator.server import SimulatorServer
from tests.simulator.face_support import START, market_request


def test_every_call_is_counted_by_name_failures_included():
    simulation = create_simulation(SimulatorConfig(seed=7), ManualClock(START))
    mt5 = simulation.terminal
    assert mt5.initialize()

    mt5.account_info()
    mt5.order_check(market_request())
    mt5.symbol_info("NOSUCH")  # a failure still reached the terminal

    calls = simulation.calls()
    assert calls["initialize"] == 1 and calls["account_info"] == 1
    assert calls["order_check"] == 1 and calls["symbol_info"] == 1
    assert calls.get("order_send", 0) == 0
    assert "calls" not in dir(mt5) and "_calls" not in {n for n in dir(mt5) if n[0] != "_"}


def test_a_running_server_tells_its_counts_beside_the_module():
    simulation = create_simulation(SimulatorConfig(seed=7), ManualClock(START))
    server = SimulatorServer(simulation, port=0)
    server.start()
    try:
        connection = rpyc.classic.connect(*server.address)
        mt5 = connection.modules["MetaTrader5"]
        assert mt5.initialize()
        mt5.account_info()
        counts = dict(connection.modules[MODULE_NAME].calls())
        connection.close()
    finally:
        server.stop()
        for name in ("MetaTrader5", MODULE_NAME):
            sys.modules.pop(name, None)

    assert counts["initialize"] == 1 and counts["account_info"] == 1
    assert not hasattr(sys.modules.get("MetaTrader5", object()), "calls")
