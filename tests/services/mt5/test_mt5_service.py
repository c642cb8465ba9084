"""MT5Service against the simulated terminal: one call at a time with trading first, errors
translated, reconnection on its backoff (on an injected clock), and times turned into UTC.
"""

from __future__ import annotations

import contextlib
import threading
import time
from datetime import datetime, timezone

import pytest

from bridge_v3.config.constants import TIMEFRAMES, Priority
from bridge_v3.config.settings import MT5Settings
from bridge_v3.exceptions import SymbolNotFoundError, TerminalDisconnectedError
from bridge_v3.services.mt5.clients import ModuleClient
from bridge_v3.services.mt5.contract.constants import COPY_TICKS_ALL
from bridge_v3.services.mt5.mt5_service import MT5Service
from bridge_v3.services.retry import Backoff
from bridge_v3.services.server_time import ServerTime
from bridge_v3.simulator.clock import ManualClock
from bridge_v3.simulator.factory import SimulatorConfig, create_simulation
from bridge_v3.simulator.faults import FaultPlan

# Wednesday 25 March 2026, 10:00:30 UTC (forex open; Athens still on winter time).
START = datetime(2026, 3, 25, 10, 0, 30, tzinfo=timezone.utc).timestamp()
# Monday 30 March 2026: Athens moved to summer time the day before.
AFTER_DST = datetime(2026, 3, 30, 10, 0, 30, tzinfo=timezone.utc).timestamp()
M1 = TIMEFRAMES["M1"]
BUY = {
    "action": 1,  # TRADE_ACTION_DEAL
    "symbol": "EURUSD",
    "volume": 0.1,
    "type": 0,  # ORDER_TYPE_BUY
    "deviation": 20,
    "type_filling": 1,  # ORDER_FILLING_IOC
}


class RecordingClient:
    """The simulator's real client, recording calls; ``gate`` (if set) holds one function
    inside the terminal until the test releases it."""

    def __init__(self, client, gate_function: str = "") -> None:
        self._client = client
        self.name = client.name
        self.calls: list[str] = []
        self.gate_function = gate_function
        self.entered = threading.Event()
        self.gate = threading.Event()

    def call(self, function: str, *args, **kwargs):
        self.calls.append(function)
        if function == self.gate_function:
            self.entered.set()
            assert self.gate.wait(10), "the test never released the gate"
            self.calls.append(f"{function}:end")
        return self._client.call(function, *args, **kwargs)

    def close(self) -> None:
        self._client.close()


class Opener:
    """Opens clients on one simulated terminal and remembers when (on the test clock)."""

    def __init__(self, simulation, clock: ManualClock, gate_function: str = "") -> None:
        self._simulation = simulation
        self._clock = clock
        self._gate_function = gate_function
        self.opened_at: list[float] = []
        self.clients: list[RecordingClient] = []

    def __call__(self) -> RecordingClient:
        self.opened_at.append(self._clock.now())
        client = ModuleClient(self._simulation.terminal, "simulator")
        self.clients.append(RecordingClient(client, self._gate_function))
        return self.clients[-1]


def build(zone="Europe/Athens", start=START, faults=None, gate="", backoff=None):
    clock = ManualClock(start)
    config = SimulatorConfig(seed=11, server_timezone=zone, faults=faults, history_days=5)
    simulation = create_simulation(config, clock)
    opener = Opener(simulation, clock, gate)
    service = MT5Service(
        opener,
        MT5Settings(server_timezone=zone),
        ServerTime(zone),
        clock=clock.now,
        monotonic=clock.now,
        backoff=backoff or Backoff(base=1.0, cap=8.0, jitter=0.0),
    )
    return service, opener, clock, simulation


# -- one call at a time, trading first ----------------------------------------------------------


def wait_for(condition, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.005)


def test_calls_wait_for_the_terminal_and_trading_goes_before_history():
    service, opener, _, _ = build(gate="copy_rates_range")
    service.connect(["EURUSD"])
    client = opener.clients[-1]
    client.calls.clear()
    results: dict[str, object] = {}

    def run(name, func):
        thread = threading.Thread(target=lambda: results.setdefault(name, func()), daemon=True)
        thread.start()
        return thread

    holder = run("pull", lambda: service.rates_range("EURUSD", M1.mt5, START - 3600, START))
    assert client.entered.wait(5)
    history = run(
        "history",
        lambda: service.rates_from_pos("EURUSD", M1.mt5, 0, 10, priority=Priority.LOW),
    )
    wait_for(lambda: len(service._lock._waiters) == 1)  # the history pull is queued
    trade = run("trade", lambda: service.account_info())
    wait_for(lambda: len(service._lock._waiters) == 2)
    assert client.calls == ["copy_rates_range"]  # nobody got in while the terminal was busy

    client.gate.set()
    for thread in (holder, history, trade):
        thread.join(5)
    assert client.calls == [
        "copy_rates_range",
        "copy_rates_range:end",
        "account_info",  # HIGH, asked later, served before the LOW history pull
        "copy_rates_from_pos",
    ]
    assert len(results["history"]) == 10 and results["trade"]["login"] > 0


# -- last_error translated ----------------------------------------------------------------------


