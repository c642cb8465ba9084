"""load_settings: every variable good and bad, defaults, precedence, secrets never shown."""

from __future__ import annotations

import os

import pytest

from bridge_v3.config.constants import TIMEFRAMES, Backend, TradingMode
from bridge_v3.config.loader import ConfigErrors, load_settings
from bridge_v3.config.secret import Secret
from bridge_v3.config.settings import Settings
from bridge_v3.config.variables import VARIABLES, VARIABLES_BY_NAME
from bridge_v3.exceptions import ConfigError

TF = TIMEFRAMES
ALL_NAMES = {var.name for var in VARIABLES}


def load(**env: str) -> Settings:
    return load_settings(env, env_file=None)


def field(settings: Settings, path: str):
    value = settings
    for part in path.split("."):
        value = getattr(value, part)
    return value


# (variable, raw value, settings path, expected value): at least one row per variable.
GOOD = [
    ("MT5_ACCOUNT", "12345678", "mt5.account", 12345678),
    ("MT5_ACCOUNT", "0", "mt5.account", None),
    ("MT5_PASSWORD", " pa ss#1 ", "mt5.password", Secret(" pa ss#1 ")),
    ("MT5_SERVER", "MetaQuotes-Demo", "mt5.server", "MetaQuotes-Demo"),
    ("MT5_BACKEND", "Simulator", "mt5.backend", Backend.SIMULATOR),
    ("MT5_BACKEND", "remote", "mt5.backend", Backend.REMOTE),
    (
        "MT5_PATH",
        r"C:\Program Files\MT5\terminal64.exe",
        "mt5.path",
        r"C:\Program Files\MT5\terminal64.exe",
    ),
    ("MT5_REMOTE_HOST", "wine-box.local", "mt5.remote_host", "wine-box.local"),
    ("MT5_REMOTE_PORT", "18813", "mt5.remote_port", 18813),
    ("MT5_SERVER_TIMEZONE", "Europe/Athens", "mt5.server_timezone", "Europe/Athens"),
    ("MT5_TIMEOUT_MS", "30000", "mt5.timeout_ms", 30000),
    ("SIM_SEED", "42", "simulator.seed", 42),
    ("SIM_SPEED", "60", "simulator.speed", 60.0),
    ("SIM_SPEED", "0.5", "simulator.speed", 0.5),
    ("SIM_SERVER_TIMEZONE", "Asia/Tokyo", "simulator.server_timezone", "Asia/Tokyo"),
    ("SIM_STATE_FILE", "spool/sim.json", "simulator.state_file", "spool/sim.json"),
    ("SIM_BALANCE", "2500.50", "simulator.balance", 2500.5),
    ("SIM_HOST_CLOCK_SKEW", "-3.5", "simulator.host_clock_skew", -3.5),
    (
        "SIM_SERVER_TIMEZONE",
        "America/New_York+7",
        "simulator.server_timezone",
        "America/New_York+7",
    ),
    ("POSTGRES_HOST", "db.example.com", "postgres.host", "db.example.com"),
    ("POSTGRES_HOST", "/var/run/postgresql", "postgres.host", "/var/run/postgresql"),
    ("POSTGRES_HOST", "::1", "postgres.host", "::1"),
    ("POSTGRES_PORT", "5433", "postgres.port", 5433),
    ("POSTGRES_DB", "trading_db", "postgres.db", "trading_db"),
    ("POSTGRES_USER", "trading_user", "postgres.user", "trading_user"),
    ("POSTGRES_PASSWORD", "s3cret", "postgres.password", Secret("s3cret")),
    ("POSTGRES_POOL_MIN", "2", "postgres.pool_min", 2),
    ("POSTGRES_POOL_MAX", "20", "postgres.pool_max", 20),
    ("POSTGRES_SSLMODE", "REQUIRE", "postgres.sslmode", "require"),
    ("REDIS_HOST", "10.0.0.7", "redis.host", "10.0.0.7"),
    ("REDIS_PORT", "6380", "redis.port", 6380),
    ("REDIS_PASSWORD", "r3dis", "redis.password", Secret("r3dis")),
    ("REDIS_DB", "3", "redis.db", 3),
    ("REDIS_SSL", "yes", "redis.ssl", True),
    ("REDIS_PREFIX", "desk1:mt5", "redis.prefix", "desk1:mt5"),
    ("REDIS_STREAM_MAXLEN", "5000", "redis.stream_maxlen", 5000),
    ("REDIS_LAST_TTL", "120", "redis.last_ttl", 120),
    ("FOREX_PAIRS", " EURUSDm , GBPUSD,EURUSDm,", "market.forex_pairs", ("EURUSDm", "GBPUSD")),
    ("FOREX_PAIRS", "EURUSD.m,XAUUSD#", "market.forex_pairs", ("EURUSD.m", "XAUUSD#")),
    ("FOREX_TIMEFRAME", "H1", "market.forex_timeframes", (TF["H1"],)),
    ("CRYPTO_ENABLED", "TRUE", "market.crypto_enabled", True),
    ("CRYPTO_PAIRS", "BTCUSD,ETHUSD,LTCUSD", "market.crypto_pairs", ("BTCUSD", "ETHUSD", "LTCUSD")),
    ("CRYPTO_TIMEFRAME", "15", "market.crypto_timeframes", (TF["M15"],)),
    ("TICK_SYMBOLS", "EURUSD", "market.tick_symbols", ("EURUSD",)),
    ("INITIAL_HISTORY_DAYS", "30", "market.initial_history_days", 30),
    ("MAX_DAILY_LOSS_PCT", "10.0", "risk.max_daily_loss_pct", 10.0),
    ("MAX_DAILY_LOSS_PCT", "100", "risk.max_daily_loss_pct", 100.0),
    ("RISK_PER_TRADE", "2", "risk.risk_per_trade", 2.0),
    ("RISK_PER_TRADE", "0.25", "risk.risk_per_trade", 0.25),
    ("MAX_SIMULTANEOUS_TRADES", "3", "risk.max_simultaneous_trades", 3),
    ("MAX_FOREX_POSITIONS", "2", "risk.max_forex_positions", 2),
    ("MAX_FOREX_POSITIONS", "0", "risk.max_forex_positions", None),
    ("MAX_CRYPTO_POSITIONS", "1", "risk.max_crypto_positions", 1),
    ("RISK_REDUCING_AT_PCT", "75", "risk.reducing_at_pct", 75.0),
    ("MIN_MARGIN_LEVEL", "0", "risk.min_margin_level", 0.0),
    ("MIN_MARGIN_LEVEL", "150.5", "risk.min_margin_level", 150.5),
    ("RISK_CONFIRM_SAMPLES", "1", "risk.confirm_samples", 1),
    ("TRADES_HISTORY_DAYS", "90", "market.trades_history_days", 90),
    ("TRADING_MODE", "SAFETY", "risk.trading_mode", TradingMode.SAFETY),
    ("STRATEGIES", "ma_cross, donchian,ma_cross", "trading.strategies", ("ma_cross", "donchian")),
    ("STRATEGIES", "mine.strats:Breakout", "trading.strategies", ("mine.strats:Breakout",)),
    ("STRATEGIES_FILE", "conf/strategies.toml", "trading.strategies_file", "conf/strategies.toml"),
    ("ORDER_RETRIES", "0", "trading.order_retries", 0),
    ("PRICE_TOLERANCE_PCT", "0.25", "trading.price_tolerance_pct", 0.25),
    ("ORDER_DEVIATION", "50", "trading.order_deviation", 50),
    ("MAX_WORKERS", "64", "worker.max_workers", 64),
    ("WORKER_TIMEOUT", "300", "worker.worker_timeout", 300.0),
    ("PRICE_FETCH_INTERVAL", "60", "worker.price_fetch_interval", 60.0),
    ("PRICE_FETCH_INTERVAL", "0.5", "worker.price_fetch_interval", 0.5),
    ("METRICS_SYNC_INTERVAL", "60", "worker.metrics_sync_interval", 60.0),
    ("TRADES_SYNC_INTERVAL", "30", "worker.trades_sync_interval", 30.0),
    ("RISK_CHECK_INTERVAL", "2.5", "worker.risk_check_interval", 2.5),
    ("HEARTBEAT_INTERVAL", "5", "worker.heartbeat_interval", 5.0),
    ("STATS_INTERVAL", "120", "worker.stats_interval", 120.0),
    ("LOG_FILE", "logs/bridge.log", "logging.file", "logs/bridge.log"),
    ("LOG_LEVEL", "debug", "logging.level", "DEBUG"),
    ("LOG_LEVEL", "warn", "logging.level", "WARNING"),
    ("LOG_FORMAT", "JSON", "logging.format", "json"),
    ("LOG_MAX_BYTES", "1048576", "logging.max_bytes", 1048576),
    ("LOG_BACKUP_COUNT", "10", "logging.backup_count", 10),
    ("DASHBOARD_HOST", "0.0.0.0", "dashboard.host", "0.0.0.0"),
    ("DASHBOARD_PORT", "8051", "dashboard.port", 8051),
    ("DASHBOARD_USER", "alice", "dashboard.user", "alice"),
    ("DASHBOARD_PASSWORD", " s3cret ", "dashboard.password", Secret(" s3cret ")),
    ("BRIDGE_ID", "vps-athens-1", "bridge_id", "vps-athens-1"),
    ("SPOOL_PATH", "data/outbox.db", "spool_path", "data/outbox.db"),
    ("METRICS_HOST", "0.0.0.0", "operations.metrics_host", "0.0.0.0"),
    ("METRICS_PORT", "0", "operations.metrics_port", 0),
    ("BREAKER_FAILURES", "3", "operations.breaker_failures", 3),
    ("BREAKER_COOLDOWN", "12.5", "operations.breaker_cooldown", 12.5),
    ("CONTROL_SECRET", "k" * 16, "operations.control_secret", Secret("k" * 16)),
    ("CONTROL_MAX_AGE", "10", "operations.control_max_age", 10.0),
    (
        "NOTIFY_URLS",
        "https://hooks.slack.com/services/T/B/x , slack+http://127.0.0.1:9/hook",
        "operations.notify_urls",
        Secret("https://hooks.slack.com/services/T/B/x,slack+http://127.0.0.1:9/hook"),
    ),
    ("NOTIFY_DOWN_AFTER", "120", "operations.notify_down_after", 120.0),
]

