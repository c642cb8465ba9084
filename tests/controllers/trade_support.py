"""A bridge on a simulated terminal that the test also trades on "by hand".

The test holds the simulation (market, clock, terminal face) and places orders through the
terminal's module face, as a person at the terminal or another program would; the bridge
sees them only through its MT5 service, as in production. Redis messages are read back
from the streams, so none is missed for lack of a subscriber.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

import psycopg2
import redis

from bridge_v3.config.constants import TIMEFRAMES, Backend
from bridge_v3.config.settings import Settings
from bridge_v3.daemon import Bridge
from bridge_v3.services.mt5.backends import TerminalBackend
from bridge_v3.services.mt5.clients import ModuleClient
from bridge_v3.services.mt5.contract import constants as mc
from bridge_v3.simulator.clock import ManualClock
from bridge_v3.simulator.factory import Simulation, SimulatorConfig, create_simulation
from tests.conftest import REDIS_HOST, REDIS_PORT
from tests.test_daemon_faults import settings_for

# Wednesday 25 March 2026, 10:00:30 UTC: forex open, server clock UTC+2 (Europe/Athens).
START = datetime(2026, 3, 25, 10, 0, 30, tzinfo=timezone.utc).timestamp()
M1 = TIMEFRAMES["M1"]


class EditingClient:
    """The simulator's client; ``edits[function]`` (when set) rewrites that call's answer:
    a callable taking (result, error) and returning (result, error)."""

    def __init__(self, client) -> None:
        self._client = client
        self.name = client.name
        self.edits: dict[str, Callable[[Any, tuple], tuple[Any, tuple]]] = {}
        self.calls: list[tuple[str, tuple, dict]] = []

    def call(self, function: str, *args, **kwargs):
        self.calls.append((function, args, kwargs))
        result, error = self._client.call(function, *args, **kwargs)
        edit = self.edits.get(function)
        return edit(result, error) if edit else (result, error)

    def close(self) -> None:
        self._client.close()


@dataclass
class Desk:
    """The simulation, and a way to start bridges on it."""

    simulation: Simulation
    clock: ManualClock
    settings: Settings
    client: EditingClient
    bridges: list[Bridge] = field(default_factory=list)

    @property
    def mt5(self):
        return self.simulation.terminal

    def bridge(self, **risk) -> Bridge:
        """A connected bridge (reconciled at connect, as at a real start)."""
        settings = self.settings
        if risk:
            settings = replace(settings, risk=replace(settings.risk, **risk))
        backend = TerminalBackend(
            Backend.SIMULATOR,
            "simulated terminal, traded by hand in the test",
            lambda: self.client,
            clock=self.clock.now,
        )
        bridge = Bridge(settings, threading.Event(), backend)
        self.bridges.append(bridge)
        bridge.connect()
        return bridge

    def stop(self, bridge: Bridge) -> None:
        bridge.shutdown(drain_seconds=1)
        self.bridges.remove(bridge)
        # The bridge's mt5.shutdown() closed the one (process-wide) connection the test's
        # hand shares with it; the terminal itself runs on, so attach again.
        assert self.mt5.initialize()

    # -- trading by hand ---------------------------------------------------------------

    def send(self, **request) -> Any:
        result = self.mt5.order_send(request)
        assert result is not None, self.mt5.last_error()
        assert result.retcode == mc.TRADE_RETCODE_DONE, (result.retcode, result.comment)
        return result

    def buy(self, volume: float = 0.1, symbol: str = "EURUSD", **fields) -> int:
        """A market buy; returns the position ticket."""
        fields.setdefault("type_filling", mc.ORDER_FILLING_IOC)
        result = self.send(
            action=mc.TRADE_ACTION_DEAL,
            symbol=symbol,
            volume=volume,
            type=mc.ORDER_TYPE_BUY,
            deviation=20,
            **fields,
        )
        return int(result.order)

    def sell(self, volume: float = 0.1, symbol: str = "EURUSD", **fields) -> int:
        fields.setdefault("type_filling", mc.ORDER_FILLING_IOC)
        result = self.send(
            action=mc.TRADE_ACTION_DEAL,
            symbol=symbol,
            volume=volume,
            type=mc.ORDER_TYPE_SELL,
            deviation=20,
            **fields,
        )
        return int(result.order)

    def close(self, ticket: int, volume: float | None = None) -> Any:
        (position,) = self.mt5.positions_get(ticket=ticket)
        closing = mc.ORDER_TYPE_SELL if position.type == mc.POSITION_TYPE_BUY else mc.ORDER_TYPE_BUY
        return self.send(
            action=mc.TRADE_ACTION_DEAL,
            symbol=position.symbol,
            volume=position.volume if volume is None else volume,
            type=closing,
            position=ticket,
            deviation=20,
            type_filling=mc.ORDER_FILLING_IOC,
        )

    def stops(self, ticket: int, sl: float = 0.0, tp: float = 0.0) -> Any:
        (position,) = self.mt5.positions_get(ticket=ticket)
        return self.send(
            action=mc.TRADE_ACTION_SLTP, symbol=position.symbol, position=ticket, sl=sl, tp=tp
        )

    def bid(self, symbol: str = "EURUSD") -> float:
        return float(self.mt5.symbol_info_tick(symbol).bid)

    def ask(self, symbol: str = "EURUSD") -> float:
        return float(self.mt5.symbol_info_tick(symbol).ask)

    def later(self, seconds: float = 5.0) -> None:
        self.clock.advance(seconds)


def make_desk(pg: dict, prefix: str, tmp_path, **simulator) -> Desk:
    clock = ManualClock(simulator.pop("start", START))
    simulation = create_simulation(SimulatorConfig(seed=7, **simulator), clock)
    settings = settings_for(pg, prefix, tmp_path)
    settings = replace(settings, bridge_id="trades")
    client = EditingClient(ModuleClient(simulation.terminal, "simulator"))
    desk = Desk(simulation, clock, settings, client)
    assert desk.mt5.initialize()
    return desk


# -- reading back what the bridge did --------------------------------------------------------


def rows(pg: dict, query: str, params: tuple = ()) -> list[tuple]:
    with psycopg2.connect(**pg) as conn, conn.cursor() as cur:
        cur.execute(query, params)
        return cur.fetchall()


def row_dicts(pg: dict, table: str, order: str = "ticket") -> list[dict]:
    with psycopg2.connect(**pg) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT * FROM {table} ORDER BY {order}")  # noqa: S608 - test helper
        names = [c.name for c in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def published(prefix: str, kind: str) -> list[dict]:
    """Every envelope of ``kind`` in its stream, oldest first."""
    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT)
    try:
        entries = client.xrange(f"{prefix}:stream:{kind}")
    finally:
        client.close()
    return [json.loads(fields[b"envelope"]) for _, fields in entries]


def events(prefix: str, kind: str) -> list[tuple]:
    """(ticket, event) of every position or order message, in order."""
    return [(m["data"]["ticket"], m["data"]["event"]) for m in published(prefix, kind)]


def utc_of(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=timezone.utc)
