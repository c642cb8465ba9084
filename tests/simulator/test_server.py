"""The simulator served over RPyC classic, as a separate process, used by a plain client."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import rpyc

from bridge_v3.services.mt5.contract.dtypes import RATES_DTYPE
from bridge_v3.simulator import SimulatorConfig, create_simulation
from bridge_v3.simulator.clock import ManualClock
from bridge_v3.simulator.server import (
    SimulatorServer,
    StateSaver,
    is_loopback,
    warn_if_exposed,
)
from bridge_v3.simulator.state import load_state

REPO = Path(__file__).resolve().parents[2]
# A Wednesday morning: forex is open, whatever day the test runs.
START = "2026-03-04T09:00:00Z"
STARTUP_SECONDS = 60.0
TRADE_RETCODE_DONE = 10009


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ServerProcess:
    """``python -m bridge_v3.simulator serve`` in its own process, logs kept in a file."""

    def __init__(self, log_path: Path, *options: str, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.log_path = log_path
        command = [sys.executable, "-m", "bridge_v3.simulator", "serve", "--port", str(self.port)]
        with open(log_path, "ab") as log:
            self.process = subprocess.Popen(
                [*command, *options],
                cwd=REPO,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **(env or {})},
            )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_until_listening(self) -> None:
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"server exited with {self.process.returncode}:\n{self.log()}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5),
            ):
                return
            time.sleep(0.05)
        pytest.fail(f"server not listening after {STARTUP_SECONDS} s:\n{self.log()}")

    def connect(self) -> rpyc.Connection:
        return rpyc.classic.connect("127.0.0.1", self.port)

    def terminate(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=STARTUP_SECONDS)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=STARTUP_SECONDS)


@pytest.fixture
def serve(tmp_path):
    started: list[ServerProcess] = []

    def start(*options: str) -> ServerProcess:
        server = ServerProcess(tmp_path / "server.log", *options)
        started.append(server)
        server.wait_until_listening()
        return server

    yield start
    for server in started:
        server.kill()


PASSWORD = "pw-that-must-not-show"


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One server for the tests that only read: a client connected and initialized."""
    log = tmp_path_factory.mktemp("shared") / "server.log"
    options = ("--seed", "3", "--start", START, "--server-timezone", "UTC",
               "--missing-symbol", "LTCUSD")  # fmt: skip
    server = ServerProcess(log, *options, env={"BRIDGE_SIM_PASSWORD": PASSWORD})
    try:
        server.wait_until_listening()
        conn = server.connect()
        mt5 = conn.modules.MetaTrader5
        assert mt5.initialize(login=10000001, password=PASSWORD)
        yield server, mt5
        conn.close()
    finally:
        server.kill()


def market_buy(mt5, symbol: str, volume: float, magic: int):
    info = mt5.symbol_info(symbol)
    filling = mt5.ORDER_FILLING_FOK if info.filling_mode & 1 else mt5.ORDER_FILLING_IOC
    request = {
        "action": mt5.TRADE_ACTION_DEAL,
        "symbol": symbol,
        "volume": volume,
        "type": mt5.ORDER_TYPE_BUY,
        "price": mt5.symbol_info_tick(symbol).ask,
        "deviation": 50,
        "magic": magic,
        "comment": "served test",
        "type_time": mt5.ORDER_TIME_GTC,
        "type_filling": filling,
    }
    return mt5.order_send(request)


def positions_by_magic(mt5, magic: int) -> list[dict]:
    return [rpyc.classic.obtain(p._asdict()) for p in mt5.positions_get() if p.magic == magic]


def test_positions_survive_client_reconnects_and_server_restarts(serve, tmp_path):
    state = tmp_path / "state.json"
    options = ("--seed", "11", "--start", START, "--state", str(state))
    server = serve(*options)

    conn = server.connect()
    mt5 = conn.modules.MetaTrader5
    assert mt5.initialize(), server.log()
    assert mt5.symbol_select("EURUSD", True)
    result = market_buy(mt5, "EURUSD", 0.1, magic=4242)
    assert result.retcode == TRADE_RETCODE_DONE, (result.retcode, result.comment)
    ticket, balance = result.order, mt5.account_info().balance  # netrefs die with conn
    conn.close()

    conn = server.connect()
    again = positions_by_magic(conn.modules.MetaTrader5, 4242)
    conn.close()
    assert [(p["symbol"], p["volume"], p["ticket"]) for p in again] == [("EURUSD", 0.1, ticket)]

    assert server.terminate() == 0, server.log()
    assert state.is_file()

    restarted = serve(*options)
    conn = restarted.connect()
    mt5 = conn.modules.MetaTrader5
    assert mt5.initialize(), restarted.log()
    after_restart = positions_by_magic(mt5, 4242)
    assert after_restart == again
    assert mt5.account_info().balance == balance
    conn.close()
    assert restarted.terminate() == 0


def test_rates_come_back_as_numpy_arrays_once_obtained(shared):
    _, mt5 = shared

    remote = mt5.copy_rates_from_pos("EURUSD", mt5.TIMEFRAME_M1, 0, 50)
    rates = rpyc.classic.obtain(remote)

    assert isinstance(rates, np.ndarray)
    assert rates.dtype == RATES_DTYPE
    assert len(rates) == 50
    assert np.all(np.diff(rates["time"]) == 60)
    assert np.all((rates["low"] <= rates["open"]) & (rates["open"] <= rates["high"]))


