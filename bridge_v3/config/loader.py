"""Build the bridge's ``Settings`` from the environment and a ``.env`` file, once.

Precedence: a variable set (non-empty) in the environment wins over the same variable in
the ``.env`` file, which wins over the dataclass default. An empty value means "unset":
it does not hide a ``.env`` value and it selects the default. The ``.env`` file is read
with python-dotenv (``${VAR}`` references are expanded as in V2; quote a value with
single quotes to keep a ``$`` literal) and ``os.environ`` is never changed.

Variables the bridge does not know are ignored, because real environments are noisy; but
an unknown name with one of the bridge's prefixes (``MT5_SERVER_TIMEZON``) is most likely a
misspelt setting, and ``unknown_names`` lists those for a warning. A line of ``.env`` that
is not ``NAME=value`` or a comment is an error naming the file and the line. Every value is
validated here, and all problems are reported together.
"""

from __future__ import annotations

import difflib
import io
import os
from collections.abc import Mapping
from pathlib import Path

from dotenv import dotenv_values
from dotenv.parser import parse_stream

from bridge_v3.config.constants import TradingMode
from bridge_v3.config.parsers import InvalidValue
from bridge_v3.config.redaction import Redactor
from bridge_v3.config.settings import (
    DashboardSettings,
    LoggingSettings,
    MarketSettings,
    MT5Settings,
    OperationsSettings,
    PostgresSettings,
    RedisSettings,
    RiskSettings,
    Settings,
    SimulatorSettings,
    TradingSettings,
    WorkerSettings,
)
from bridge_v3.config.variables import VARIABLES, VARIABLES_BY_NAME
from bridge_v3.exceptions import ConfigError

_GROUPS = {
    "mt5": MT5Settings,
    "simulator": SimulatorSettings,
    "postgres": PostgresSettings,
    "redis": RedisSettings,
    "market": MarketSettings,
    "risk": RiskSettings,
    "trading": TradingSettings,
    "worker": WorkerSettings,
    "logging": LoggingSettings,
    "dashboard": DashboardSettings,
    "operations": OperationsSettings,
}


# An unknown name starting with one of these is most likely a misspelt setting.
SETTING_PREFIXES = (
    "MT5_",
    "POSTGRES_",
    "REDIS_",
    "SIM_",
    "TRADING_",
    "FOREX_",
    "CRYPTO_",
    "METRICS_",
    "BREAKER_",
    "CONTROL_",
    "NOTIFY_",
    "STRATEG",
    "ORDER_",
)


class ConfigErrors(ConfigError):
    """Several settings are wrong. ``errors`` holds each ``ConfigError``, in table order;
    ``variable``/``problem``/``example`` are the first one's; ``str()`` lists them all."""

    def __init__(self, errors: list[ConfigError]) -> None:
        first = errors[0]
        super().__init__(first.variable, first.problem, first.example)
        self.errors = errors
        self.args = ("\n".join(str(error) for error in errors),)

    def __str__(self) -> str:
        return self.args[0]


def load_settings(
    environ: Mapping[str, str] | None = None, env_file: str | Path | None = ".env"
) -> Settings:
    """Read, validate and freeze every setting.

    ``environ`` None means ``os.environ``; ``env_file`` None means no file, and a missing
    file is not an error (everything may come from the environment).
    Raises ``ConfigError`` (``ConfigErrors`` when several values are wrong); no message
    ever contains the value of a password.
    """
    values = read_environment(environ, env_file)
    redact = Redactor(values.get(var.name, "") for var in VARIABLES if var.secret)
    fields, errors = _parse_all(values)
    _raise_if_any(errors, redact)
    settings = _build(fields)
    _raise_if_any(_cross_check(settings), redact)
    return settings


def read_environment(
    environ: Mapping[str, str] | None = None, env_file: str | Path | None = ".env"
) -> dict[str, str]:
    """The ``.env`` file's values with the environment's non-empty values laid over them."""
    merged = _read_env_file(Path(env_file)) if env_file is not None else {}
    overlay = os.environ if environ is None else environ
    merged.update({name: value for name, value in overlay.items() if value.strip()})
    return merged


