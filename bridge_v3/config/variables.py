"""Every environment variable the bridge reads: where it goes, how it is parsed, an example.

Defaults are not repeated here: a variable that is unset or empty leaves the field of
its settings group (``bridge_v3/config/settings.py``) at the dataclass default.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from bridge_v3.config.constants import Backend, TradingMode
from bridge_v3.config.parsers import (
    parse_bool,
    parse_choice,
    parse_enum,
    parse_float,
    parse_host,
    parse_int,
    parse_port,
    parse_secret,
    parse_symbols,
    parse_text,
    parse_timeframes,
    parse_token,
    parse_zone,
)

_DAY = 86_400.0
_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
_NAME = r"[A-Za-z0-9_.-]{1,64}"
_PREFIX = r"[A-Za-z0-9_.-]+(:[A-Za-z0-9_.-]+)*"


def parse_account(raw: str) -> int | None:
    """An MT5 login; 0 means "not set", as it did in V2 (``MT5_ACCOUNT=0``)."""
    return parse_int(raw, 0, 2**63 - 1) or None


def _interval(raw: str) -> float:
    return parse_float(raw, 0.0, _DAY, low_open=True)


def _percent(raw: str) -> float:
    return parse_float(raw, 0.0, 100.0, low_open=True)


@dataclass(frozen=True)
class Variable:
    """One environment variable: ``Settings.<group>.<field>`` (group "" = top level)."""

    name: str
    group: str
    field: str
    parse: Callable[[str], object]
    example: str
    secret: bool = False


def _var(name: str, group: str, field: str, parse, example: str) -> Variable:
    return Variable(name, group, field, parse, example)


VARIABLES: tuple[Variable, ...] = (
    _var("MT5_ACCOUNT", "mt5", "account", parse_account, "12345678"),
    Variable("MT5_PASSWORD", "mt5", "password", parse_secret, "", secret=True),
    _var("MT5_SERVER", "mt5", "server", parse_text, "MetaQuotes-Demo"),
    _var("MT5_BACKEND", "mt5", "backend", partial(parse_enum, kind=Backend), "simulator"),
    _var(
        "MT5_PATH",
        "mt5",
        "path",
        partial(parse_text, max_length=1024),
        r"C:\Program Files\MetaTrader 5\terminal64.exe",
    ),
    _var("MT5_REMOTE_HOST", "mt5", "remote_host", parse_host, "127.0.0.1"),
    _var("MT5_REMOTE_PORT", "mt5", "remote_port", parse_port, "18812"),
    _var("MT5_SERVER_TIMEZONE", "mt5", "server_timezone", parse_zone, "Europe/Athens"),
    _var(
        "MT5_TIMEOUT_MS", "mt5", "timeout_ms", partial(parse_int, low=1000, high=3_600_000), "60000"
    ),
    _var("SIM_SEED", "simulator", "seed", partial(parse_int, low=0, high=2**63 - 1), "42"),
    _var(
        "SIM_SPEED",
        "simulator",
        "speed",
        partial(parse_float, low=0.0, high=1_000_000.0, low_open=True),
        "60",
    ),
    _var(
        "SIM_SERVER_TIMEZONE",
        "simulator",
        "server_timezone",
        partial(parse_zone, allow_auto=False, allow_shift=False),
        "Europe/Athens",
    ),
    _var(
        "SIM_STATE_FILE",
        "simulator",
        "state_file",
        partial(parse_text, max_length=1024),
        "spool/simulator.json",
    ),
    _var(
        "SIM_BALANCE",
        "simulator",
        "balance",
        partial(parse_float, low=0.0, high=1e12, low_open=True),
        "10000",
    ),
    _var("POSTGRES_HOST", "postgres", "host", partial(parse_host, socket_dir=True), "192.168.1.20"),
    _var("POSTGRES_PORT", "postgres", "port", parse_port, "5432"),
    _var("POSTGRES_DB", "postgres", "db", partial(parse_text, max_length=63), "mt5_bridge"),
    _var("POSTGRES_USER", "postgres", "user", partial(parse_text, max_length=63), "bridge"),
    Variable("POSTGRES_PASSWORD", "postgres", "password", parse_secret, "", secret=True),
    _var("POSTGRES_POOL_MIN", "postgres", "pool_min", partial(parse_int, low=1, high=100), "1"),
    _var("POSTGRES_POOL_MAX", "postgres", "pool_max", partial(parse_int, low=1, high=1000), "10"),
    _var(
        "POSTGRES_SSLMODE",
        "postgres",
        "sslmode",
        partial(parse_choice, options=_SSLMODES),
        "require",
    ),
    _var("REDIS_HOST", "redis", "host", parse_host, "192.168.1.20"),
    _var("REDIS_PORT", "redis", "port", parse_port, "6379"),
    Variable("REDIS_PASSWORD", "redis", "password", parse_secret, "", secret=True),
    _var("REDIS_DB", "redis", "db", partial(parse_int, low=0, high=1023), "0"),
    _var("REDIS_SSL", "redis", "ssl", parse_bool, "true"),
    _var(
        "REDIS_PREFIX",
        "redis",
        "prefix",
        partial(parse_token, pattern=_PREFIX, what="letters, digits, _ . - (parts joined by :)"),
        "mt5",
    ),
    _var(
        "REDIS_STREAM_MAXLEN",
        "redis",
        "stream_maxlen",
        partial(parse_int, low=1, high=1_000_000_000),
        "100000",
    ),
    _var("REDIS_LAST_TTL", "redis", "last_ttl", partial(parse_int, low=1, high=31_536_000), "3600"),
    _var("FOREX_PAIRS", "market", "forex_pairs", parse_symbols, "EURUSD,GBPUSD,USDJPY"),
    _var("FOREX_TIMEFRAME", "market", "forex_timeframes", parse_timeframes, "M15,H1"),
    _var("CRYPTO_ENABLED", "market", "crypto_enabled", parse_bool, "true"),
    _var("CRYPTO_PAIRS", "market", "crypto_pairs", parse_symbols, "BTCUSD,ETHUSD"),
    _var("CRYPTO_TIMEFRAME", "market", "crypto_timeframes", parse_timeframes, "15"),
    _var("TICK_SYMBOLS", "market", "tick_symbols", parse_symbols, "EURUSD"),
    _var(
        "INITIAL_HISTORY_DAYS",
        "market",
        "initial_history_days",
        partial(parse_int, low=1, high=3650),
        "30",
    ),
    _var("MAX_DAILY_LOSS_PCT", "risk", "max_daily_loss_pct", _percent, "5"),
    _var("RISK_PER_TRADE", "risk", "risk_per_trade", _percent, "1"),
    _var(
        "MAX_SIMULTANEOUS_TRADES",
        "risk",
        "max_simultaneous_trades",
        partial(parse_int, low=1, high=1000),
        "5",
    ),
    _var("TRADING_MODE", "risk", "trading_mode", partial(parse_enum, kind=TradingMode), "safety"),
    _var("MAX_WORKERS", "worker", "max_workers", partial(parse_int, low=1, high=64), "4"),
    _var("WORKER_TIMEOUT", "worker", "worker_timeout", _interval, "60"),
    _var("PRICE_FETCH_INTERVAL", "worker", "price_fetch_interval", _interval, "10"),
    _var("METRICS_SYNC_INTERVAL", "worker", "metrics_sync_interval", _interval, "30"),
    _var("TRADES_SYNC_INTERVAL", "worker", "trades_sync_interval", _interval, "15"),
    _var("HEARTBEAT_INTERVAL", "worker", "heartbeat_interval", _interval, "10"),
    _var("STATS_INTERVAL", "worker", "stats_interval", _interval, "60"),
    _var(
        "LOG_FILE",
        "logging",
        "file",
        partial(parse_text, max_length=1024),
        "logs/mt5_bridge_v3.log",
    ),
    _var(
        "LOG_LEVEL",
        "logging",
        "level",
        partial(parse_choice, options=_LEVELS, aliases={"WARN": "WARNING"}),
        "INFO",
    ),
    _var(
        "LOG_FORMAT", "logging", "format", partial(parse_choice, options=("text", "json")), "json"
    ),
    _var(
        "LOG_MAX_BYTES",
        "logging",
        "max_bytes",
        partial(parse_int, low=1024),
        "10485760",
    ),
    _var("LOG_BACKUP_COUNT", "logging", "backup_count", partial(parse_int, low=1, high=1000), "5"),
    _var(
        "BRIDGE_ID",
        "",
        "bridge_id",
        partial(parse_token, pattern=_NAME, what="up to 64 letters, digits, _ . -"),
        "vps-athens-1",
    ),
    _var(
        "SPOOL_PATH", "", "spool_path", partial(parse_text, max_length=1024), "spool/outbox.sqlite3"
    ),
)

VARIABLES_BY_NAME: dict[str, Variable] = {var.name: var for var in VARIABLES}
