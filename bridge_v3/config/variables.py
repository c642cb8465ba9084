"""Every environment variable the bridge reads: where it goes, how it is parsed, an example.

Defaults are not repeated here: a variable that is unset or empty leaves the field of
its settings group (``bridge_v3/config/settings.py``) at the dataclass default.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from urllib.parse import urlsplit

from bridge_v3.config.constants import Backend, TradingMode
from bridge_v3.config.parsers import (
    InvalidValue,
    parse_bool,
    parse_choice,
    parse_enum,
    parse_float,
    parse_host,
    parse_int,
    parse_port,
    parse_secret,
    parse_strategies,
    parse_symbols,
    parse_text,
    parse_timeframes,
    parse_token,
    parse_zone,
)
from bridge_v3.config.secret import Secret

_DAY = 86_400.0
MIN_SECRET_LENGTH = 16
_FORCED_FORM = re.compile(r"^(json|slack|discord|telegram)\+", re.IGNORECASE)
_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
_NAME = r"[A-Za-z0-9_.-]{1,64}"
_PREFIX = r"[A-Za-z0-9_.-]+(:[A-Za-z0-9_.-]+)*"


def parse_account(raw: str) -> int | None:
    """An MT5 login; 0 means "not set", as it did in V2 (``MT5_ACCOUNT=0``)."""
    return parse_int(raw, 0, 2**63 - 1) or None


def _optional_limit(raw: str) -> int | None:
    """A count limit; 0 means "no separate limit"."""
    return parse_int(raw, 0, 1000) or None


def _interval(raw: str) -> float:
    return parse_float(raw, 0.0, _DAY, low_open=True)


def _percent(raw: str) -> float:
    return parse_float(raw, 0.0, 100.0, low_open=True)


def _control_secret(raw: str) -> Secret:
    """The HMAC key of remote control: long enough not to be guessed. Never echoed."""
    secret = parse_secret(raw)
    if len(raw) < MIN_SECRET_LENGTH:
        raise InvalidValue(
            f"must be at least {MIN_SECRET_LENGTH} characters (value not shown); make one with "
            'python -c "import secrets; print(secrets.token_hex(32))"'
        )
    return secret


def _notify_urls(raw: str) -> Secret:
    """A comma list of http(s) URLs. They carry tokens: a message names an item by its
    position and never shows it."""
    urls = [item.strip() for item in raw.split(",") if item.strip()]
    for number, url in enumerate(urls, start=1):
        parts = urlsplit(url.split("+", 1)[1] if _FORCED_FORM.match(url) else url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidValue(
                f"item {number} is not an http:// or https:// URL (value not shown); give "
                "webhook URLs separated by commas"
            )
    return Secret(",".join(urls))


@dataclass(frozen=True)
class Variable:
    """One environment variable: ``Settings.<group>.<field>`` (group "" = top level)."""

    name: str
    group: str
    field: str
    parse: Callable[[str], object]
    example: str
    secret: bool = False


VARIABLES: tuple[Variable, ...] = (
    Variable("MT5_ACCOUNT", "mt5", "account", parse_account, "12345678"),
    Variable("MT5_PASSWORD", "mt5", "password", parse_secret, "", secret=True),
    Variable("MT5_SERVER", "mt5", "server", parse_text, "MetaQuotes-Demo"),
    Variable("MT5_BACKEND", "mt5", "backend", partial(parse_enum, kind=Backend), "simulator"),
    Variable(
        "MT5_PATH",
        "mt5",
        "path",
        partial(parse_text, max_length=1024),
        r"C:\Program Files\MetaTrader 5\terminal64.exe",
    ),
    Variable("MT5_REMOTE_HOST", "mt5", "remote_host", parse_host, "127.0.0.1"),
    Variable("MT5_REMOTE_PORT", "mt5", "remote_port", parse_port, "18812"),
    Variable("MT5_SERVER_TIMEZONE", "mt5", "server_timezone", parse_zone, "Europe/Athens"),
    Variable(
        "MT5_TIMEOUT_MS", "mt5", "timeout_ms", partial(parse_int, low=1000, high=3_600_000), "60000"
    ),
    Variable("SIM_SEED", "simulator", "seed", partial(parse_int, low=0, high=2**63 - 1), "42"),
    Variable(
        "SIM_SPEED",
        "simulator",
        "speed",
        partial(parse_float, low=0.0, high=1_000_000.0, low_open=True),
        "60",
    ),
    Variable(
        "SIM_SERVER_TIMEZONE",
        "simulator",
        "server_timezone",
        partial(parse_zone, allow_auto=False),
        "Europe/Athens",
    ),
    Variable(
        "SIM_STATE_FILE",
        "simulator",
        "state_file",
        partial(parse_text, max_length=1024),
        "spool/simulator.json",
    ),
    Variable(
        "SIM_BALANCE",
        "simulator",
        "balance",
        partial(parse_float, low=0.0, high=1e12, low_open=True),
        "10000",
    ),
    Variable(
        "SIM_HOST_CLOCK_SKEW",
        "simulator",
        "host_clock_skew",
        partial(parse_float, low=-3600.0, high=3600.0),
        "-3.5",
    ),
    Variable(
        "POSTGRES_HOST", "postgres", "host", partial(parse_host, socket_dir=True), "192.168.1.20"
    ),
    Variable("POSTGRES_PORT", "postgres", "port", parse_port, "5432"),
    Variable("POSTGRES_DB", "postgres", "db", partial(parse_text, max_length=63), "mt5_bridge"),
    Variable("POSTGRES_USER", "postgres", "user", partial(parse_text, max_length=63), "bridge"),
    Variable("POSTGRES_PASSWORD", "postgres", "password", parse_secret, "", secret=True),
    Variable("POSTGRES_POOL_MIN", "postgres", "pool_min", partial(parse_int, low=1, high=100), "1"),
    Variable(
        "POSTGRES_POOL_MAX", "postgres", "pool_max", partial(parse_int, low=1, high=1000), "10"
    ),
    Variable(
        "POSTGRES_SSLMODE",
        "postgres",
        "sslmode",
        partial(parse_choice, options=_SSLMODES),
        "require",
    ),
    Variable("REDIS_HOST", "redis", "host", parse_host, "192.168.1.20"),
    Variable("REDIS_PORT", "redis", "port", parse_port, "6379"),
    Variable("REDIS_PASSWORD", "redis", "password", parse_secret, "", secret=True),
    Variable("REDIS_DB", "redis", "db", partial(parse_int, low=0, high=1023), "0"),
    Variable("REDIS_SSL", "redis", "ssl", parse_bool, "true"),
    Variable(
        "REDIS_PREFIX",
        "redis",
        "prefix",
        partial(parse_token, pattern=_PREFIX, what="letters, digits, _ . - (parts joined by :)"),
        "mt5",
    ),
    Variable(
        "REDIS_STREAM_MAXLEN",
        "redis",
        "stream_maxlen",
        partial(parse_int, low=1, high=1_000_000_000),
        "100000",
    ),
    Variable(
        "REDIS_LAST_TTL", "redis", "last_ttl", partial(parse_int, low=1, high=31_536_000), "3600"
    ),
    Variable("FOREX_PAIRS", "market", "forex_pairs", parse_symbols, "EURUSD,GBPUSD,USDJPY"),
    Variable("FOREX_TIMEFRAME", "market", "forex_timeframes", parse_timeframes, "M15,H1"),
    Variable("CRYPTO_ENABLED", "market", "crypto_enabled", parse_bool, "true"),
    Variable("CRYPTO_PAIRS", "market", "crypto_pairs", parse_symbols, "BTCUSD,ETHUSD"),
    Variable("CRYPTO_TIMEFRAME", "market", "crypto_timeframes", parse_timeframes, "15"),
    Variable("TICK_SYMBOLS", "market", "tick_symbols", parse_symbols, "EURUSD"),
    Variable(
        "INITIAL_HISTORY_DAYS",
        "market",
        "initial_history_days",
        partial(parse_int, low=1, high=3650),
        "30",
    ),
    Variable(
        "TRADES_HISTORY_DAYS",
        "market",
        "trades_history_days",
        partial(parse_int, low=1, high=3650),
        "90",
    ),
    Variable("MAX_DAILY_LOSS_PCT", "risk", "max_daily_loss_pct", _percent, "5"),
    Variable("RISK_REDUCING_AT_PCT", "risk", "reducing_at_pct", _percent, "80"),
    Variable(
        "MIN_MARGIN_LEVEL",
        "risk",
        "min_margin_level",
        partial(parse_float, low=0.0, high=100_000.0),
        "200",
    ),
    Variable(
        "RISK_CONFIRM_SAMPLES", "risk", "confirm_samples", partial(parse_int, low=1, high=100), "2"
    ),
    Variable("RISK_PER_TRADE", "risk", "risk_per_trade", _percent, "1"),
    Variable(
        "MAX_SIMULTANEOUS_TRADES",
        "risk",
        "max_simultaneous_trades",
        partial(parse_int, low=1, high=1000),
        "5",
    ),
    Variable("MAX_FOREX_POSITIONS", "risk", "max_forex_positions", _optional_limit, "3"),
    Variable("MAX_CRYPTO_POSITIONS", "risk", "max_crypto_positions", _optional_limit, "2"),
    Variable(
        "TRADING_MODE", "risk", "trading_mode", partial(parse_enum, kind=TradingMode), "safety"
    ),
    Variable("STRATEGIES", "trading", "strategies", parse_strategies, "ma_cross,donchian"),
    Variable(
        "STRATEGIES_FILE",
        "trading",
        "strategies_file",
        partial(parse_text, max_length=1024),
        "strategies.toml",
    ),
    Variable("ORDER_RETRIES", "trading", "order_retries", partial(parse_int, low=0, high=10), "3"),
    Variable(
        "PRICE_TOLERANCE_PCT",
        "trading",
        "price_tolerance_pct",
        partial(parse_float, low=0.0, high=10.0, low_open=True),
        "0.1",
    ),
    Variable(
        "ORDER_DEVIATION",
        "trading",
        "order_deviation",
        partial(parse_int, low=0, high=10_000),
        "20",
    ),
    Variable("MAX_WORKERS", "worker", "max_workers", partial(parse_int, low=1, high=64), "4"),
    Variable("WORKER_TIMEOUT", "worker", "worker_timeout", _interval, "60"),
    Variable("PRICE_FETCH_INTERVAL", "worker", "price_fetch_interval", _interval, "10"),
    Variable("METRICS_SYNC_INTERVAL", "worker", "metrics_sync_interval", _interval, "30"),
    Variable("TRADES_SYNC_INTERVAL", "worker", "trades_sync_interval", _interval, "15"),
    Variable("RISK_CHECK_INTERVAL", "worker", "risk_check_interval", _interval, "5"),
    Variable("HEARTBEAT_INTERVAL", "worker", "heartbeat_interval", _interval, "10"),
    Variable("STATS_INTERVAL", "worker", "stats_interval", _interval, "60"),
    Variable(
        "LOG_FILE",
        "logging",
        "file",
        partial(parse_text, max_length=1024),
        "logs/mt5_bridge_v3.log",
    ),
    Variable(
        "LOG_LEVEL",
        "logging",
        "level",
        partial(parse_choice, options=_LEVELS, aliases={"WARN": "WARNING"}),
        "INFO",
    ),
    Variable(
        "LOG_FORMAT", "logging", "format", partial(parse_choice, options=("text", "json")), "json"
    ),
    Variable(
        "LOG_MAX_BYTES",
        "logging",
        "max_bytes",
        partial(parse_int, low=1024),
        "10485760",
    ),
    Variable(
        "LOG_BACKUP_COUNT", "logging", "backup_count", partial(parse_int, low=1, high=1000), "5"
    ),
    Variable("DASHBOARD_HOST", "dashboard", "host", parse_host, "127.0.0.1"),
    Variable("DASHBOARD_PORT", "dashboard", "port", parse_port, "8050"),
    Variable(
        "DASHBOARD_USER",
        "dashboard",
        "user",
        partial(parse_token, pattern=_NAME, what="up to 64 letters, digits, _ . -"),
        "alice",
    ),
    Variable("DASHBOARD_PASSWORD", "dashboard", "password", parse_secret, "", secret=True),
    Variable(
        "BRIDGE_ID",
        "",
        "bridge_id",
        partial(parse_token, pattern=_NAME, what="up to 64 letters, digits, _ . -"),
        "vps-athens-1",
    ),
    Variable(
        "SPOOL_PATH", "", "spool_path", partial(parse_text, max_length=1024), "spool/outbox.sqlite3"
    ),
    Variable("METRICS_HOST", "operations", "metrics_host", parse_host, "127.0.0.1"),
    Variable(
        "METRICS_PORT", "operations", "metrics_port", partial(parse_int, low=0, high=65535), "9464"
    ),
    Variable(
        "BREAKER_FAILURES",
        "operations",
        "breaker_failures",
        partial(parse_int, low=1, high=1000),
        "5",
    ),
    Variable("BREAKER_COOLDOWN", "operations", "breaker_cooldown", _interval, "30"),
    Variable("CONTROL_SECRET", "operations", "control_secret", _control_secret, "", secret=True),
    Variable(
        "CONTROL_MAX_AGE",
        "operations",
        "control_max_age",
        partial(parse_float, low=1.0, high=3600.0),
        "30",
    ),
    Variable("NOTIFY_URLS", "operations", "notify_urls", _notify_urls, "", secret=True),
    Variable("NOTIFY_DOWN_AFTER", "operations", "notify_down_after", _interval, "60"),
)

VARIABLES_BY_NAME: dict[str, Variable] = {var.name: var for var in VARIABLES}
