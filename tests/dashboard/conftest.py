"""A database and Redis filled by the bridge itself (simulated terminal, a clock the test
moves), plus the trading rows the trade and strategy parts write, for the dashboard to read."""

from __future__ import annotations

import json
import threading

import psycopg2
import pytest

from bridge_v3.config.secret import Secret
from bridge_v3.config.settings import (
    DashboardSettings,
    PostgresSettings,
    RedisSettings,
    Settings,
    WorkerSettings,
)
from bridge_v3.dashboard.app import Dashboard
from bridge_v3.dashboard.server import DashboardServer
from tests.client.conftest import SimBridge
from tests.conftest import REDIS_HOST, REDIS_PORT

ACCOUNT = 10000001  # the simulated terminal's account


@pytest.fixture
def sim_bridge(fresh_database, redis_prefix, tmp_path) -> SimBridge:
    bridge = SimBridge(fresh_database, redis_prefix, tmp_path)
    bridge.run_once()
    return bridge


def settings_for(
    pg: dict, prefix: str, *, pg_port: int | None = None, password: str = ""
) -> Settings:
    return Settings(
        postgres=PostgresSettings(
            host=pg["host"],
            port=pg_port or pg["port"],
            db=pg["dbname"],
            user=pg["user"],
            password=Secret(pg["password"]),
        ),
        redis=RedisSettings(host=REDIS_HOST, port=REDIS_PORT, prefix=prefix),
        worker=WorkerSettings(heartbeat_interval=4.0),
        dashboard=DashboardSettings(port=0, user="alice", password=Secret(password)),
    )


class Running:
    """A Dashboard and its HTTP server on a free port, in this process."""

    def __init__(self, settings: Settings, clock=None) -> None:
        options = {"clock": clock} if clock else {}
        self.dashboard = Dashboard(settings, **options)
        web = settings.dashboard
        self.server = DashboardServer(
            ("127.0.0.1", 0), self.dashboard, user=web.user, password=web.password.reveal()
        )
        self.dashboard.start()
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return self.server.port

    def stop(self) -> None:
        self.server.stopping.set()
        self.dashboard.hub.close()
        self.server.shutdown()
        self.server.server_close()
        self.dashboard.stop()


@pytest.fixture
def running():
    made: list[Running] = []

    def start(settings: Settings, clock=None) -> Running:
        made.append(Running(settings, clock))
        return made[-1]

    yield start
    for item in made:
        item.stop()


def execute(pg: dict, statement: str, params: tuple = ()) -> None:
    with psycopg2.connect(**pg) as conn, conn.cursor() as cur:
        cur.execute(statement, params)
    conn.close()


def rows(pg: dict, statement: str, params: tuple = ()) -> list[tuple]:
    with psycopg2.connect(**pg) as conn, conn.cursor() as cur:
        cur.execute(statement, params)
        found = cur.fetchall()
    conn.close()
    return found


def add_trading_rows(pg: dict, at: float) -> None:
    """Positions, orders, deals, signals, intents and a risk state around ``at`` (Unix s)."""
    execute(
        pg,
        "INSERT INTO positions (account, ticket, symbol, type, magic, volume, price_open,"
        " price_current, profit, time, closed_at) VALUES"
        " (%(a)s, 501, 'EURUSD', 0, 7, 0.5, 1.08, 1.081, 50.0, to_timestamp(%(t)s - 600), NULL),"
        " (%(a)s, 502, 'EURUSD', 1, 7, 0.2, 1.09, 1.08, 20.0, to_timestamp(%(t)s - 900),"
        "  to_timestamp(%(t)s - 300))",
        {"a": ACCOUNT, "t": at},
    )
    execute(
        pg,
        "INSERT INTO orders (account, ticket, symbol, type, state, volume_current, price_open,"
        " time_setup) VALUES"
        " (%(a)s, 601, 'EURUSD', 2, 1, 0.3, 1.07, to_timestamp(%(t)s - 500)),"
        " (%(a)s, 602, 'EURUSD', 0, 4, 0.0, 1.08, to_timestamp(%(t)s - 600))",
        {"a": ACCOUNT, "t": at},
    )
    deals = [  # ticket, type, entry, volume, seconds before `at`
        (701, 2, 0, 0.0, 86400 * 5),  # the deposit: not a fill
        (702, 1, 0, 0.2, 900),
        (703, 0, 0, 0.5, 600),
        (704, 0, 1, 0.2, 300),
    ]
    for ticket, type_, entry, volume, ago in deals:
        execute(
            pg,
            "INSERT INTO deals (account, ticket, symbol, type, entry, volume, price, profit, time)"
            " VALUES (%s, %s, 'EURUSD', %s, %s, %s, 1.08, 0, to_timestamp(%s))",
            (ACCOUNT, ticket, type_, entry, volume, at - ago),
        )
    execute(
        pg,
        "INSERT INTO signals (account, strategy, symbol, timeframe, time, side, price)"
        " VALUES (%s, 'ma-cross', 'EURUSD', 'M5', to_timestamp(%s), 'buy', 1.08)",
        (ACCOUNT, at - 1200),
    )
    execute(
        pg,
        "INSERT INTO order_intents (account, intent_id, strategy, symbol, action, type, volume,"
        " status) VALUES (%s, 'i-1', 'ma-cross', 'EURUSD', 1, 0, 0.5, 'filled')",
        (ACCOUNT,),
    )
    risk = {"state": "HALTED", "reason": "daily loss 6.1 % reached 5 %", "daily_loss_pct": 6.1}
    execute(
        pg,
        "INSERT INTO bridge_state (account, key, value) VALUES (%s, 'risk_state', %s)"
        " ON CONFLICT (account, key) DO UPDATE SET value = EXCLUDED.value",
        (ACCOUNT, json.dumps(risk)),
    )
    execute(
        pg,
        "INSERT INTO risk_events (account, kind, state, reason) VALUES (%s, 'state_change',"
        " 'HALTED', %s)",
        (ACCOUNT, risk["reason"]),
    )
