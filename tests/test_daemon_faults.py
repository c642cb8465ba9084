"""The bridge through real faults: PostgreSQL and Redis cut off, the terminal gone, bad bars.

PostgreSQL and Redis are reached through a TCP relay the test stops and starts, so an
outage is a real refused or cut connection. The terminal's disconnect is its own
``FaultPlan`` window. Time is a ``ManualClock``; the MT5 service's backoff runs on it too.
"""

from __future__ import annotations

import contextlib
import json
import logging
import random
import socket
import threading
import time
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import numpy as np
import psycopg2
import pytest

from bridge_v3.config.constants import TIMEFRAMES, Backend
from bridge_v3.config.secret import Secret
from bridge_v3.config.settings import (
    MarketSettings,
    MT5Settings,
    PostgresSettings,
    RedisSettings,
    Settings,
    SimulatorSettings,
)
from bridge_v3.daemon import Bridge
from bridge_v3.exceptions import StorageError, TerminalDisconnectedError
from bridge_v3.services.mt5.backends import TerminalBackend, simulator_backend
from bridge_v3.services.mt5.clients import ModuleClient
from bridge_v3.services.mt5.mt5_service import MT5Service
from bridge_v3.services.retry import Backoff
from bridge_v3.services.server_time import ServerTime
from bridge_v3.simulator.clock import ManualClock
from bridge_v3.simulator.factory import SimulatorConfig, create_simulation
from bridge_v3.simulator.faults import FaultPlan
from tests.conftest import REDIS_HOST, REDIS_PORT
from tests.test_daemon_e2e import START, stored_bars, terminal_closed_bars

M1 = TIMEFRAMES["M1"]
ATHENS = ZoneInfo("Europe/Athens")
FIRST_START = START - 86400  # one day of history on the first sync