# (variable, bad raw value, words the message must contain): one row or more per variable.
BAD = [
    ("MT5_ACCOUNT", "abc", ["whole number", "'abc'"]),
    ("MT5_ACCOUNT", "-5", ["whole number", "'-5'"]),
    ("MT5_PASSWORD", "line1\nline2", ["line breaks"]),
    ("MT5_SERVER", "Meta\tQuotes", ["control characters"]),
    ("MT5_BACKEND", "wine", ["auto, metatrader5, remote, simulator", "'wine'"]),
    ("MT5_PATH", "C:\\MT5\x00", ["control characters"]),
    ("MT5_REMOTE_HOST", "host name:18812", ["port"]),
    ("MT5_REMOTE_PORT", "0", ["1 to 65535", "'0'"]),
    ("MT5_SERVER_TIMEZONE", "Mars/Olympus", ["not a time zone", "IANA", "'Mars/Olympus'"]),
    ("MT5_TIMEOUT_MS", "10", ["from 1000 to 3600000", "'10'"]),
    ("SIM_SEED", "-1", ["whole number", "'-1'"]),
    ("SIM_SPEED", "0", ["greater than 0", "'0'"]),
    ("SIM_SERVER_TIMEZONE", "auto", ["not a time zone", "'auto'"]),
    ("SIM_STATE_FILE", "a\nb", ["control characters"]),
    ("SIM_BALANCE", "-100", ["greater than 0", "'-100'"]),
    ("SIM_HOST_CLOCK_SKEW", "7200", ["3600", "'7200'"]),
    ("POSTGRES_HOST", "localhost:5432", ["port", "'localhost:5432'"]),
    ("POSTGRES_PORT", "abc", ["whole number from 1 to 65535", "'abc'"]),
    ("POSTGRES_PORT", "70000", ["1 to 65535", "'70000'"]),
    ("POSTGRES_DB", "x" * 64, ["at most 63 characters"]),
    ("POSTGRES_USER", "bad\tuser", ["control characters"]),
    ("POSTGRES_PASSWORD", "nul\x00byte", ["NUL"]),
    ("POSTGRES_POOL_MIN", "0", ["from 1 to 100", "'0'"]),
    ("POSTGRES_POOL_MAX", "many", ["whole number", "'many'"]),
    ("POSTGRES_SSLMODE", "maybe", ["disable", "verify-full", "'maybe'"]),
    ("REDIS_HOST", "redis://localhost", ["not a URL"]),
    ("REDIS_PORT", "tcp://10.0.0.1:6379", ["1 to 65535", "container"]),
    ("REDIS_PASSWORD", "a\rb", ["line breaks"]),
    ("REDIS_DB", "1024", ["from 0 to 1023", "'1024'"]),
    ("REDIS_SSL", "maybe", ["true or false", "'maybe'"]),
    ("REDIS_PREFIX", "mt5 live", ["letters, digits", "'mt5 live'"]),
    ("REDIS_STREAM_MAXLEN", "0", ["whole number", "'0'"]),
    ("REDIS_LAST_TTL", "1.5", ["whole number", "'1.5'"]),
    ("FOREX_PAIRS", "EUR/USD", ["not a symbol name", "'EUR/USD'"]),
    ("FOREX_PAIRS", ",", ["lists no symbol"]),
    ("FOREX_PAIRS", "A" * 30, ["at most 29 characters"]),
    ("FOREX_TIMEFRAME", "M7", ["not a timeframe", "'M7'"]),
    ("CRYPTO_ENABLED", "enabled", ["true or false", "'enabled'"]),
    ("CRYPTO_PAIRS", "BTC USD", ["not a symbol name", "'BTC USD'"]),
    ("CRYPTO_TIMEFRAME", "7", ["not a timeframe", "'7'"]),
    ("TICK_SYMBOLS", "EUR,US$D", ["not a symbol name", "'US$D'"]),
    ("INITIAL_HISTORY_DAYS", "0", ["from 1 to 3650", "'0'"]),
    ("MAX_DAILY_LOSS_PCT", "0", ["greater than 0 and at most 100", "'0'"]),
    ("MAX_DAILY_LOSS_PCT", "150", ["at most 100", "'150'"]),
    ("MAX_DAILY_LOSS_PCT", "nan", ["number", "'nan'"]),
    ("RISK_PER_TRADE", "0,5", ["decimal separator", "'0,5'"]),
    ("MAX_SIMULTANEOUS_TRADES", "0", ["from 1 to 1000", "'0'"]),
    ("MAX_FOREX_POSITIONS", "-1", ["from 0 to 1000", "'-1'"]),
    ("MAX_CRYPTO_POSITIONS", "two", ["whole number", "'two'"]),
    ("RISK_REDUCING_AT_PCT", "0", ["greater than 0", "'0'"]),
    ("MIN_MARGIN_LEVEL", "-5", ["from 0 to 100000", "'-5'"]),
    ("RISK_CONFIRM_SAMPLES", "0", ["from 1 to 100", "'0'"]),
    ("TRADES_HISTORY_DAYS", "0", ["from 1 to 3650", "'0'"]),
    ("TRADING_MODE", "paper", ["safety, live", "'paper'"]),
    ("STRATEGIES", "MA Cross", ["built-in strategy name", "'MA Cross'"]),
    ("STRATEGIES", ",", ["lists no strategy"]),
    ("STRATEGIES_FILE", "a\tb.toml", ["control characters"]),
    ("ORDER_RETRIES", "11", ["from 0 to 10", "'11'"]),
    ("PRICE_TOLERANCE_PCT", "0", ["greater than 0", "'0'"]),
    ("ORDER_DEVIATION", "-1", ["whole number", "'-1'"]),
    ("MAX_WORKERS", "65", ["from 1 to 64", "'65'"]),
    ("MAX_WORKERS", "four", ["whole number", "'four'"]),
    ("WORKER_TIMEOUT", "-1", ["greater than 0", "'-1'"]),
    ("PRICE_FETCH_INTERVAL", "0", ["greater than 0", "'0'"]),
    ("METRICS_SYNC_INTERVAL", "1m", ["number", "'1m'"]),
    ("TRADES_SYNC_INTERVAL", "inf", ["number", "'inf'"]),
    ("RISK_CHECK_INTERVAL", "0", ["greater than 0", "'0'"]),
    ("HEARTBEAT_INTERVAL", "100000", ["at most 86400", "'100000'"]),
    ("STATS_INTERVAL", "soon", ["number", "'soon'"]),
    ("LOG_FILE", "bridge\n.log", ["control characters"]),
    ("LOG_LEVEL", "LOUD", ["DEBUG, INFO, WARNING, ERROR, CRITICAL", "'LOUD'"]),
    ("LOG_FORMAT", "xml", ["text, json", "'xml'"]),
    ("LOG_MAX_BYTES", "100", ["of at least 1024", "'100'"]),
    ("LOG_BACKUP_COUNT", "0", ["from 1 to 1000", "'0'"]),
    ("DASHBOARD_HOST", "http://0.0.0.0", ["not a URL"]),
    ("DASHBOARD_PORT", "80800", ["from 1 to 65535"]),
    ("DASHBOARD_USER", "al ice", ["letters, digits", "'al ice'"]),
    ("DASHBOARD_PASSWORD", "pa\nss", ["line breaks"]),
    ("BRIDGE_ID", "my bridge", ["letters, digits", "'my bridge'"]),
    ("SPOOL_PATH", "x" * 1025, ["at most 1024 characters"]),
    ("METRICS_HOST", "http://x:9464", ["not a URL"]),
    ("METRICS_PORT", "-1", ["from 0 to 65535"]),
    ("BREAKER_FAILURES", "0", ["from 1 to 1000"]),
    ("BREAKER_COOLDOWN", "0", ["greater than 0"]),
    ("CONTROL_SECRET", "short-key", ["at least 16 characters", "value not shown"]),
    ("CONTROL_MAX_AGE", "0.5", ["from 1 to 3600"]),
    ("NOTIFY_URLS", "https://ok.example/a,ftp://tok3n@x/y", ["item 2", "value not shown"]),
    ("NOTIFY_DOWN_AFTER", "-5", ["greater than 0"]),
]


