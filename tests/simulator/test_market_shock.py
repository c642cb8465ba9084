"""The shock command: a symbol's prices gap by a percentage from now on, in process and on a
running server, while the served ``MetaTrader5`` stays exactly the real module's face."""

from __future__ import annotations

import socket
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest

from bridge_v3.services.mt5.contract import constants as mc
from bridge_v3.simulator.clock import ManualClock
from bridge_v3.simulator.factory import SimulatorConfig, create_simulation
from bridge_v3.simulator.market.errors import MarketError
from bridge_v3.simulator.market.ticks import to_bars
from bridge_v3.simulator.served_control import MODULE_NAME
from bridge_v3.simulator.server import SimulatorServer
from bridge_v3.simulator.state import StateFileError
from tests.simulator.face_support import market_request

REPO = Path(__file__).resolve().parents[2]
# Wednesday 25 March 2026, 10:00:30.5 UTC: forex open.
START = datetime(2026, 3, 25, 10, 0, 30, 500000, tzinfo=timezone.utc).timestamp()


@pytest.fixture
def simulation():
    return create_simulation(SimulatorConfig(seed=7), ManualClock(START))


def server_range(simulation, seconds_back: int) -> tuple[int, int]:
    now = simulation.market.broker_time.to_server(simulation.clock.now())
    return now - seconds_back, now


def test_prices_gap_from_now_on_and_what_was_shown_stays(simulation):
    market = simulation.market
    before_tick = market.tick("EURUSD")
    start, end = server_range(simulation, 600)
    shown = market.rates_range("EURUSD", mc.TIMEFRAME_M1, start, end)

    first = market.shock("EURUSD", -3)
    simulation.clock.advance(90)

    assert market.tick("EURUSD")["time_msc"] >= first
    later = market.tick("EURUSD")
    assert later["bid"] == pytest.approx(0.97 * before_tick["bid"], rel=2e-3)
    again = market.rates_range("EURUSD", mc.TIMEFRAME_M1, start, end)
    assert np.array_equal(again[:-1], shown[:-1])  # closed bars never change
    ticks = market.ticks_range("EURUSD", (end - 600) * 1000, first - 1, mc.COPY_TICKS_ALL)
    assert ticks["bid"].max() > 0.99 * before_tick["bid"]  # nothing before the gap moved
    assert market.tick("GBPUSD")["bid"] > 0  # another symbol is untouched
    assert market.tick("GBPUSD")["bid"] == pytest.approx(
        market.ticks_range("GBPUSD", (end - 120) * 1000, end * 1000, -1)["bid"][-1], rel=5e-3
    )


def test_bars_agree_with_the_ticks_across_the_gap(simulation):
    market = simulation.market
    start, _ = server_range(simulation, 1200)
    start -= start % 60
    market.shock("EURUSD", -3)
    simulation.clock.advance(600)
    _, end = server_range(simulation, 0)

    bars = market.rates_range("EURUSD", mc.TIMEFRAME_M1, start, end)
    ticks = market.ticks_range("EURUSD", start * 1000, end * 1000, mc.COPY_TICKS_ALL)
    made = to_bars(ticks, 5)
    for field in ("time", "open", "high", "low", "close"):
        assert np.array_equal(bars[field], made[field]), field
    hour = market.rates_range("EURUSD", mc.TIMEFRAME_H1, start - 3600, end)[-1]
    minutes = bars[bars["time"] >= hour["time"]]
    assert hour["low"] == minutes["low"].min() and hour["close"] == minutes["close"][-1]


def test_shocks_compound_and_bad_ones_are_refused(simulation):
    market = simulation.market
    bid = float(market.tick("BTCUSD")["bid"])
    market.shock("BTCUSD", 10)
    simulation.clock.advance(5)
    market.shock("BTCUSD", 10)
    simulation.clock.advance(60)

    assert float(market.tick("BTCUSD")["bid"]) == pytest.approx(bid * 1.21, rel=5e-3)
    with pytest.raises(MarketError):
        market.shock("NOSUCH", -3)
    for percent in (-100, float("nan"), 1e6, "3"):
        with pytest.raises(ValueError):
            market.shock("EURUSD", percent)