class TcpRelay:
    """Forwards 127.0.0.1:<port> to a target. ``stop`` refuses new connections and cuts the
    open ones, as a service going down does; ``start`` listens on the same port again."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self.start()

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        listener.settimeout(0.05)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            _cut(sock)
            sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while self._listener is listener:
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            upstream = socket.create_connection(self._target)
            with self._lock:
                self._sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for sock in (source, sink):
            _cut(sock)


def _cut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed by the other side
        sock.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def relays():
    made: list[TcpRelay] = []

    def make(host: str, port: int) -> TcpRelay:
        made.append(TcpRelay(host, port))
        return made[-1]

    yield make
    for relay in made:
        relay.stop()


def settings_for(pg: dict, prefix: str, tmp_path, *, pg_port=None, redis_port=None) -> Settings:
    return Settings(
        mt5=MT5Settings(server_timezone="Europe/Athens"),
        simulator=SimulatorSettings(seed=7, server_timezone="Europe/Athens"),
        postgres=PostgresSettings(
            host=pg["host"],
            port=pg_port or pg["port"],
            db=pg["dbname"],
            user=pg["user"],
            password=Secret(pg["password"]),
        ),
        redis=RedisSettings(host=REDIS_HOST, port=redis_port or REDIS_PORT, prefix=prefix),
        market=MarketSettings(
            forex_pairs=("EURUSD",), forex_timeframes=(M1,), initial_history_days=1
        ),
        bridge_id="faults",
        spool_path=str(tmp_path / "outbox.sqlite3"),
    )


@pytest.fixture
def clock():
    return ManualClock(START)


@pytest.fixture
def bridges():
    made: list[Bridge] = []

    def make(settings: Settings, backend: TerminalBackend, mt5: MT5Service | None = None) -> Bridge:
        bridge = Bridge(settings, threading.Event(), backend)
        if mt5 is not None:
            bridge.mt5 = mt5  # before connect(): the controllers are built around it
        made.append(bridge)
        bridge.connect()
        return bridge

    yield make
    for bridge in made:
        bridge.shutdown(drain_seconds=2)


def stored_watermark(pg: dict) -> int | None:
    with psycopg2.connect(**pg) as conn, conn.cursor() as cur:
        cur.execute("SELECT EXTRACT(EPOCH FROM last_time)::bigint FROM bar_watermarks")
        row = cur.fetchone()
    conn.close()
    return row[0] if row else None


def expected_bars(
    backend: TerminalBackend, clock: ManualClock, symbol: str = "EURUSD"
) -> list[tuple]:
    return terminal_closed_bars(backend, symbol, M1, FIRST_START, clock.now())


def idle(bridge: Bridge) -> bool:
    stats = bridge.worker.stats()
    return stats.active == 0 and stats.queued == 0


def poll(condition, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


# -- PostgreSQL ---------------------------------------------------------------------------------


def test_postgres_down_during_a_cycle_loses_and_doubles_nothing(
    fresh_database, redis_prefix, clock, tmp_path, relays, bridges, caplog
):
    relay = relays(fresh_database["host"], fresh_database["port"])
    settings = settings_for(fresh_database, redis_prefix, tmp_path, pg_port=relay.port)
    backend = simulator_backend(settings.simulator, clock)
    bridge = bridges(settings, backend)
    assert bridge.prices.sync("EURUSD", M1).new > 1000
    mark = bridge.prices.watermark("EURUSD", M1)

    clock.advance(600)
    relay.stop()
    with pytest.raises(StorageError):
        bridge.prices.sync("EURUSD", M1)
    # Through the worker, as the scheduler runs it: the failure is counted, the worker goes on.
    bridge.worker.start()
    clock.advance(60)
    bridge.worker.submit("prices", bridge.prices.sync_all)
    poll(lambda: bridge.worker.stats().failed == 1 and bridge.worker.stats().active == 0)
    # Told once, by the PostgreSQL tracker, without a traceback; the failures are counted.
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    assert warnings[0].startswith(f"PostgreSQL at 127.0.0.1:{relay.port} is unreachable (")
    assert not any(r.exc_info for r in caplog.records)
    assert bridge.database.dependency.snapshot()["failures"] == 2
    assert bridge.prices.watermark("EURUSD", M1) == mark
    assert stored_watermark(fresh_database) == mark

    relay.start()
    clock.advance(300)
    bridge.worker.submit("prices", bridge.prices.sync_all)
    poll(lambda: bridge.worker.stats().completed == 1 and bridge.worker.stats().active == 0)
    expected = expected_bars(backend, clock)
    assert stored_bars(fresh_database, "EURUSD", "M1") == expected
    assert bridge.prices.watermark("EURUSD", M1) == expected[-1][0] == mark + 16 * 60


# -- Redis --------------------------------------------------------------------------------------


def received(pubsub) -> list[dict]:
    messages = []
    while (message := pubsub.get_message(timeout=0.3)) is not None:
        if message["type"] == "message":
            messages.append(json.loads(message["data"]))
    return messages


def test_redis_down_storage_goes_on_and_messages_follow_in_order(
    fresh_database, redis_client, redis_prefix, clock, tmp_path, relays, bridges
):
    relay = relays(REDIS_HOST, REDIS_PORT)
    settings = settings_for(fresh_database, redis_prefix, tmp_path, redis_port=relay.port)
    backend = simulator_backend(settings.simulator, clock)
    pubsub = redis_client.pubsub()
    pubsub.subscribe(f"{redis_prefix}:bar:EURUSD:M1")
    pubsub.get_message(timeout=1)
    bridge = bridges(settings, backend)
    bridge.prices.sync("EURUSD", M1)
    messages = received(pubsub)

    relay.stop()
    for _ in range(2):  # two cycles while Redis is away
        clock.advance(180)
        assert bridge.prices.sync("EURUSD", M1).new == 3
        assert stored_bars(fresh_database, "EURUSD", "M1") == expected_bars(backend, clock)
    assert bridge.publisher.pending == 6
    assert received(pubsub) == []

    relay.start()
    assert bridge.publisher.flush() == 6
    clock.advance(60)
    bridge.prices.sync("EURUSD", M1)
    messages += received(pubsub)
    pubsub.close()

    stored_times = [row[0] for row in stored_bars(fresh_database, "EURUSD", "M1")]
    sent_times = [
        int(datetime.fromisoformat(m["data"]["time"].replace("Z", "+00:00")).timestamp())
        for m in messages
    ]
    assert sent_times == stored_times  # every bar once, in order, none missing
    seqs = [m["seq"] for m in messages]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    assert bridge.publisher.pending == 0


# -- the terminal -------------------------------------------------------------------------------


def faulty_backend(clock: ManualClock, plan: FaultPlan) -> TerminalBackend:
    config = SimulatorConfig(seed=7, server_timezone="Europe/Athens", faults=plan)
    simulation = create_simulation(config, clock)
    return TerminalBackend(
        Backend.SIMULATOR,
        "SIMULATED terminal with faults",
        lambda: ModuleClient(simulation.terminal, "simulator"),
        clock=clock.now,
    )


def test_terminal_disconnect_reconnects_with_backoff_and_fills_the_gap(
    fresh_database, redis_prefix, clock, tmp_path, bridges
):
    plan = FaultPlan(disconnected_from=START + 60, disconnected_until=START + 900)
    backend = faulty_backend(clock, plan)
    settings = settings_for(fresh_database, redis_prefix, tmp_path)
    backoff = Backoff(base=1.0, cap=60.0, rng=random.Random(5))
    mt5 = MT5Service(
        backend.open_client,
        settings.mt5,
        ServerTime("Europe/Athens"),
        clock=clock.now,
        monotonic=clock.now,
        backoff=backoff,
    )
    bridge = bridges(settings, backend, mt5)
    bridge.prices.sync("EURUSD", M1)
    mark = bridge.prices.watermark("EURUSD", M1)

    clock.advance(120)  # inside the window: the terminal is gone
    with pytest.raises(TerminalDisconnectedError):
        bridge.prices.sync("EURUSD", M1)
    assert not mt5.connected
    with pytest.raises(TerminalDisconnectedError, match="next attempt in"):
        bridge.prices.sync("EURUSD", M1)  # no new attempt before the backoff delay
    clock.advance(1.0)
    with pytest.raises(TerminalDisconnectedError, match="IPC timeout"):
        bridge.prices.sync("EURUSD", M1)  # attempted: initialize() fails inside the window
    assert mt5.reconnects == 0
    assert bridge.prices.watermark("EURUSD", M1) == mark

    clock.set(START + 900 + 61)  # the window is over and any backoff delay has passed
    mt5.ensure_connected()
    assert mt5.connected and mt5.reconnects == 1
    # The reconnection queued the gap fill; the worker runs it as the daemon would.
    assert bridge.worker.stats().queued >= 1
    bridge.worker.start()
    poll(lambda: idle(bridge) and bridge.worker.stats().completed >= 2)
    assert stored_bars(fresh_database, "EURUSD", "M1") == expected_bars(backend, clock)
    assert bridge.prices.watermark("EURUSD", M1) == mark + 16 * 60


# -- bad bars -----------------------------------------------------------------------------------


class SpoilingClient:
    """The simulator's real client, except that ``copy_rates_range`` answers with the bars
    at the given positions spoilt (the simulated market itself never makes bad bars)."""

    def __init__(self, client, spoil: dict[int, str]) -> None:
        self._client = client
        self._spoil = spoil
        self.name = client.name
        self.spoilt_server_times: dict[int, str] = {}

    def call(self, function: str, *args, **kwargs):
        result, error = self._client.call(function, *args, **kwargs)
        if function == "copy_rates_range" and result is not None and len(result) > 10:
            result = np.array(result, copy=True)
            for index, how in self._spoil.items():
                row = result[index]
                if how == "high_below_low":
                    row["high"] = row["low"] - 0.001
                else:
                    row["close"] = np.nan
                self.spoilt_server_times[int(row["time"])] = how
        return result, error

    def close(self) -> None:
        self._client.close()


def to_utc(server_time: int) -> int:
    wall = datetime.fromtimestamp(server_time, timezone.utc).replace(tzinfo=ATHENS)
    return int(wall.timestamp())


def test_bad_bars_are_quarantined_and_the_good_ones_stored(
    fresh_database, redis_prefix, clock, tmp_path, bridges, caplog
):
    settings = settings_for(fresh_database, redis_prefix, tmp_path)
    real = simulator_backend(settings.simulator, clock)
    spoiling = SpoilingClient(
        real.open_client(), {-5: "high_below_low", -6: "high_below_low", -7: "non_finite"}
    )
    backend = TerminalBackend(Backend.SIMULATOR, "spoilt", lambda: spoiling, clock=clock.now)
    bridge = bridges(settings, backend)

    with caplog.at_level(logging.WARNING, logger="bridge_v3.controllers.price_controller"):
        result = bridge.prices.sync("EURUSD", M1)

    bad = {to_utc(t): how for t, how in spoiling.spoilt_server_times.items()}
    assert len(bad) == 3
    assert result.quarantined == 3 and bridge.prices.totals["quarantined"] == 3
    with psycopg2.connect(**fresh_database) as conn, conn.cursor() as cur:
        cur.execute("SELECT EXTRACT(EPOCH FROM time)::bigint, reason FROM bar_quarantine")
        assert dict(cur.fetchall()) == bad
        cur.execute("SELECT payload->>'close' FROM bar_quarantine WHERE reason = 'non_finite'")
        assert cur.fetchall() == [("nan",)]  # kept for a person to see, as JSON allows
    conn.close()
    good = [row for row in expected_bars(real, clock) if row[0] not in bad]
    assert stored_bars(fresh_database, "EURUSD", "M1") == good
    assert bridge.prices.watermark("EURUSD", M1) == good[-1][0]  # the cycle went on past them
    warnings = [r.getMessage() for r in caplog.records if "quarantined" in r.getMessage()]
    assert len(warnings) == 2  # once per kind
    assert any("high_below_low" in w for w in warnings)
    assert any("non_finite" in w for w in warnings)


def test_random_ipc_timeouts_cost_a_retry_never_the_cycle_nor_the_connection(
    fresh_database, redis_prefix, clock, tmp_path, bridges
):
    config = SimulatorConfig(seed=7, server_timezone="Europe/Athens")
    simulation = create_simulation(config, clock)
    backend = TerminalBackend(
        Backend.SIMULATOR,
        "SIMULATED terminal",
        lambda: ModuleClient(simulation.terminal, "simulator"),
        clock=clock.now,
    )
    settings = settings_for(fresh_database, redis_prefix, tmp_path)
    pauses: list[float] = []
    mt5 = MT5Service(
        backend.open_client,
        settings.mt5,
        ServerTime("Europe/Athens"),
        clock=clock.now,
        monotonic=clock.now,
        backoff=Backoff(base=1.0, cap=8.0, rng=random.Random(3)),
        sleep=pauses.append,
    )
    bridge = bridges(settings, backend, mt5)
    series = [("EURUSD", M1), ("GBPUSD", M1)]
    bridge.prices.sync_all(series)
    # From now on three calls in ten time out. (Start-up retries with real waiting, so the
    # plan is switched on once the bridge is up; the simulator has no public switch.)
    simulation.terminal._set_fault_plan(FaultPlan(seed=3, ipc_timeout_rate=0.3))
    behind = 0
    for _ in range(40):
        clock.advance(60)
        bridge.prices.sync_all(series)
        closed = int(clock.now()) // 60 * 60 - 60
        behind += sum(bridge.prices.watermark(s, tf) != closed for s, tf in series)
    simulation.terminal._set_fault_plan(None)
    clock.advance(10)
    bridge.prices.sync_all(series)

    assert len(pauses) >= 10  # timeouts happened, and were retried after a short pause
    assert mt5.reconnects == 0 and mt5.connected  # a timeout never dropped the terminal
    assert behind <= 4  # of 80 series-cycles, at most a few fell a cycle behind
    for symbol, _ in series:
        assert stored_bars(fresh_database, symbol, "M1") == expected_bars(backend, clock, symbol)