def test_every_variable_has_good_and_bad_cases():
    assert {row[0] for row in GOOD} == ALL_NAMES
    assert {row[0] for row in BAD} == ALL_NAMES


@pytest.mark.parametrize(("name", "raw", "path", "expected"), GOOD)
def test_good_value_is_parsed(name, raw, path, expected):
    settings = load(**{name: raw})

    assert field(settings, path) == expected


@pytest.mark.parametrize(("name", "raw", "words"), BAD)
def test_bad_value_names_variable_problem_and_example(name, raw, words):
    with pytest.raises(ConfigError) as caught:
        load(**{name: raw})

    error = caught.value
    message = str(error)
    assert error.variable == name
    assert message.startswith(f"{name}: ")
    for word in words:
        assert word in message
    secret = VARIABLES_BY_NAME[name].secret
    assert (f"(example: {name}=" in message) is not secret
    assert "tok3n" not in message


@pytest.mark.parametrize("name", sorted(ALL_NAMES))
@pytest.mark.parametrize("blank", ["", "   "])
def test_empty_value_means_default(name, blank):
    assert load(**{name: blank}) == Settings()


def test_defaults_keep_v2_meaning():
    settings = load()

    assert settings == Settings()
    assert settings.market.forex_timeframes == (TF["M15"],)
    assert settings.market.crypto_timeframes == (TF["M15"],)
    assert settings.market.crypto_enabled is False
    assert settings.risk.trading_mode is TradingMode.SAFETY
    assert settings.mt5.backend is Backend.AUTO
    assert settings.logging.file == "mt5_bridge_v3.log"
    assert settings.logging.format == "text"
    assert settings.mt5.account is None