def test_an_open_buy_loses_what_the_gap_takes(simulation):
    mt5 = simulation.terminal
    mt5.initialize()
    assert mt5.order_send(market_request(volume=1.0)).retcode == mc.TRADE_RETCODE_DONE
    equity = mt5.account_info().equity

    simulation.market.shock("EURUSD", -3)
    simulation.clock.advance(60)

    (position,) = mt5.positions_get()
    notional = position.price_open * 100_000
    assert mt5.account_info().equity - equity == pytest.approx(-0.03 * notional, rel=0.05)


def test_shocks_survive_a_restart_of_the_simulator(tmp_path):
    config = SimulatorConfig(seed=7, state_file=str(tmp_path / "sim.json"))
    first = create_simulation(config, ManualClock(START))
    first.market.shock("EURUSD", -3)
    first.clock.advance(60)
    shifted = float(first.market.tick("EURUSD")["bid"])
    first.save()

    second = create_simulation(config, ManualClock(START + 60))

    assert float(second.market.tick("EURUSD")["bid"]) == shifted


def test_a_corrupt_shock_in_the_state_file_is_named(tmp_path):
    config = SimulatorConfig(seed=7, state_file=str(tmp_path / "sim.json"))
    create_simulation(config, ManualClock(START)).save()
    text = (tmp_path / "sim.json").read_text()
    (tmp_path / "sim.json").write_text(
        text.replace('"shocks": {}', '"shocks": {"EURUSD": [[1, -2]]}')
    )

    with pytest.raises(StateFileError, match="shocks"):
        create_simulation(config, ManualClock(START))


# -- on a running server --------------------------------------------------------------------


@pytest.fixture
def served(simulation):
    """A server in this process; as in its own process, it serves from ``sys.modules``."""
    server = SimulatorServer(simulation, port=0)
    server.start()
    try:
        yield server, sys.modules
    finally:
        server.stop()
        for name in ("MetaTrader5", MODULE_NAME):
            sys.modules.pop(name, None)


def shock_cli(port: int, *args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "bridge_v3.simulator", "shock", "--port", str(port), *args]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=60)


def test_the_command_moves_a_running_server(served, simulation):
    server, modules = served
    bid = float(simulation.market.tick("EURUSD")["bid"])

    done = shock_cli(server.address[1], "--symbol", "EURUSD", "--percent", "-3")

    assert done.returncode == 0, done.stderr
    assert "EURUSD: prices shifted by -3%" in done.stdout
    simulation.clock.advance(60)
    assert float(simulation.market.tick("EURUSD")["bid"]) == pytest.approx(0.97 * bid, rel=2e-3)
    assert not hasattr(modules["MetaTrader5"], "shock")
    assert MODULE_NAME in modules


def test_the_command_reports_refusals_and_an_unreachable_server(served):
    server, _ = served
    unknown = shock_cli(server.address[1], "--symbol", "NOSUCH", "--percent", "-3")
    bad = shock_cli(server.address[1], "--symbol", "EURUSD", "--percent", "-150")
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    nobody = shock_cli(closed_port, "--symbol", "EURUSD", "--percent", "-3")

    assert unknown.returncode == 2 and "NOSUCH" in unknown.stderr
    assert bad.returncode == 2 and "--percent" in bad.stderr
    assert nobody.returncode == 1 and "cannot reach" in nobody.stderr


def test_the_served_module_face_is_unchanged(simulation):
    modules: dict = {}
    SimulatorServer(simulation, port=0, modules=modules)

    names = {n for n in dir(modules["MetaTrader5"]) if not n.startswith("_")}
    face = {n for n in dir(simulation.terminal) if not n.startswith("_")}

    assert names == face
    assert not any("shock" in n.lower() for n in dir(simulation.terminal))
