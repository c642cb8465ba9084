"""The module face served over RPyC: locked calls, copied constants, local arguments."""

from __future__ import annotations

import datetime as dt
import sys
import threading

import pytest
import rpyc
from rpyc.utils.server import ThreadedServer

from bridge_v3.simulator.served_module import MODULE_NAME, ServedModule, install, localise


class RecordingTerminal:
    """Stands for the terminal: records what each call received and whether it was locked."""

    ORDER_TYPE_BUY = 0
    TRADE_ACTION_DEAL = 1
    __version__ = "5.0.45"

    def __init__(self) -> None:
        self.lock: threading.RLock | None = None
        self.received: list[object] = []
        self.lock_free_to_others: list[bool] = []

    def order_send(self, request):
        self.received.append(request)
        self.lock_free_to_others.append(self._lock_free_to_another_thread())
        return "done"

    def copy_rates_from(self, symbol, timeframe, date_from, count):
        self.received.append(date_from)
        return count

    def _lock_free_to_another_thread(self) -> bool:
        result = []

        def probe() -> None:
            acquired = self.lock.acquire(blocking=False)
            if acquired:
                self.lock.release()
            result.append(acquired)

        thread = threading.Thread(target=probe)
        thread.start()
        thread.join(5)
        return result[0]


@pytest.fixture
def served():
    terminal = RecordingTerminal()
    lock = threading.RLock()
    terminal.lock = lock
    modules: dict[str, object] = {}
    module = install(terminal, lock, modules)
    return terminal, module, modules


@pytest.fixture
def client(served, monkeypatch):
    """A real RPyC classic server thread with the served module importable, and a client."""
    _, module, _ = served
    monkeypatch.setitem(sys.modules, MODULE_NAME, module)
    server = ThreadedServer(rpyc.SlaveService, hostname="127.0.0.1", port=0)
    server._listen()  # listening before the client connects; start() then skips it
    thread = threading.Thread(target=server.start, daemon=True)
    thread.start()
    conn = rpyc.classic.connect("127.0.0.1", server.port)
    yield conn
    conn.close()
    server.close()
    thread.join(5)


def test_install_puts_one_module_under_the_real_name(served):
    _, module, modules = served

    assert modules[MODULE_NAME] is module
    assert isinstance(module, ServedModule)
    assert module.__name__ == "MetaTrader5"


def test_constants_and_version_are_copied_and_private_names_are_not(served):
    _, module, _ = served

    assert (module.ORDER_TYPE_BUY, module.TRADE_ACTION_DEAL) == (0, 1)
    assert module.__version__ == "5.0.45"
    assert not hasattr(module, "_lock_free_to_another_thread")


def test_every_call_runs_holding_the_terminal_lock(served):
    terminal, module, _ = served

    assert module.order_send({"action": 1}) == "done"

    assert terminal.lock_free_to_others == [False]


def test_a_client_dict_reaches_the_terminal_as_a_local_dict(client, served):
    terminal, _, _ = served
    request = {"action": 1, "symbol": "EURUSD", "volume": 0.1, "tags": [1, {"a": 2}]}

    assert client.modules.MetaTrader5.order_send(request) == "done"

    received = terminal.received[0]
    assert type(received) is dict
    assert received == request
    assert type(received["tags"]) is list and type(received["tags"][1]) is dict


def test_a_client_datetime_reaches_the_terminal_with_the_same_timestamp(client, served):
    terminal, _, _ = served
    moment = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.timezone.utc)

    client.modules.MetaTrader5.copy_rates_from("EURUSD", 1, moment, 10)

    received = terminal.received[0]
    assert type(received) is dt.datetime
    assert received.timestamp() == moment.timestamp()


def test_local_values_pass_unchanged():
    values = [1, 1.5, "EURUSD", None, (1, 2), {"k": [1]}]

    assert [localise(value) for value in values] == values