@pytest.mark.parametrize(
    ("raw", "names"),
    [
        ("M15", ["M15"]),
        ("15", ["M15"]),
        ("m15", ["M15"]),
        ("H1", ["H1"]),
        ("60", ["H1"]),
        ("1", ["M1"]),
        ("240", ["H4"]),
        ("1440", ["D1"]),
        ("10080", ["W1"]),
        ("MN1", ["MN1"]),
        ("M15,H1", ["M15", "H1"]),
        ("15, 60 ,240", ["M15", "H1", "H4"]),
        ("M5,5,M5", ["M5"]),
        ("H4,M1", ["H4", "M1"]),
    ],
)
@pytest.mark.parametrize("variable", ["FOREX_TIMEFRAME", "CRYPTO_TIMEFRAME"])
def test_timeframes_by_name_or_minutes_and_lists(variable, raw, names):
    settings = load(**{variable: raw})

    key = "forex_timeframes" if variable.startswith("FOREX") else "crypto_timeframes"
    assert getattr(settings.market, key) == tuple(TF[name] for name in names)


@pytest.mark.parametrize("raw", ["M7", "7", "15m", "0", "-15", "H1,M7", ",", "M15 H1", "１５"])
def test_bad_timeframes(raw):
    with pytest.raises(ConfigError) as caught:
        load(CRYPTO_TIMEFRAME=raw)

    assert caught.value.variable == "CRYPTO_TIMEFRAME"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("auto", "auto"),
        ("AUTO", "auto"),
        ("UTC", "UTC"),
        ("utc", "UTC"),
        ("Europe/Athens", "Europe/Athens"),
        ("europe/athens", "Europe/Athens"),
        ("America/New_York+7", "America/New_York+7"),
        ("America/New_York-7", "America/New_York-7"),
        ("america/new_york+07", "America/New_York+7"),
        ("Asia/Tokyo-0:30", "Asia/Tokyo-0:30"),
        ("UTC+2", "UTC+2"),
        ("Europe/Athens+0", "Europe/Athens"),
        ("Etc/GMT+2", "Etc/GMT+2"),  # a real IANA zone name, not Etc/GMT shifted by 2
        ("America/Port-au-Prince+1", "America/Port-au-Prince+1"),
    ],
)
def test_zone_specs(raw, expected):
    assert load(MT5_SERVER_TIMEZONE=raw).mt5.server_timezone == expected