def test_unknown_symbol_is_symbol_not_found_and_keeps_the_connection():
    service, _, _, _ = build()
    service.connect(["EURUSD"])
    with pytest.raises(SymbolNotFoundError, match="NOPE"):
        service.symbol_info("NOPE")
    with pytest.raises(SymbolNotFoundError, match="NOPE"):
        service.rates_range("NOPE", M1.mt5, START - 600, START)
    assert service.connected and service.reconnects == 0


def test_symbol_the_broker_lacks_is_skipped_at_connect_and_refused_later():
    service, _, _, _ = build(faults=FaultPlan(missing_symbols={"GBPUSD"}))
    service.connect(["EURUSD", "GBPUSD"])
    assert len(service.rates_range("EURUSD", M1.mt5, START - 600, START)) >= 9
    with pytest.raises(SymbolNotFoundError, match="GBPUSD"):
        service.rates_range("GBPUSD", M1.mt5, START - 600, START)


def test_terminal_shut_behind_the_service_is_a_disconnection():
    service, opener, clock, simulation = build()
    service.connect(["EURUSD"])
    simulation.terminal.shutdown()  # as when the terminal process restarts
    with pytest.raises(TerminalDisconnectedError) as raised:
        service.account_info()
    assert raised.value.code == -10004  # 'No IPC connection'
    assert not service.connected
    clock.advance(1.0)
    assert service.account_info()["login"] > 0  # initialize()d again
    assert service.reconnects == 1 and len(opener.opened_at) == 2


def test_a_call_before_connect_attaches_first_and_is_no_reconnection():
    service, opener, _, _ = build()
    heard = []
    service.on_reconnect(lambda: heard.append(True))
    assert service.account_info()["login"] > 0
    assert len(opener.opened_at) == 1
    assert service.reconnects == 0 and heard == []


def test_no_call_reaches_the_terminal_after_shutdown():
    service, opener, _, _ = build()
    service.connect(["EURUSD"])
    service.shutdown()
    assert opener.clients[-1].calls[-1] == "shutdown"
    with pytest.raises(TerminalDisconnectedError):
        service.account_info()
    assert len(opener.opened_at) == 1  # no silent re-initialize by a straggling task


# -- reconnect backoff --------------------------------------------------------------------------


def test_reconnect_attempts_follow_the_capped_backoff():
    lost, back = START + 20, START + 100
    plan = FaultPlan(disconnected_from=START + 10, disconnected_until=back)
    service, opener, clock, _ = build(faults=plan)
    heard = []
    service.on_reconnect(lambda: heard.append(clock.now()))
    service.connect(["EURUSD"])

    clock.set(lost)
    with pytest.raises(TerminalDisconnectedError):
        service.account_info()  # the pipe breaks: first failure
    while not service.connected:
        clock.advance(0.5)
        with contextlib.suppress(TerminalDisconnectedError):  # not back yet
            service.account_info()
        assert clock.now() < back + 60, "never reconnected"

    # Delays 1, 2, 4, 8, 8, ... seconds after each failure, until the terminal is back.
    expected, at, delay = [], lost, 1.0
    while not expected or expected[-1] < back:
        at += delay
        expected.append(at)
        delay = min(delay * 2, 8.0)
    assert opener.opened_at[1:] == expected
    assert heard == [expected[-1]] and service.reconnects == 1


def test_jittered_delays_stay_within_the_cap():
    plan = FaultPlan(disconnected_from=START + 10, disconnected_until=START + 10_000)
    service, opener, clock, _ = build(faults=plan, backoff=Backoff(base=1.0, cap=8.0))
    service.connect(["EURUSD"])
    clock.set(START + 20)
    for _ in range(400):
        clock.advance(0.25)
        with pytest.raises(TerminalDisconnectedError):
            service.account_info()
    gaps = [b - a for a, b in zip(opener.opened_at[1:], opener.opened_at[2:], strict=False)]
    assert len(gaps) >= 10
    assert all(0.5 <= gap <= 8.25 for gap in gaps)  # clock steps are 0.25 s
    assert max(gaps) > 4  # the delay did grow towards the cap


# -- server time to UTC -------------------------------------------------------------------------


@pytest.mark.parametrize("zone", ["Europe/Athens", "America/New_York", "Asia/Tokyo"])
@pytest.mark.parametrize("start", [START, AFTER_DST], ids=["winter", "after-dst"])
def test_rates_ticks_positions_and_deals_come_back_in_utc(zone, start):
    service, _, clock, _ = build(zone=zone, start=start)
    service.connect(["EURUSD"])
    now = int(clock.now())

    rates = service.rates_range("EURUSD", M1.mt5, now - 3600, now)
    assert int(rates["time"][-1]) == now // 60 * 60  # the bar forming now opened this minute
    assert int(rates["time"][0]) >= now - 3600
    ticks = service.ticks_range("EURUSD", (now - 60) * 1000, now * 1000, COPY_TICKS_ALL)
    assert len(ticks) > 0
    assert (
        (now - 60) * 1000 <= int(ticks["time_msc"][0]) <= int(ticks["time_msc"][-1]) <= now * 1000
    )
    assert (ticks["time"] == ticks["time_msc"] // 1000).all()
    assert now - 60 <= service.tick("EURUSD")["time"] <= now

    assert service.call("order_send", BUY, priority=Priority.HIGH)["retcode"] == 10009
    (position,) = service.positions()
    assert position["time"] == now and position["time_msc"] // 1000 == now
    deals = service.deals(now - 60, now + 60)
    assert [deal["time"] for deal in deals if deal["symbol"] == "EURUSD"] == [now]
