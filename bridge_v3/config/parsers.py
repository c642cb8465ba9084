"""Parsers for setting values: one small function per kind of value.

Each takes the raw text (already stripped and never empty: an empty variable means
"use the default" and never reaches a parser) and returns the typed value, or raises
``InvalidValue`` whose text is the problem, phrased to follow the variable's name:
``POSTGRES_PORT: must be a whole number from 1 to 65535, got 'abc'``.

A value is echoed only through ``shown()``, which shortens it and masks credentials
inside URLs and DSNs; ``parse_secret`` never echoes anything.
"""

from __future__ import annotations

import enum
import ipaddress
import math
import re
import zoneinfo
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import TypeVar

from bridge_v3.config.constants import TIMEFRAMES, Timeframe
from bridge_v3.config.redaction import mask_credentials
from bridge_v3.config.secret import Secret

E = TypeVar("E", bound=enum.Enum)

_INT = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")
_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off")
_SYMBOL = re.compile(r"[A-Za-z0-9._#-]{1,29}")
_HOSTNAME = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\.?")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_ZONE_SHIFT = re.compile(r"(.+?)([+-])([0-9]{1,2})(?::([0-5][0-9]))?")
_BY_MINUTES = {tf.seconds // 60: tf for tf in TIMEFRAMES.values() if tf.seconds}


class InvalidValue(ValueError):
    """The raw text is not a valid value. ``str()`` is the problem, without the variable."""


def shown(raw: str, limit: int = 40) -> str:
    """``raw`` quoted for an error message: credentials masked, long values shortened,
    non-ASCII escaped (the message may be printed on a cp1252 Windows console)."""
    text = mask_credentials(raw)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return ascii(text)


def _span(low: float, high: float | None, low_open: bool = False) -> str:
    if high is None:
        return f"greater than {low}" if low_open else f"of at least {low}"
    return f"greater than {low} and at most {high}" if low_open else f"from {low} to {high}"


def parse_int(raw: str, low: int, high: int | None = None) -> int:
    """A whole number within ``low..high`` (inclusive; ``high`` None = no upper bound)."""
    if _INT.fullmatch(raw):
        value = int(raw)
        if value >= low and (high is None or value <= high):
            return value
    raise InvalidValue(f"must be a whole number {_span(low, high)}, got {shown(raw)}")


def parse_port(raw: str) -> int:
    """A TCP port, 1..65535."""
    try:
        return parse_int(raw, 1, 65535)
    except InvalidValue as error:
        if raw.startswith("tcp://"):
            # Kubernetes injects REDIS_PORT=tcp://10.0.0.1:6379 for a service named "redis".
            raise InvalidValue(
                f"{error} (a container platform sets this form for a service of the same "
                "name; give the port number here)"
            ) from None
        raise


def parse_float(raw: str, low: float, high: float, *, low_open: bool = False) -> float:
    """A finite decimal number within the range; ``low_open`` excludes ``low`` itself."""
    if _FLOAT.fullmatch(raw):
        value = float(raw)
        above = value > low if low_open else value >= low
        if math.isfinite(value) and above and value <= high:
            return value
    problem = f"must be a number {_span(_plain(low), _plain(high), low_open)}, got {shown(raw)}"
    if "," in raw and _FLOAT.fullmatch(raw.replace(",", ".")):
        problem += " (use a dot as the decimal separator)"
    raise InvalidValue(problem)


def _plain(number: float) -> float | int:
    """1.0 -> 1, so ranges read "from 0 to 100", not "from 0.0 to 100.0"."""
    return int(number) if float(number).is_integer() else number


def parse_bool(raw: str) -> bool:
    """true/false, yes/no, on/off, 1/0, in any case."""
    lowered = raw.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise InvalidValue(f"must be true or false (also yes/no, on/off, 1/0), got {shown(raw)}")


def parse_choice(raw: str, options: Sequence[str], aliases: Mapping[str, str] | None = None) -> str:
    """One of ``options``, compared without regard to case; returns the option as listed."""
    lowered = raw.lower()
    for option in options:
        if option.lower() == lowered:
            return option
    for alias, option in (aliases or {}).items():
        if alias.lower() == lowered:
            return option
    raise InvalidValue(f"must be one of {', '.join(options)}, got {shown(raw)}")


def parse_enum(raw: str, kind: type[E]) -> E:
    """A member of a string-valued enum, by value (``Backend``, ``TradingMode``)."""
    return kind(parse_choice(raw, [member.value for member in kind]))


def _items(raw: str, what: str) -> list[str]:
    items = [item.strip() for item in raw.split(",") if item.strip()]
    if not items:
        raise InvalidValue(f"lists no {what}; give one or more, separated by commas")
    return items


def parse_symbols(raw: str) -> tuple[str, ...]:
    """A comma list of symbol names: stripped, duplicates dropped, order kept.

    Case is kept: broker symbol names are case-sensitive (``EURUSDm`` is not ``EURUSDM``).
    """
    names = list(_items(raw, "symbol"))
    for name in names:
        if not _SYMBOL.fullmatch(name):
            raise InvalidValue(
                f"{shown(name)} is not a symbol name "
                "(letters, digits and . _ # -, at most 29 characters)"
            )
    return tuple(dict.fromkeys(names))


_STRATEGY = re.compile(r"[a-z][a-z0-9_]{0,40}|[A-Za-z_][A-Za-z0-9_.]*:[A-Za-z_][A-Za-z0-9_]*")


def parse_strategies(raw: str) -> tuple[str, ...]:
    """A comma list of strategies: built-in names (``ma_cross``) or ``package.module:Class``
    paths; duplicates dropped. Whether each exists is checked when they are loaded."""
    names = list(_items(raw, "strategy"))
    for name in names:
        if not _STRATEGY.fullmatch(name):
            raise InvalidValue(
                f"{shown(name)} is neither a built-in strategy name (lower case, digits, _) "
                "nor a package.module:Class path"
            )
    return tuple(dict.fromkeys(names))


def parse_timeframe(raw: str) -> Timeframe:
    """A timeframe by name (``M15``, ``h1``) or by minutes (``15``, ``60``, ``1440``)."""
    key = raw.strip().upper()
    if key in TIMEFRAMES:
        return TIMEFRAMES[key]
    if key.isascii() and key.isdigit() and int(key) in _BY_MINUTES:
        return _BY_MINUTES[int(key)]
    raise InvalidValue(
        f"{shown(raw)} is not a timeframe; use a name (M1, M5, M15, M30, H1, H4, D1, W1, MN1) "
        "or a number of minutes (1, 5, 15, 30, 60, 240, 1440)"
    )


def parse_timeframes(raw: str) -> tuple[Timeframe, ...]:
    """A comma list of timeframes, each as ``parse_timeframe``; duplicates dropped."""
    return tuple(dict.fromkeys(parse_timeframe(item) for item in _items(raw, "timeframe")))


@lru_cache(maxsize=1)
def _zones_by_lower_name() -> dict[str, str]:
    return {name.lower(): name for name in zoneinfo.available_timezones()}


def _zone_name(name: str) -> str | None:
    """The canonical IANA key for ``name`` (any case), or None if there is no such zone."""
    if name.upper() == "UTC":
        return "UTC"
    canonical = _zones_by_lower_name().get(name.lower())
    if canonical:
        return canonical
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return None
    return name


def parse_zone(raw: str, *, allow_auto: bool = True, allow_shift: bool = True) -> str:
    """A server clock spec: ``auto``, ``UTC``, an IANA zone, or a zone plus hours.

    Returns it normalised: ``auto``, ``UTC``, ``Europe/Athens``, ``America/New_York+7``,
    ``Asia/Tokyo-0:30`` (canonical zone spelling; a zero shift is dropped).
    """
    if raw.lower() == "auto" and allow_auto:
        return "auto"
    zone = _zone_name(raw)
    if zone:
        return zone
    match = _ZONE_SHIFT.fullmatch(raw) if allow_shift else None
    if match and (zone := _zone_name(match[1])):
        return _shifted(zone, match[2], int(match[3]), int(match[4] or 0))
    forms = ["an IANA zone (Europe/Athens)", "UTC"]
    forms += ["a zone plus hours (America/New_York+7)"] if allow_shift else []
    forms += ["auto"] if allow_auto else []
    raise InvalidValue(f"{shown(raw)} is not a time zone; use {', '.join(forms)}")


def _shifted(zone: str, sign: str, hours: int, minutes: int) -> str:
    if hours > 14 or (hours == 14 and minutes):
        raise InvalidValue(f"a shift of more than 14 hours is not a time zone, got {sign}{hours}")
    if not hours and not minutes:
        return zone
    return f"{zone}{sign}{hours}" + (f":{minutes:02d}" if minutes else "")


def parse_text(raw: str, max_length: int = 255) -> str:
    """Free text (a server name, a path): no control characters, bounded length."""
    if _CONTROL.search(raw):
        raise InvalidValue("must not contain control characters (tabs, line breaks)")
    if len(raw) > max_length:
        raise InvalidValue(f"must be at most {max_length} characters, got {len(raw)}")
    return raw


def parse_token(raw: str, pattern: str, what: str) -> str:
    """A name matching ``pattern`` (a regex); ``what`` describes it in the message."""
    if re.fullmatch(pattern, raw):
        return raw
    raise InvalidValue(f"must be {what}, got {shown(raw)}")


def parse_host(raw: str, *, socket_dir: bool = False) -> str:
    """A host name or IP address (``socket_dir``: also an absolute Unix socket directory)."""
    if "://" in raw or "@" in raw:
        raise InvalidValue(
            "must be a host name or IP address, not a URL (port, user and password have "
            "their own variables)"
        )
    if socket_dir and raw.startswith("/"):
        return parse_text(raw, 1024)
    if (_HOSTNAME.fullmatch(raw) and len(raw) <= 253) or _is_ip(raw):
        return raw
    if ":" in raw:
        raise InvalidValue(
            f"must not include a port, got {shown(raw)}; the port has its own variable"
        )
    raise InvalidValue(f"must be a host name or IP address, got {shown(raw)}")


def _is_ip(raw: str) -> bool:
    try:
        ipaddress.ip_address(raw.removeprefix("[").removesuffix("]"))
    except ValueError:
        return False
    return True


def parse_secret(raw: str) -> Secret:
    """A password, kept as given (spaces included). The message never shows the value."""
    if any(char in raw for char in "\x00\r\n"):
        raise InvalidValue("must not contain line breaks or NUL characters (value not shown)")
    return Secret(raw)