@pytest.mark.parametrize(
    "raw",
    [
        "Mars/Olympus",
        "Europe/Athens+15",
        "+2",
        "America",
        "../etc/passwd",
        "/etc/localtime",
        "Europe/Athens+2:75",
        "Europe/Athens 2",
    ],
)
def test_bad_zone_specs(raw):
    with pytest.raises(ConfigError) as caught:
        load(MT5_SERVER_TIMEZONE=raw)

    assert caught.value.variable == "MT5_SERVER_TIMEZONE"


@pytest.mark.parametrize("raw", ["auto", "Mars/Olympus+1"])
def test_simulator_zone_is_a_zone_never_auto(raw):
    with pytest.raises(ConfigError, match="SIM_SERVER_TIMEZONE"):
        load(SIM_SERVER_TIMEZONE=raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(word, True) for word in ("true", "True", "1", "yes", "YES", "on")]
    + [(word, False) for word in ("false", "FALSE", "0", "no", "off", "Off")],
)
def test_booleans(raw, expected):
    assert load(CRYPTO_ENABLED=raw).market.crypto_enabled is expected


def test_symbol_of_29_characters_is_accepted():
    assert load(TICK_SYMBOLS="A" * 29).market.tick_symbols == ("A" * 29,)


def test_pool_max_below_pool_min_is_refused():
    with pytest.raises(ConfigError) as caught:
        load(POSTGRES_POOL_MIN="5", POSTGRES_POOL_MAX="2")

    assert caught.value.variable == "POSTGRES_POOL_MAX"
    assert "POSTGRES_POOL_MIN (5)" in str(caught.value)


