"""The dashboard's composition root: builds the parts, routes events, starts and stops.

Redis streams --LiveFeed--> Dashboard.on_event --> Hub --> each browser (SSE)
                                    \\--> PanelRefresher --(PostgreSQL)--> Hub
ServiceMonitor (PING, SELECT 1) --> "services" (and "resync" when one comes back)
HTTP: the page, its static files, /api/snapshot (every panel), /events (the stream)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import redis

from bridge_v3 import __version__
from bridge_v3.client import Event
from bridge_v3.client.events import parse_time
from bridge_v3.config.settings import Settings
from bridge_v3.dashboard.board import BridgeBoard, entry_ms
from bridge_v3.dashboard.hub import Hub
from bridge_v3.dashboard.live import LiveFeed
from bridge_v3.dashboard.monitor import ServiceMonitor
from bridge_v3.dashboard.panels import PANELS, Panels, guarded
from bridge_v3.dashboard.reader import ReadDatabase
from bridge_v3.dashboard.refresher import PanelRefresher
from bridge_v3.dashboard.trading_queries import DEAL_ENTRIES

logger = logging.getLogger(__name__)

LATE_AFTER_INTERVALS = 1.5  # a heartbeat this late turns the bridge red (within two intervals)
PANELS_BY_TYPE = {
    "status": ("trading", "risk"),  # floating profit and daily loss move between events
    "bar": ("quality",),
    "position": ("trading",),
    "order": ("trading",),
    "deal": ("trading",),
    "signal": ("trading",),
    "risk": ("risk",),
}


class Dashboard:
    def __init__(self, settings: Settings, *, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self._clock = clock
        self.db = ReadDatabase(settings.postgres)
        self.redis = _redis_client(settings)
        self.hub = Hub()
        self.board = BridgeBoard()
        self.panels = Panels(self.db, clock=clock)
        self.refresher = PanelRefresher(self.panels, self.hub)
        self.monitor = ServiceMonitor(
            {"postgres": self.db.ping, "redis": self.redis.ping}, self._service_changed
        )
        self.feed = LiveFeed(settings.redis, self.on_event)

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        self.monitor.check_once()
        self.feed.start()
        self.monitor.start()
        self.refresher.start()

    def stop(self) -> None:
        self.hub.close()
        for part in (self.feed, self.monitor, self.refresher):
            part.stop()
        self.redis.close()
        self.db.close()

    # -- what a page asks for --------------------------------------------------------------

    def snapshot(
        self, account: int | None = None, symbol: str | None = None, timeframe: str | None = None
    ) -> dict:
        """Everything the page shows, read now: the page's state after a load or an outage."""
        accounts = self._accounts()
        account = account if account is not None else (accounts[0] if accounts else None)
        panels = {}
        for name in PANELS:
            options = {"symbol": symbol, "timeframe": timeframe} if name == "market" else {}
            panels[name] = (
                self.panels.build(name, account, **options)
                if account is not None
                else {"ok": True, "empty": True}
            )
        return {
            "server_time_ms": int(self._clock() * 1000),
            "config": self.page_config(),
            "services": self.monitor.status(),
            "bridges": self.board.bridges(),
            "accounts": accounts,
            "account": account,
            "panels": panels,
        }

    def hello(self) -> dict:
        """The first event of every stream: the health strip as it is now."""
        return {
            "server_time_ms": int(self._clock() * 1000),
            "services": self.monitor.status(),
            "bridges": self.board.bridges(),
        }

    def page_config(self) -> dict:
        interval = self.settings.worker.heartbeat_interval
        risk = self.settings.risk
        return {
            "version": __version__,
            "prefix": self.settings.redis.prefix,
            "heartbeat_interval": interval,
            "late_after": interval * LATE_AFTER_INTERVALS,
            "max_daily_loss_pct": risk.max_daily_loss_pct,
            "max_positions": risk.max_simultaneous_trades,
        }

    def _accounts(self) -> list[int]:
        """The configured account first, then those heard on Redis, then those in PostgreSQL."""
        stored = guarded("accounts", lambda: {"accounts": self.panels.accounts()})
        found = [self.settings.mt5.account, *self.board.accounts(), *stored.get("accounts", [])]
        return list(dict.fromkeys(a for a in found if a is not None))

    # -- events ------------------------------------------------------------------------------

    def on_event(self, event: Event) -> None:
        """Route one bridge event: straight to the pages, and mark the panels it changes."""
        data = event.envelope.get("data") or {}
        account = event.account
        if event.type == "status":
            beat = self.board.note(event.source, account, entry_ms(event.id), data)
            self.hub.broadcast("status", {**beat, "server_time_ms": int(self._clock() * 1000)})
        elif event.type == "bar":
            self.hub.broadcast("bar", _candle(account, data), account=account)
        elif event.type == "account":
            self.hub.broadcast("account", _equity_point(account, data), account=account)
        elif event.type == "risk":
            self.hub.broadcast("risk", {"account": account, "data": data}, account=account)
        elif event.type in ("deal", "signal") and (marker := _marker(event.type, data)):
            self.hub.broadcast("marker", {"account": account, **marker}, account=account)
        for name in PANELS_BY_TYPE.get(event.type, ()):
            self.refresher.mark(name, account)

    def _service_changed(self, name: str, state: dict) -> None:
        self.hub.broadcast("services", self.monitor.status())
        if name == "redis" and state["ok"]:
            self._reload_heartbeats()
        if state["ok"]:
            self.hub.broadcast("resync", {"reason": f"{name} answers again"})

    def _reload_heartbeats(self) -> None:
        try:
            self.board.load_recent(self.redis, self.settings.redis.prefix)
        except redis.RedisError as error:
            logger.warning("Dashboard: heartbeats not read back from Redis: %s", error)


def _redis_client(settings: Settings) -> redis.Redis:
    rd = settings.redis
    return redis.Redis(
        host=rd.host,
        port=rd.port,
        db=rd.db,
        password=rd.password.reveal() or None,
        ssl=rd.ssl,
        socket_timeout=2.0,
        socket_connect_timeout=2.0,
    )


def _epoch(text: str) -> float:
    return parse_time(text).timestamp()


def _candle(account: int | None, data: dict) -> dict:
    candle = {key: data.get(key) for key in ("symbol", "timeframe", "open", "high", "low", "close")}
    return {"account": account, **candle, "time": int(_epoch(data["time"]))}


def _equity_point(account: int | None, data: dict) -> dict:
    return {
        "account": account,
        "time": _epoch(data["time"]),
        "balance": data.get("balance"),
        "equity": data.get("equity"),
    }


def _marker(kind: str, data: dict) -> dict | None:
    """The chart marker of a fill (a buy or sell deal) or a signal; None for other deals."""
    if "time" not in data or "symbol" not in data:
        return None
    if kind == "signal":
        return {
            "kind": "signal",
            "symbol": data["symbol"],
            "timeframe": data.get("timeframe"),
            "time": _epoch(data["time"]),
            "side": data.get("side"),
            "strategy": data.get("strategy"),
            "price": data.get("price"),
        }
    if data.get("type") not in (0, 1):
        return None
    entry = DEAL_ENTRIES.get(data.get("entry"), "")
    return {
        "kind": "fill",
        "symbol": data["symbol"],
        "time": _epoch(data["time"]),
        "side": "buy" if data["type"] == 0 else "sell",
        "volume": data.get("volume"),
        "price": data.get("price"),
        "entry": entry,
        "ticket": data.get("ticket"),
    }