def test_a_client_datetime_is_read_as_the_real_module_reads_it(shared):
    _, mt5 = shared
    moment = dt.datetime(2026, 3, 4, 8, 0, tzinfo=dt.timezone.utc)

    by_datetime = rpyc.classic.obtain(mt5.copy_rates_from("EURUSD", mt5.TIMEFRAME_H1, moment, 5))
    by_int = rpyc.classic.obtain(
        mt5.copy_rates_from("EURUSD", mt5.TIMEFRAME_H1, int(moment.timestamp()), 5)
    )

    assert len(by_datetime) == 5
    assert np.array_equal(by_datetime, by_int)


def test_structures_cross_as_plain_dicts_through_asdict(shared):
    _, mt5 = shared

    account = rpyc.classic.obtain(mt5.account_info()._asdict())

    assert type(account) is dict
    assert (account["login"], account["currency"]) == (10000001, "USD")


def test_calling_errors_and_last_error_reach_the_client_as_from_the_real_module(shared):
    _, mt5 = shared

    with pytest.raises(TypeError, match=r"shutdown\(\) takes no arguments"):
        mt5.shutdown(1)
    assert mt5.symbol_info("NOSUCH") is None
    assert tuple(mt5.last_error())[0] == -1


def test_fault_options_reach_the_served_terminal(shared):
    _, mt5 = shared

    assert mt5.symbol_info("LTCUSD") is None
    assert mt5.symbol_info("BTCUSD") is not None


def test_the_log_names_the_address_and_never_the_password(shared):
    server, _ = shared

    log = server.log()
    assert f"127.0.0.1:{server.port}" in log
    assert "seed 3" in log and "UTC" in log
    assert PASSWORD not in log


def test_a_corrupt_replay_file_stops_the_server_naming_file_and_line(tmp_path):
    prices = tmp_path / "eurusd.csv"
    prices.write_text(
        "time,open,high,low,close,volume\n"
        "2026-01-01 00:00,1.1,1.2,1.0,1.15,10\n"
        "2026-01-01 01:00,1.1,abc,1.0,1.15,10\n"
    )

    completed = subprocess.run(
        [sys.executable, "-m", "bridge_v3.simulator", "serve", "--port", str(free_port()),
         "--replay", f"EURUSD={prices}"],
        cwd=REPO, capture_output=True, text=True, timeout=STARTUP_SECONDS,
    )  # fmt: skip

    assert completed.returncode == 2
    assert f"{prices}, line 3" in completed.stderr
    assert "Traceback" not in completed.stderr


def test_a_corrupt_state_file_stops_the_server_naming_the_file(tmp_path):
    state = tmp_path / "state.json"
    state.write_text('{"format": "bridge_v3.simulator.state",\n "version": 1,\n "broker": ')

    completed = subprocess.run(
        [sys.executable, "-m", "bridge_v3.simulator", "serve", "--port", str(free_port()),
         "--state", str(state)],
        cwd=REPO, capture_output=True, text=True, timeout=STARTUP_SECONDS,
    )  # fmt: skip

    assert completed.returncode == 2
    assert str(state) in completed.stderr
    assert "line 3" in completed.stderr
    assert "Traceback" not in completed.stderr


def test_a_port_in_use_is_reported_without_a_traceback(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        completed = subprocess.run(
            [sys.executable, "-m", "bridge_v3.simulator", "serve", "--port", str(port)],
            cwd=REPO, capture_output=True, text=True, timeout=STARTUP_SECONDS,
        )  # fmt: skip

    assert completed.returncode == 1
    assert f"127.0.0.1:{port}" in completed.stderr
    assert "Traceback" not in completed.stderr


def test_stopping_closes_clients_and_saves_the_state(tmp_path):
    config = SimulatorConfig(seed=4, state_file=str(tmp_path / "state.json"))
    simulation = create_simulation(config, clock=ManualClock(1772614800.0))
    server = SimulatorServer(simulation, port=0, modules={})
    server.start()
    conn = rpyc.classic.connect(*server.address)
    assert conn.eval("1 + 1") == 2
    simulation.terminal.initialize()
    result = market_buy(simulation.terminal, "EURUSD", 0.2, magic=99)

    server.stop()

    saved = create_simulation(config, clock=ManualClock(1772614800.0)).terminal
    saved.initialize()
    assert [p.ticket for p in saved.positions_get()] == [result.order]
    with pytest.raises(EOFError):
        conn.eval("1 + 1")


def test_the_state_is_saved_periodically_while_serving(tmp_path):
    path = tmp_path / "state.json"
    config = SimulatorConfig(state_file=str(path), save_interval=0.01)
    clock = ManualClock(1772614800.0)
    saver = StateSaver(create_simulation(config, clock=clock), threading.RLock(), 0.01)
    clock.advance(120)

    saver.start()
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while not path.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        saver.stop()

    assert load_state(path)["clock_utc"] == 1772614920.0


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("localhost", True), ("::1", True), ("0.0.0.0", False),
     ("192.168.1.20", False), ("example.org", False)],
)  # fmt: skip
def test_only_loopback_hosts_count_as_local(host, loopback):
    assert is_loopback(host) is loopback


def test_binding_beyond_localhost_warns_that_the_port_runs_any_code(caplog):
    with caplog.at_level(logging.WARNING, logger="bridge_v3.simulator.server"):
        assert warn_if_exposed("0.0.0.0") is True
        assert warn_if_exposed("127.0.0.1") is False

    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "ANY code" in warnings[0] and "0.0.0.0" in warnings[0]
