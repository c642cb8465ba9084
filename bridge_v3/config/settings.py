"""The shape of the bridge's settings: frozen, typed, one group per part.

``bridge_v3.config.loader.load_settings`` builds a ``Settings`` from the environment and
``.env`` once at start-up and validates every value. Secrets are ``Secret`` instances, so
no repr of these objects ever shows a password.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from bridge_v3.config.constants import TIMEFRAMES, Backend, Timeframe, TradingMode
from bridge_v3.config.secret import Secret


@dataclass(frozen=True)
class MT5Settings:
    backend: Backend = Backend.AUTO
    account: int | None = None  # MT5_ACCOUNT; None = use whatever the terminal is logged in to
    password: Secret = field(default_factory=lambda: Secret(""))
    server: str = ""
    path: str = ""  # terminal64.exe; empty = let the package find it
    remote_host: str = "127.0.0.1"
    remote_port: int = 18812
    server_timezone: str = "auto"  # IANA zone, "ZONE+H" (e.g. America/New_York+7), or auto
    timeout_ms: int = 60000


@dataclass(frozen=True)
class SimulatorSettings:
    """Used only when the simulated terminal runs in-process (MT5_BACKEND=simulator)."""

    seed: int = 0
    speed: float = 1.0
    server_timezone: str = "Europe/Athens"  # the simulated broker's own clock
    state_file: str = ""
    balance: float = 10000.0
    host_clock_skew: float = 0.0  # seconds the bridge's clock runs ahead of the broker's


@dataclass(frozen=True)
class PostgresSettings:
    host: str = "127.0.0.1"
    port: int = 5432
    db: str = "mt5_bridge"
    user: str = "postgres"
    password: Secret = field(default_factory=lambda: Secret(""))
    pool_min: int = 1
    pool_max: int = 10
    sslmode: str = "prefer"

    def connect_params(self) -> dict:
        """Keyword arguments for psycopg2 (password revealed: never log this dict)."""
        params = {
            "host": self.host,
            "port": self.port,
            "dbname": self.db,
            "user": self.user,
            "sslmode": self.sslmode,
        }
        if self.password:
            params["password"] = self.password.reveal()
        return params


@dataclass(frozen=True)
class RedisSettings:
    host: str = "127.0.0.1"
    port: int = 6379
    password: Secret = field(default_factory=lambda: Secret(""))
    db: int = 0
    ssl: bool = False
    prefix: str = "mt5"
    stream_maxlen: int = 100000
    last_ttl: int = 3600  # seconds the mt5:last:* keys live


_M15 = (TIMEFRAMES["M15"],)  # V2's default for both forex and crypto


@dataclass(frozen=True)
class MarketSettings:
    forex_pairs: tuple[str, ...] = ("EURUSD", "GBPUSD", "USDJPY")
    forex_timeframes: tuple[Timeframe, ...] = _M15
    crypto_enabled: bool = False
    crypto_pairs: tuple[str, ...] = ("BTCUSD", "ETHUSD")
    crypto_timeframes: tuple[Timeframe, ...] = _M15
    tick_symbols: tuple[str, ...] = ()
    initial_history_days: int = 3  # history fetched for a (symbol, timeframe) seen first time
    trades_history_days: int = 30  # deals and orders read back on a first start


@dataclass(frozen=True)
class RiskSettings:
    max_daily_loss_pct: float = 5.0
    reducing_at_pct: float = 80.0  # REDUCING from this share (%) of the daily loss limit
    min_margin_level: float = 200.0  # REDUCING below this margin level (%); 0 = off
    confirm_samples: int = 2  # consecutive readings that must agree before the state moves
    risk_per_trade: float = 1.0
    max_simultaneous_trades: int = 5
    max_forex_positions: int | None = None  # None = no separate limit
    max_crypto_positions: int | None = None
    trading_mode: TradingMode = TradingMode.SAFETY


@dataclass(frozen=True)
class TradingSettings:
    """Strategies and how their orders are sent (``TRADING_MODE`` is in ``RiskSettings``)."""

    strategies: tuple[str, ...] = ()  # built-in names or package.module:Class paths
    strategies_file: str = ""  # optional TOML: one [name] section of settings per strategy
    order_retries: int = 3  # resends after a requote / price change / off quotes
    price_tolerance_pct: float = 0.1  # how far (% of the signal's price) an entry may drift
    order_deviation: int = 20  # points of slippage a market order accepts


@dataclass(frozen=True)
class WorkerSettings:
    max_workers: int = 4
    worker_timeout: float = 60.0
    price_fetch_interval: float = 10.0
    metrics_sync_interval: float = 30.0
    trades_sync_interval: float = 15.0
    risk_check_interval: float = 5.0
    heartbeat_interval: float = 10.0
    stats_interval: float = 60.0


@dataclass(frozen=True)
class LoggingSettings:
    file: str = "mt5_bridge_v3.log"
    level: str = "INFO"
    format: str = "text"  # text | json
    max_bytes: int = 10 * 1024 * 1024
    backup_count: int = 5


@dataclass(frozen=True)
class DashboardSettings:
    """The Linux-side web dashboard (``python -m bridge_v3.dashboard``)."""

    host: str = "127.0.0.1"  # anything beyond loopback is logged as a WARNING
    port: int = 8050
    user: str = "bridge"  # basic-auth user name, used only when a password is set
    password: Secret = field(default_factory=lambda: Secret(""))  # empty: no authentication


@dataclass(frozen=True)
class OperationsSettings:
    """Health and metrics endpoint, circuit breakers, signed remote control, notifications."""

    metrics_host: str = "127.0.0.1"  # anything beyond loopback is logged as a WARNING
    metrics_port: int = 9464  # 0: no endpoint
    breaker_failures: int = 5  # consecutive failures that open a dependency's breaker
    breaker_cooldown: float = 30.0  # seconds an open breaker waits before one probe
    control_secret: Secret = field(default_factory=lambda: Secret(""))  # empty: control off
    control_max_age: float = 30.0  # seconds a signed command stays valid
    notify_urls: Secret = field(default_factory=lambda: Secret(""))  # webhook URLs hold tokens
    notify_down_after: float = 60.0  # seconds a dependency is down before it is notified


@dataclass(frozen=True)
class Settings:
    mt5: MT5Settings = field(default_factory=MT5Settings)
    simulator: SimulatorSettings = field(default_factory=SimulatorSettings)
    postgres: PostgresSettings = field(default_factory=PostgresSettings)
    redis: RedisSettings = field(default_factory=RedisSettings)
    market: MarketSettings = field(default_factory=MarketSettings)
    risk: RiskSettings = field(default_factory=RiskSettings)
    trading: TradingSettings = field(default_factory=TradingSettings)
    worker: WorkerSettings = field(default_factory=WorkerSettings)
    logging: LoggingSettings = field(default_factory=LoggingSettings)
    dashboard: DashboardSettings = field(default_factory=DashboardSettings)
    operations: OperationsSettings = field(default_factory=OperationsSettings)
    bridge_id: str = ""  # BRIDGE_ID; empty = hostname
    spool_path: str = "spool/outbox.sqlite3"

    def secrets(self) -> list[str]:
        """Every secret value, so the log filter can mask them wherever they appear."""
        values = (
            self.mt5.password,
            self.postgres.password,
            self.redis.password,
            self.dashboard.password,
            self.operations.control_secret,
        )
        secrets = [s.reveal() for s in values if s]
        # Webhook URLs carry their token in the path or query (Slack, Discord, Telegram).
        for url in filter(None, self.operations.notify_urls.reveal().split(",")):
            parts = urlsplit(url)
            tail = parts.path + (f"?{parts.query}" if parts.query else "")
            secrets += [url] + ([tail] if len(tail) >= 8 else [])
        return secrets