@pytest.mark.parametrize("account", ["", "0"])
def test_live_mode_needs_an_account(account):
    with pytest.raises(ConfigError) as caught:
        load(TRADING_MODE="live", MT5_ACCOUNT=account)

    assert caught.value.variable == "MT5_ACCOUNT"
    assert "TRADING_MODE=live" in str(caught.value)


def test_live_mode_with_an_account():
    settings = load(TRADING_MODE="live", MT5_ACCOUNT="12345678")

    assert settings.risk.trading_mode is TradingMode.LIVE
    assert settings.mt5.account == 12345678


def test_all_errors_are_reported_together_in_table_order():
    with pytest.raises(ConfigErrors) as caught:
        load(REDIS_PORT="x", POSTGRES_PORT="y", MAX_WORKERS="0")

    error = caught.value
    assert [e.variable for e in error.errors] == ["POSTGRES_PORT", "REDIS_PORT", "MAX_WORKERS"]
    assert error.variable == "POSTGRES_PORT"
    assert str(error).splitlines() == [str(e) for e in error.errors]


def test_unknown_variables_are_ignored():
    assert load(POSTGRES_PROT="x", MT5_COLOR="blue", PATH="/usr/bin") == Settings()


# ---------------------------------------------------------------- .env file


def write_env(tmp_path, text: str, encoding: str = "utf-8"):
    path = tmp_path / ".env"
    path.write_bytes(text.encode(encoding))
    return path


