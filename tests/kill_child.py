"""A bridge process that kills itself with SIGKILL at a chosen point of delivery.

Run by ``tests/test_kill_points.py`` as ``python -m tests.kill_child '<json>'``. The process
connects a Bridge (simulated terminal on a fixed clock, real PostgreSQL and Redis), runs one
price cycle and delivers; with ``kill`` set, the named step sends SIGKILL to the process the
moment it is reached, so nothing after it runs: no rollback, no ack, no cleanup. Without
``kill`` it runs to the end and shuts down as the daemon does.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from contextlib import contextmanager

from bridge_v3.config.constants import TIMEFRAMES
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
from bridge_v3.services.bar_store import BarStore
from bridge_v3.services.mt5.backends import simulator_backend
from bridge_v3.services.outbox import Outbox
from bridge_v3.services.pending_messages import PendingMessages
from bridge_v3.services.redis_service import RedisService
from bridge_v3.simulator.clock import ManualClock


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def after(cls, name: str, calls: int = 1) -> None:
    """SIGKILL right after the ``calls``-th call of ``cls.name`` returns."""
    original, seen = getattr(cls, name), []

    def wrapper(*args, **kwargs):
        result = original(*args, **kwargs)
        seen.append(1)
        if len(seen) >= calls:
            die()
        return result

    setattr(cls, name, wrapper)


def before(cls, name: str) -> None:
    """SIGKILL as ``cls.name`` is entered, before it does anything."""

    def wrapper(*args, **kwargs):
        die()

    setattr(cls, name, wrapper)


def after_commit() -> None:
    """SIGKILL the moment the transaction holding the bars has committed."""
    original = BarStore.transaction

    @contextmanager
    def transaction(self):
        with original(self) as conn:
            yield conn
        die()

    BarStore.transaction = transaction


POINTS = {
    # Rows, watermark and staged messages written, transaction not committed.
    "before-commit": lambda: after(PendingMessages, "stage"),
    # Committed; nothing moved to the local outbox yet.
    "after-commit": after_commit,
    # Numbered in the local outbox; the PostgreSQL rows not yet deleted.
    "after-transfer": lambda: before(PendingMessages, "delete"),
    # Moved and deleted; nothing sent.
    "before-send": lambda: before(RedisService, "send"),
    # The first chunk of a send delivered, the next not.
    "mid-send": lambda: after(RedisService, "_send_chunk"),
    # Everything sent; not acked in the local outbox.
    "before-ack": lambda: before(Outbox, "ack_through"),
}


def settings(config: dict) -> Settings:
    pg = config["pg"]
    return Settings(
        mt5=MT5Settings(server_timezone="Europe/Athens"),
        simulator=SimulatorSettings(seed=7, server_timezone="Europe/Athens"),
        postgres=PostgresSettings(
            host=pg["host"],
            port=pg["port"],
            db=pg["dbname"],
            user=pg["user"],
            password=Secret(pg["password"]),
        ),
        redis=RedisSettings(
            host=config["redis_host"], port=config["redis_port"], prefix=config["prefix"]
        ),
        market=MarketSettings(
            forex_pairs=("EURUSD",), forex_timeframes=(TIMEFRAMES["M1"],), initial_history_days=1
        ),
        bridge_id="kill",
        spool_path=config["spool"],
    )


def main(config: dict) -> None:
    clock = ManualClock(config["now"])
    chosen = settings(config)
    bridge = Bridge(chosen, threading.Event(), simulator_backend(chosen.simulator, clock))
    bridge.connect()  # delivers what an earlier run left
    if config.get("kill"):
        POINTS[config["kill"]]()
    bridge.sync_prices()
    bridge.publisher.deliver()
    bridge.shutdown()


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