def _read_env_file(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    try:
        # utf-8-sig: Windows editors like to start a UTF-8 file with a byte order mark,
        # which would otherwise glue itself to the first variable's name.
        _check_lines(path, path.read_text(encoding="utf-8-sig"))
        values = dotenv_values(path, encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        problem = f"is not UTF-8 text (bad byte at offset {error.start}); save it as UTF-8"
        raise ConfigError(str(path), problem) from None
    except OSError as error:
        raise ConfigError(str(path), f"cannot be read ({error.strerror})") from None
    return {name: value for name, value in values.items() if value is not None}


def _check_lines(path: Path, text: str) -> None:
    """Every line must be ``NAME=value``, a comment or blank; the first that is not is an
    error naming its number (never its text: it may hold a password)."""
    for binding in parse_stream(io.StringIO(text)):
        if binding.error or (binding.key is not None and binding.value is None):
            raw = binding.original.string
            line = binding.original.line + raw[: len(raw) - len(raw.lstrip())].count("\n")
            problem = f"line {line} is not NAME=value; correct it, or start it with # to keep it"
            raise ConfigError(str(path), problem)


def unknown_names(
    environ: Mapping[str, str] | None = None, env_file: str | Path | None = ".env"
) -> list[str]:
    """Warnings for names that look like settings of this bridge but are not (a misspelt
    name is ignored and its default applies), with the closest real name when one is near."""
    where = {}
    if env_file is not None and Path(env_file).is_file():
        where.update(dict.fromkeys(_read_env_file(Path(env_file)), str(env_file)))
    for name in os.environ if environ is None else environ:
        where.setdefault(name, "the environment")
    warnings = []
    for name, source in where.items():
        if name.upper().startswith(SETTING_PREFIXES) and name not in VARIABLES_BY_NAME:
            near = difflib.get_close_matches(name.upper(), VARIABLES_BY_NAME, n=1)
            hint = f"; did you mean {near[0]}?" if near else ""
            warnings.append(f"{name} (in {source}) is not a setting of this bridge: ignored{hint}")
    return warnings


def _parse_all(values: Mapping[str, str]) -> tuple[dict[str, dict[str, object]], list[ConfigError]]:
    """Parsed values by group and field (set variables only), and the errors met."""
    fields: dict[str, dict[str, object]] = {}
    errors: list[ConfigError] = []
    for var in VARIABLES:
        raw = values.get(var.name, "")
        if not raw.strip():
            continue
        try:
            value = var.parse(raw if var.secret else raw.strip())
        except InvalidValue as error:
            errors.append(ConfigError(var.name, str(error), var.example))
            continue
        fields.setdefault(var.group, {})[var.field] = value
    return fields, errors


def _build(fields: Mapping[str, dict[str, object]]) -> Settings:
    groups = {name: kind(**fields.get(name, {})) for name, kind in _GROUPS.items()}
    return Settings(**groups, **fields.get("", {}))


def _cross_check(settings: Settings) -> list[ConfigError]:
    """Rules that involve two variables."""
    errors = []
    pool = settings.postgres
    if pool.pool_max < pool.pool_min:
        problem = f"must be at least POSTGRES_POOL_MIN ({pool.pool_min}), got {pool.pool_max}"
        errors.append(ConfigError("POSTGRES_POOL_MAX", problem, str(max(pool.pool_min, 10))))
    if settings.risk.trading_mode is TradingMode.LIVE and settings.mt5.account is None:
        problem = "must be set when TRADING_MODE=live (a live bridge must know its account)"
        errors.append(ConfigError("MT5_ACCOUNT", problem, "12345678"))
    return errors


def _raise_if_any(errors: list[ConfigError], redact: Redactor) -> None:
    if not errors:
        return
    # Parsers never echo a secret variable, but a password pasted into the wrong
    # variable would still be echoed: mask every known secret in every message.
    clean = [ConfigError(e.variable, redact(e.problem), redact(e.example)) for e in errors]
    raise clean[0] if len(clean) == 1 else ConfigErrors(clean)