def test_env_file_values_are_used(tmp_path):
    env_file = write_env(tmp_path, "POSTGRES_PORT=5433\nREDIS_HOST=redis.lan\n# a comment\n")

    settings = load_settings({}, env_file=env_file)

    assert settings.postgres.port == 5433
    assert settings.redis.host == "redis.lan"


def test_environment_wins_over_env_file(tmp_path):
    env_file = write_env(tmp_path, "POSTGRES_PORT=5433\nREDIS_HOST=redis.lan\n")

    settings = load_settings({"POSTGRES_PORT": "6543"}, env_file=env_file)

    assert settings.postgres.port == 6543
    assert settings.redis.host == "redis.lan"


def test_empty_environment_value_does_not_hide_env_file(tmp_path):
    env_file = write_env(tmp_path, "POSTGRES_PORT=5433\n")

    assert load_settings({"POSTGRES_PORT": ""}, env_file=env_file).postgres.port == 5433


def test_os_environ_is_read_and_left_unchanged(tmp_path, monkeypatch):
    env_file = write_env(tmp_path, "REDIS_HOST=redis.lan\nMAX_WORKERS=2\n")
    monkeypatch.setenv("MAX_WORKERS", "8")
    monkeypatch.delenv("REDIS_HOST", raising=False)

    settings = load_settings(env_file=env_file)

    assert settings.worker.max_workers == 8
    assert settings.redis.host == "redis.lan"
    assert "REDIS_HOST" not in os.environ


def test_missing_env_file_means_environment_only(tmp_path):
    settings = load_settings({"MAX_WORKERS": "3"}, env_file=tmp_path / "absent.env")

    assert settings.worker.max_workers == 3


