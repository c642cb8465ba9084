"""A tick pipeline on the simulated terminal with real PostgreSQL and Redis, and the truth to
compare it with: the terminal's own ticks and bars, converted to UTC with zoneinfo alone
(independently of the bridge's ServerTime)."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import redis

from bridge_v3.config.constants import Backend, Timeframe
from bridge_v3.config.secret import Secret
from bridge_v3.config.settings import MT5Settings, PostgresSettings, RedisSettings
from bridge_v3.controllers.tick_controller import TickController
from bridge_v3.services.database_service import DatabaseService
from bridge_v3.services.mt5.backends import TerminalBackend
from bridge_v3.services.mt5.clients import ModuleClient
from bridge_v3.services.mt5.mt5_service import MT5Service
from bridge_v3.services.outbox import Outbox
from bridge_v3.services.pending_messages import PendingMessages
from bridge_v3.services.publisher import Publisher
from bridge_v3.services.redis_service import RedisService
from bridge_v3.services.server_time import ServerTime
from bridge_v3.services.tick_store import TickStore
from bridge_v3.simulator.clock import ManualClock
from bridge_v3.simulator.factory import SimulatorConfig, create_simulation

TICK_COLUMNS = "time_msc, bid, ask, last, volume, flags, volume_real"
_EPOCH = datetime(1970, 1, 1)
_accounts = itertools.count(7000)


def open_database(pg: dict) -> DatabaseService:
    db = DatabaseService(
        PostgresSettings(
            host=pg["host"],
            port=pg["port"],
            db=pg["dbname"],
            user=pg["user"],
            password=Secret(pg["password"]),
            pool_min=1,
            pool_max=4,
        )
    )
    db.start()
    db.migrate()
    return db


def simulated_backend(clock: ManualClock, zone: str, replays: dict | None = None):
    simulation = create_simulation(
        SimulatorConfig(seed=7, server_timezone=zone, replays=replays or {}), clock
    )
    return TerminalBackend(
        Backend.SIMULATOR,
        "simulated terminal",
        lambda: ModuleClient(simulation.terminal, "simulator"),
        clock=clock.now,
    )


def _server_seconds(utc: int, zone: ZoneInfo) -> int:
    return utc + int(datetime.fromtimestamp(utc, zone).utcoffset().total_seconds())


def _utc_offset_of_wall(server_seconds: np.ndarray, zone: ZoneInfo) -> np.ndarray:
    """Seconds to subtract from server wall times (fold=0: a repeated hour's first pass)."""
    walls = [_EPOCH + timedelta(seconds=int(s)) for s in server_seconds]
    return np.array([zone.utcoffset(w).total_seconds() for w in walls], dtype=np.int64)


@dataclass
class Rig:
    clock: ManualClock
    backend: TerminalBackend
    mt5: MT5Service
    database: DatabaseService
    redis: RedisService
    publisher: Publisher
    account: int
    zone: str

    def controller(self, symbols, **options) -> TickController:
        """A freshly built controller (as after a restart) over the same database."""
        controller = TickController(
            self.mt5,
            TickStore(self.database, self.account),
            self.publisher,
            symbols,
            clock=self.clock.now,
            last_ttl=600,
            **options,
        )
        controller.load_watermarks()
        return controller

    def stored(self, symbol: str) -> list[tuple]:
        return self.database.fetch_all(
            f"SELECT {TICK_COLUMNS} FROM ticks WHERE account = %s AND symbol = %s"
            " ORDER BY time, ordinal",
            (self.account, symbol),
        )

    def terminal_ticks(self, symbol: str, utc_from_msc: int, utc_to_msc: int) -> list[tuple]:
        return terminal_ticks(self.backend, self.zone, symbol, utc_from_msc, utc_to_msc)

    def terminal_bars(self, symbol: str, timeframe: Timeframe, utc_from: int, utc_to: int):
        return terminal_bars(self.backend, self.zone, symbol, timeframe, utc_from, utc_to)

    def published(self, client: redis.Redis) -> list[dict]:
        """Every tick published, oldest first, as a ``tick`` envelope; each tick of a ``ticks``
        batch becomes one such envelope (with the batch's seq)."""
        envelopes = [
            json.loads(fields[b"envelope"])
            for type_ in ("tick", "ticks")
            for _, fields in client.xrange(self.redis.key("stream", type_))
        ]
        envelopes.sort(key=lambda envelope: envelope["seq"])
        return [tick for envelope in envelopes for tick in unbatched(envelope)]


def unbatched(envelope: dict) -> list[dict]:
    """A ``tick`` envelope as it is; a ``ticks`` batch as one ``tick`` envelope per tick."""
    if envelope["type"] != "ticks":
        return [envelope]
    columns = {name: values for name, values in envelope["data"].items() if name != "symbol"}
    rows = [
        dict(zip(columns, values, strict=True)) for values in zip(*columns.values(), strict=True)
    ]
    symbol = envelope["data"]["symbol"]
    return [{**envelope, "type": "tick", "data": {"symbol": symbol, **row}} for row in rows]


def terminal_ticks(
    backend: TerminalBackend, zone_name: str, symbol: str, utc_from_msc: int, utc_to_msc: int
) -> list[tuple]:
    """The terminal's own ticks in [from, to] (UTC ms), converted to UTC independently."""
    zone = ZoneInfo(zone_name)
    client = backend.open_client()
    client.call("initialize")
    start = _server_seconds(utc_from_msc // 1000, zone)
    end = _server_seconds(utc_to_msc // 1000, zone) + 1
    ticks, _ = client.call("copy_ticks_range", symbol, start, end, -1)  # COPY_TICKS_ALL
    msc = ticks["time_msc"].astype(np.int64)
    utc = msc - _utc_offset_of_wall(msc // 1000, zone) * 1000
    keep = (utc >= utc_from_msc) & (utc <= utc_to_msc)
    fields = [ticks[name][keep].tolist() for name in TICK_COLUMNS.split(", ")[1:]]
    return list(zip(utc[keep].tolist(), *fields, strict=True))


def terminal_bars(
    backend: TerminalBackend,
    zone_name: str,
    symbol: str,
    timeframe: Timeframe,
    utc_from: int,
    utc_to: int,
) -> list[tuple]:
    """(time, open, high, low, close, tick_volume) of the terminal's bars opening in
    [utc_from, utc_to - period] (closed by utc_to), times converted to UTC independently."""
    zone = ZoneInfo(zone_name)
    client = backend.open_client()
    client.call("initialize")
    start, end = _server_seconds(utc_from, zone), _server_seconds(utc_to, zone)
    rates, _ = client.call("copy_rates_range", symbol, timeframe.mt5, start, end)
    times = rates["time"].astype(np.int64)
    utc = times - _utc_offset_of_wall(times, zone)
    keep = (utc >= utc_from) & (utc + timeframe.seconds <= utc_to)
    return bar_rows(utc[keep], rates[keep])


def bar_rows(times: np.ndarray, bars: np.ndarray) -> list[tuple]:
    columns = [bars[name].tolist() for name in ("open", "high", "low", "close", "tick_volume")]
    return list(zip(np.asarray(times).tolist(), *columns, strict=True))


@contextmanager
def open_rig(
    database: DatabaseService,
    prefix: str,
    tmp_path,
    start: float,
    *,
    zone: str = "Europe/Athens",
    replays: dict | None = None,
    symbols: tuple[str, ...] = ("EURUSD", "BTCUSD"),
) -> Iterator[Rig]:
    clock = ManualClock(start)
    backend = simulated_backend(clock, zone, replays)
    mt5 = MT5Service(
        backend.open_client, MT5Settings(server_timezone=zone), ServerTime(zone), clock=clock.now
    )
    mt5.connect(symbols)
    account = next(_accounts)
    source = f"ticks-{account}"
    service = RedisService(RedisSettings(prefix=prefix), source=source, account=account)
    outbox = Outbox(tmp_path / f"outbox-{account}.sqlite3")
    publisher = Publisher(service, outbox, pending=PendingMessages(database, source))
    publisher.start()
    try:
        yield Rig(clock, backend, mt5, database, service, publisher, account, zone)
    finally:
        service.close()
        outbox.close()
        mt5.shutdown()


def utc_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def subscriber(client: redis.Redis, channel: str):
    pubsub = client.pubsub()
    pubsub.subscribe(channel)
    pubsub.get_message(timeout=1)  # the subscribe confirmation
    return pubsub


def drain(pubsub) -> list[dict]:
    messages = []
    while (message := pubsub.get_message(timeout=0.5)) is not None:
        if message["type"] == "message":
            messages.append(json.loads(message["data"]))
    return messages
