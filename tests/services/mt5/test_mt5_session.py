"""Attaching to a terminal as a real Windows host meets it: nobody logged in, a terminal that
needs time, a symbol taken out of Market Watch, a call stuck at shutdown, passing IPC faults.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from datetime import datetime, timezone

import pytest

from bridge_v3.config.constants import TIMEFRAMES
from bridge_v3.config.secret import Secret
from bridge_v3.config.settings import MT5Settings
from bridge_v3.exceptions import (
    TemporaryError,
    TerminalDisconnectedError,
    TerminalError,
    TerminalOutcomeUnknownError,
)
from bridge_v3.services.mt5.clients import ModuleClient
from bridge_v3.services.mt5.mt5_service import MT5Service
from bridge_v3.services.mt5.session import REATTACH_TIMEOUT_MS
from bridge_v3.services.retry import Backoff
from bridge_v3.services.server_time import ServerTime
from bridge_v3.simulator.clock import ManualClock
from bridge_v3.simulator.factory import SimulatorConfig, create_simulation
from bridge_v3.simulator.faults import FaultPlan

START = datetime(2026, 3, 25, 10, 0, 30, tzinfo=timezone.utc).timestamp()
M1 = TIMEFRAMES["M1"]
LOGIN = 10000001


class Recording:
    """The simulator's client, recording every call with its keywords; ``gate`` (if set)
    holds that function inside the terminal until the test releases it."""

    def __init__(self, simulation, *, gate: str = "") -> None:
        self._client = ModuleClient(simulation.terminal, "simulator")
        self.name = "simulator"
        self.calls: list[tuple[str, tuple, dict]] = []
        self.gate_function, self.entered, self.gate = gate, threading.Event(), threading.Event()

    def call(self, function: str, *args, **kwargs):
        self.calls.append((function, args, kwargs))
        if function == self.gate_function:
            self.entered.set()
            assert self.gate.wait(10)
        return self._client.call(function, *args, **kwargs)

    def names(self) -> list[str]:
        return [name for name, _, _ in self.calls]

    def close(self) -> None:
        self._client.close()


def build(settings: MT5Settings | None = None, faults=None, logged_in=True, **client_options):
    clock = ManualClock(START)
    config = SimulatorConfig(seed=11, history_days=5, faults=faults, logged_in=logged_in)
    # The terminal's waits (a blocking initialize) pass on the simulated clock.
    simulation = create_simulation(config, clock, sleep=clock.advance)
    clients: list[Recording] = []

    def open_client() -> Recording:
        clients.append(Recording(simulation, **client_options))
        return clients[-1]

    service = MT5Service(
        open_client,
        settings or MT5Settings(server_timezone="Europe/Athens"),
        ServerTime("Europe/Athens"),
        clock=clock.now,
        monotonic=clock.now,
        backoff=Backoff(base=1.0, cap=8.0, jitter=0.0),
        sleep=lambda seconds: None,
    )
    return service, clients, clock, simulation


def test_nobody_logged_in_and_no_account_set_is_retried_and_says_what_to_do():
    service, clients, _, _ = build(logged_in=False)
    with pytest.raises(TemporaryError, match="log in on the terminal.*MT5_ACCOUNT"):
        service.connect(["EURUSD"])
    assert "login" not in clients[-1].names()


def test_nobody_logged_in_with_an_account_set_logs_in_with_what_is_set():
    settings = MT5Settings(
        server_timezone="Europe/Athens", account=LOGIN, password=Secret("sim"), server=""
    )
    service, clients, _, _ = build(settings, logged_in=False)
    account = service.connect(["EURUSD"])

    assert account["login"] == LOGIN
    (login,) = [(args, kwargs) for name, args, kwargs in clients[-1].calls if name == "login"]
    assert login[0] == (LOGIN,) and login[1]["password"] == "sim"
    assert "server" not in login[1]  # not set: the terminal's own is used


def test_only_the_first_attach_may_wait_long_in_a_blocking_initialize():
    # The terminal is gone for two minutes; while it is, initialize() blocks for its whole
    # timeout, as the real one does (holding the GIL: heartbeat and signals freeze).
    plan = FaultPlan(
        disconnected_from=START + 10, disconnected_until=START + 130, initialize_blocks=True
    )
    service, clients, clock, _ = build(MT5Settings(server_timezone="Europe/Athens"), faults=plan)
    service.connect(["EURUSD"])
    clock.set(START + 20)
    with pytest.raises(TerminalDisconnectedError):
        service.account_info()
    blocked = []
    while not service.connected:
        clock.advance(1)
        before = clock.now()
        with contextlib.suppress(TerminalDisconnectedError):
            service.account_info()
        blocked.append(clock.now() - before)

    timeouts = [kw["timeout"] for c in clients for n, _, kw in c.calls if n == "initialize"]
    assert timeouts[0] == 60000  # MT5_TIMEOUT_MS: the terminal may be starting
    assert len(timeouts) >= 2 and set(timeouts[1:]) == {REATTACH_TIMEOUT_MS}
    assert max(blocked) <= REATTACH_TIMEOUT_MS / 1000  # never frozen for a minute


def test_a_symbol_taken_out_of_market_watch_is_selected_again_once(caplog):
    service, clients, clock, simulation = build()
    service.connect(["EURUSD"])
    simulation.terminal.symbol_select("EURUSD", False)  # by hand, on the terminal

    with caplog.at_level(logging.INFO):
        rates = service.rates_range("EURUSD", M1.mt5, clock.now() - 600, clock.now())
    assert len(rates) >= 9
    assert clients[-1].names()[-3:] == ["copy_rates_range", "symbol_select", "copy_rates_range"]
    assert any("selected it again" in r.getMessage() for r in caplog.records)


def test_a_lone_ipc_timeout_costs_a_retry_and_keeps_the_connection():
    service, clients, clock, simulation = build()
    service.connect(["EURUSD"])
    simulation.terminal._set_fault_plan(FaultPlan(seed=1, ipc_timeout_rate=0.3))
    failed = 0
    for _ in range(40):
        try:
            service.account_info()
        except TerminalError as error:
            assert error.code == -10005 and not isinstance(error, TerminalDisconnectedError)
            failed += 1
    simulation.terminal._set_fault_plan(None)
    assert service.connected and service.reconnects == 0
    assert clients[-1].names().count("account_info") > 45  # timeouts were retried
    assert failed <= 3  # only three timeouts in a row fail a call


def test_shutdown_waits_a_bounded_time_for_a_call_in_progress(caplog):
    service, clients, clock, _ = build(gate="copy_rates_range")
    service.connect(["EURUSD"])
    worker = threading.Thread(
        target=lambda: service.rates_range("EURUSD", M1.mt5, clock.now() - 600, clock.now()),
        daemon=True,
    )
    worker.start()
    assert clients[-1].entered.wait(5)

    with caplog.at_level(logging.WARNING):
        service.shutdown(wait=0.2)
    assert any("still running" in r.getMessage() for r in caplog.records)
    clients[-1].gate.set()
    worker.join(5)
    with pytest.raises(TerminalDisconnectedError):
        service.account_info()  # refused after shutdown, even though it could not finish


def test_order_send_is_never_repeated_after_an_ipc_fault_and_says_the_order_may_exist():
    service, clients, clock, simulation = build()
    service.connect(["EURUSD"])
    simulation.terminal._set_fault_plan(FaultPlan(seed=1, ipc_timeout_rate=1.0))
    request = {"action": 1, "symbol": "EURUSD", "volume": 0.1, "type": 0, "type_filling": 1}

    with pytest.raises(TerminalOutcomeUnknownError, match="may have taken effect"):
        service.order_send(request)
    simulation.terminal._set_fault_plan(None)

    assert clients[-1].names().count("order_send") == 1  # one attempt, never a second
    assert service.connected  # a lone timeout keeps the connection
    simulation.terminal._set_fault_plan(FaultPlan(seed=1, ipc_timeout_rate=1.0))
    with pytest.raises(TerminalError):
        service.order_check(request)  # a check changes nothing: it is retried
    simulation.terminal._set_fault_plan(None)
    assert clients[-1].names().count("order_check") >= 2


def test_order_send_into_a_terminal_that_is_gone_is_a_disconnection_sent_once():
    service, clients, clock, simulation = build()
    service.connect(["EURUSD"])
    now = clock.now()
    simulation.terminal._set_fault_plan(
        FaultPlan(disconnected_from=now, disconnected_until=now + 60)
    )
    request = {"action": 1, "symbol": "EURUSD", "volume": 0.1, "type": 0, "type_filling": 1}

    with pytest.raises(TerminalDisconnectedError):
        service.order_send(request)

    assert [n for n in clients[-1].names() if n == "order_send"] == ["order_send"]
    assert not service.connected


class FailingOnce:
    """The simulator's client, except that the named function's answer is lost once: it
    reaches the terminal, then the caller sees (-10005, 'IPC timeout')."""

    def __init__(self, simulation, function: str) -> None:
        self._client = ModuleClient(simulation.terminal, "simulator")
        self.name = "simulator"
        self.function, self.reached = function, 0

    def call(self, function: str, *args, **kwargs):
        result = self._client.call(function, *args, **kwargs)
        if function == self.function:
            self.reached += 1
            if self.reached == 1:
                return None, (-10005, "IPC timeout")
        return result

    def close(self) -> None:
        self._client.close()


def losing_once(function: str) -> tuple[MT5Service, FailingOnce]:
    """A connected service whose terminal loses the answer of ``function`` once."""
    clock = ManualClock(START)
    simulation = create_simulation(SimulatorConfig(seed=11, history_days=5), clock)
    client = FailingOnce(simulation, function)
    service = MT5Service(
        lambda: client,
        MT5Settings(server_timezone="Europe/Athens"),
        ServerTime("Europe/Athens"),
        clock=clock.now,
        monotonic=clock.now,
        sleep=lambda seconds: None,
    )
    service.connect(["EURUSD"])
    return service, client


def test_an_order_send_whose_answer_is_lost_is_never_sent_again():
    service, client = losing_once("order_send")
    request = {"action": 1, "symbol": "EURUSD", "volume": 0.1, "type": 0, "type_filling": 1}

    with pytest.raises(TerminalOutcomeUnknownError, match="do not send it again"):
        service.call("order_send", request)
    assert client.reached == 1
    assert len(service.positions()) == 1  # it did happen: the lookup finds it
    assert service.connected  # the terminal answered terminal_info(): nothing was dropped


def test_a_read_whose_answer_is_lost_is_asked_again():
    service, client = losing_once("positions_get")
    assert service.positions() == [] and client.reached == 2


class LoggedOutAfterRestart:
    """The simulator's client; once ``restart()`` is called the terminal comes back with
    nobody logged in and refuses the bridge's (stale) password."""

    def __init__(self, simulation) -> None:
        self._client = ModuleClient(simulation.terminal, "simulator")
        self._terminal = simulation.terminal
        self.name, self.restarted, self.calls = "simulator", False, []

    def restart(self) -> None:
        self._terminal.shutdown()  # the pipe breaks; the next initialize finds it logged out
        self.restarted = True

    def call(self, function: str, *args, **kwargs):
        self.calls.append(function)
        logged_out = self.restarted and "initialize" in self.calls[self.calls.index("restart") :]
        if logged_out and function == "account_info":
            return None, (-1, "Terminal: Call failed")
        if logged_out and function == "login":
            return False, (-6, "Terminal: Authorization failed")
        return self._client.call(function, *args, **kwargs)

    def close(self) -> None:
        self._client.close()


def test_a_login_refused_after_a_restart_is_retried_on_the_backoff_not_at_every_call():
    clock = ManualClock(START)
    simulation = create_simulation(SimulatorConfig(seed=11, history_days=5), clock)
    client = LoggedOutAfterRestart(simulation)
    settings = MT5Settings(server_timezone="Europe/Athens", account=LOGIN, password=Secret("old"))
    service = MT5Service(
        lambda: client,
        settings,
        ServerTime("Europe/Athens"),
        clock=clock.now,
        monotonic=clock.now,
        backoff=Backoff(base=1.0, cap=8.0, jitter=0.0),
        sleep=lambda seconds: None,
    )
    service.connect(["EURUSD"])
    client.calls.append("restart")
    client.restart()

    for _ in range(60):  # 30 s of calls, two a second
        clock.advance(0.5)
        with pytest.raises(TerminalDisconnectedError):  # counted, never a FatalError
            service.account_info()

    assert 3 <= client.calls.count("login") <= 6  # after 1, 2, 4, 8, 8 ... seconds
    assert service.dependency.snapshot()["state"] == "down"
    assert "Authorization failed" in service.dependency.snapshot()["last_error"]