def test_env_file_with_byte_order_mark(tmp_path):
    env_file = write_env(tmp_path, "MAX_WORKERS=7\n", encoding="utf-8-sig")

    assert load_settings({}, env_file=env_file).worker.max_workers == 7


def test_env_file_quoted_password_keeps_hash_and_dollar(tmp_path):
    env_file = write_env(tmp_path, "POSTGRES_PASSWORD='pa$$ #word'\n")

    assert load_settings({}, env_file=env_file).postgres.password.reveal() == "pa$$ #word"


def test_env_file_that_is_not_utf8_is_named(tmp_path):
    env_file = write_env(tmp_path, "MT5_SERVER=Broker-Démo\n", encoding="latin-1")

    with pytest.raises(ConfigError) as caught:
        load_settings({}, env_file=env_file)

    assert caught.value.variable == str(env_file)
    assert "UTF-8" in str(caught.value)


def test_bad_value_in_env_file_is_reported(tmp_path):
    env_file = write_env(tmp_path, "FOREX_TIMEFRAME=M7\n")

    with pytest.raises(ConfigError, match=r"FOREX_TIMEFRAME: 'M7' is not a timeframe"):
        load_settings({}, env_file=env_file)


# ---------------------------------------------------------------- secrets

PASSWORDS = {
    "MT5_PASSWORD": "Mt5-Pa55word!",
    "POSTGRES_PASSWORD": "Pg-S3cret$",
    "REDIS_PASSWORD": "Rd-Hidden#9",
    "DASHBOARD_PASSWORD": "Db-Gate%7",
    "CONTROL_SECRET": "Ctl-Hmac-Key-0123456789",
}


def test_settings_repr_never_shows_a_password():
    settings = load(**PASSWORDS)

    text = repr(settings) + str(settings) + repr(settings.postgres) + str(settings.mt5)
    for password in PASSWORDS.values():
        assert password not in text
    assert sorted(settings.secrets()) == sorted(PASSWORDS.values())


def test_webhook_tokens_are_secrets_and_never_shown():
    url = "https://api.telegram.org/bot123456:AAH-tok3n/sendMessage?chat_id=-1001"
    settings = load(NOTIFY_URLS=url)

    assert url not in repr(settings) and "AAH-tok3n" not in repr(settings)
    assert url in settings.secrets()
    assert "/bot123456:AAH-tok3n/sendMessage?chat_id=-1001" in settings.secrets()


def test_config_error_never_shows_a_password():
    pg = PASSWORDS["POSTGRES_PASSWORD"]
    env = dict(
        PASSWORDS,
        # passwords pasted where they do not belong, and DSNs given instead of hosts
        REDIS_PREFIX=PASSWORDS["REDIS_PASSWORD"],
        BRIDGE_ID=PASSWORDS["MT5_PASSWORD"],
        POSTGRES_HOST=f"postgresql://bridge:{pg}@db/mt5",
        LOG_LEVEL=f"password={pg}",
        TRADING_MODE="live",
    )
    env["MT5_PASSWORD"] += "\n"  # a bad secret value: the message must still not show it

    with pytest.raises(ConfigErrors) as caught:
        load(**env)

    texts = [str(caught.value), repr(caught.value), *map(str, caught.value.args)]
    texts += [str(e) + repr(e) + e.problem + e.example for e in caught.value.errors]
    assert len(caught.value.errors) == 5
    for password in PASSWORDS.values():
        assert all(password not in text for text in texts)


def test_cross_check_error_never_shows_a_password():
    with pytest.raises(ConfigError) as caught:
        load(TRADING_MODE="live", **PASSWORDS)

    for password in PASSWORDS.values():
        assert password not in str(caught.value)


def test_error_message_is_printable_on_a_cp1252_console():
    with pytest.raises(ConfigError) as caught:
        load(MT5_SERVER_TIMEZONE="Europe/Athens→2")

    str(caught.value).encode("cp1252")
    assert "\\u2192" in str(caught.value)
