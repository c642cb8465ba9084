"""A live bridge process that kills itself with SIGKILL around ``order_send``.

Run by ``tests/test_kill_orders.py`` as ``python -m tests.kill_order_child '<json>'``. The
terminal is a simulator server in the test's process (reached over RPyC, as a real one
under Wine is), so the paper account outlives this process. With ``kill`` set the bridge
opens one position and dies at that point: ``after-journal`` the moment order_send is
entered (the intent is committed, nothing was sent), ``after-send`` the moment order_send
returns (the order exists, its answer was never recorded). Without ``kill`` it starts (which
resolves what was left), prints the journal's state as JSON and shuts down.
"""

from __future__ import annotations

import json
import sys
import threading

from bridge_v3.config.constants import TIMEFRAMES, Backend, TradingMode
from bridge_v3.config.secret import Secret
from bridge_v3.config.settings import (
    MarketSettings,
    MT5Settings,
    PostgresSettings,
    RedisSettings,
    RiskSettings,
    Settings,
)
from bridge_v3.daemon import Bridge
from bridge_v3.services.mt5.backends import TerminalBackend
from bridge_v3.services.mt5.clients import RemoteClient
from bridge_v3.services.mt5.mt5_service import MT5Service
from bridge_v3.simulator.clock import ManualClock
from tests.kill_child import after, before


def settings(config: dict) -> Settings:
    pg = config["pg"]
    return Settings(
        mt5=MT5Settings(account=config["login"], server_timezone="Europe/Athens"),
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
        risk=RiskSettings(trading_mode=TradingMode.LIVE),
        bridge_id="kill-orders",
        spool_path=config["spool"],
    )


def main(config: dict) -> None:
    clock = ManualClock(config["now"])
    backend = TerminalBackend(
        Backend.REMOTE,
        "simulator server",
        lambda: RemoteClient("127.0.0.1", config["port"]),
        clock=clock.now,
    )
    bridge = Bridge(settings(config), threading.Event(), backend)
    bridge.connect()  # the start-up resolves the intents a killed run left
    if config.get("kill") == "after-journal":
        before(MT5Service, "order_send")
    elif config.get("kill") == "after-send":
        after(MT5Service, "order_send")
    if config.get("kill"):
        bridge.risk.run_check()  # the first jobs run at once: opening waits for one
        bridge.executor.open(
            "killed", "EURUSD", "buy", sl=0.5, tp=2.0, volume=0.1, reason="kill test"
        )
    unresolved = [i.intent_id for i in bridge.executor.unresolved()]
    bridge.shutdown()
    print(json.dumps({"unresolved": unresolved}))


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
