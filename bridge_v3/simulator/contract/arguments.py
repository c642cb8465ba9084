"""Argument parsing of the module functions, as the real C module does it.

Three conventions exist (``behaviour.argument_conventions`` of the contract):
- METH_NOARGS: any argument raises TypeError before the function runs;
- METH_VARARGS: positional only, any keyword raises TypeError before the function runs;
  a wrong count or a bad symbol/date fails *inside* the call with (-2, 'Invalid arguments');
- custom keyword parsing (initialize, login, symbols_get, *_get, order_send/check).

Where the real module uses ``PyArg_ParseTuple`` codes ('i', 'k', 'd') and the conversion
fails, it returns without clearing the TypeError, so CPython raises SystemError instead of
returning None. The helpers ``parse_int``/``parse_unsigned``/``parse_double`` reproduce
that (inferred from the binary, not observed on a live terminal).

Parsers raise ``CallFailed`` for errors the real module reports through ``last_error()``.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bridge_v3.simulator.contract.errors import (
    INVALID_ARGUMENTS,
    INVALID_NUMBER_OF_ARGUMENTS,
    UNNAMED_ARGUMENTS_NOT_ALLOWED,
    CallFailed,
    invalid_field,
    invalid_unnamed,
)

SYMBOL_MAX_UNITS = 29  # UTF-16 code units, terminator excluded
GROUP_MAX_UNITS = 1998
PATH_MAX_UNITS = 258
CREDENTIAL_MAX_UNITS = 254


def utf16_units(text: str) -> int:
    """Length of ``text`` in UTF-16 code units, the unit of the terminal's string limits."""
    return len(text.encode("utf-16-le")) // 2


def fits(value: Any, max_units: int) -> bool:
    """True when ``value`` is a str of at most ``max_units`` UTF-16 code units."""
    return isinstance(value, str) and utf16_units(value) <= max_units


def reject_arguments(function: str, args: tuple, kwargs: dict) -> None:
    """METH_NOARGS: CPython refuses any argument with a TypeError."""
    if kwargs:
        raise TypeError(f"{function}() takes no keyword arguments")
    if args:
        raise TypeError(f"{function}() takes no arguments ({len(args)} given)")


def reject_keywords(function: str, kwargs: dict) -> None:
    """METH_VARARGS: CPython refuses keywords with a TypeError."""
    if kwargs:
        raise TypeError(f"{function}() takes no keyword arguments")


def expect_count(args: tuple, *counts: int) -> None:
    """Positional-only functions report a wrong count as (-2, 'Invalid arguments')."""
    if len(args) not in counts:
        raise CallFailed(INVALID_ARGUMENTS)


def symbol_arg(value: Any) -> str:
    """A symbol argument: a str of at most 29 UTF-16 units, else (-2, 'Invalid arguments')."""
    if not fits(value, SYMBOL_MAX_UNITS):
        raise CallFailed(INVALID_ARGUMENTS)
    return str(value)


def date_arg(value: Any) -> int:
    """A date argument as the terminal receives it: epoch seconds truncated to 32 bits.

    int/float are taken as seconds; a datetime (or subclass, e.g. pandas.Timestamp) goes
    through ``value.timestamp()``, so a naive datetime is read in the host's local zone,
    exactly the trap of the real module. Anything else is (-2, 'Invalid arguments').
    """
    if isinstance(value, dt.datetime):
        seconds = int(value.timestamp())
    elif isinstance(value, (int, float)):
        seconds = int(value)
    else:
        raise CallFailed(INVALID_ARGUMENTS)
    return _wrap_int32(seconds)


def _wrap_int32(value: int) -> int:
    return (value + 2**31) % 2**32 - 2**31


def parse_int(function: str, value: Any) -> int:
    """PyArg 'i': an index-able int in the C int range, else SystemError (see module doc)."""
    try:
        number = operator.index(value)
    except TypeError as error:
        raise _unhandled(function, error) from error
    if not -(2**31) <= number < 2**31:
        raise _unhandled(function, OverflowError("signed integer is out of range"))
    return number


def parse_unsigned(function: str, value: Any) -> int:
    """PyArg 'k': a Python int masked to a 32-bit unsigned long, no overflow check."""
    if not isinstance(value, int):
        error = TypeError(f"integer argument expected, got {type(value).__name__}")
        raise _unhandled(function, error) from error
    return value & 0xFFFFFFFF


def parse_double(function: str, value: Any) -> float:
    """PyArg 'd': anything with ``__float__`` or ``__index__``, else SystemError."""
    try:
        return float(value) if not isinstance(value, str) else float(_no_str(value))
    except TypeError as error:
        raise _unhandled(function, error) from error


def _no_str(value: str) -> float:
    raise TypeError(f"must be real number, not {type(value).__name__}")


def _unhandled(function: str, cause: Exception) -> SystemError:
    error = SystemError(f"<built-in function {function}> returned a result with an exception set")
    error.__cause__ = cause
    return error


@dataclass(frozen=True)
class Filter:
    """Which of ticket / symbol / group selects positions or orders (ticket wins)."""

    ticket: int | None = None
    symbol: str | None = None
    group: str | None = None


def filter_args(args: tuple, kwargs: Mapping[str, Any]) -> Filter:
    """positions_get/orders_get: keywords only, checked ticket first, then symbol, then group."""
    if args:
        raise CallFailed(UNNAMED_ARGUMENTS_NOT_ALLOWED)
    if "ticket" in kwargs:
        return Filter(ticket=_int_field("ticket", kwargs["ticket"]))
    if "symbol" in kwargs:
        if not fits(kwargs["symbol"], SYMBOL_MAX_UNITS):
            raise CallFailed(invalid_field("symbol"))
        return Filter(symbol=kwargs["symbol"])
    if "group" in kwargs:
        return Filter(group=group_field(kwargs["group"]))
    return Filter()


def group_field(value: Any) -> str:
    """A ``group`` keyword: str shorter than 1999 UTF-16 units."""
    if not fits(value, GROUP_MAX_UNITS):
        raise CallFailed(invalid_field("group"))
    return str(value)


def _int_field(name: str, value: Any) -> int:
    if not isinstance(value, int):
        raise CallFailed(invalid_field(name))
    return int(value)


@dataclass(frozen=True)
class HistoryQuery:
    """One of the three forms of history_*_get: a date range (+group), ticket=, position=."""

    date_from: int | None = None
    date_to: int | None = None
    group: str | None = None
    ticket: int | None = None
    position: int | None = None


def history_args(args: tuple, kwargs: Mapping[str, Any]) -> HistoryQuery:
    """history_orders_get/history_deals_get arguments (ticket checked before position)."""
    if "ticket" in kwargs or "position" in kwargs:
        if args:
            raise CallFailed(UNNAMED_ARGUMENTS_NOT_ALLOWED)
        if "ticket" in kwargs:
            return HistoryQuery(ticket=_int_field("ticket", kwargs["ticket"]))
        return HistoryQuery(position=_int_field("position", kwargs["position"]))
    if len(args) != 2:
        raise CallFailed(INVALID_ARGUMENTS)
    date_from, date_to = date_arg(args[0]), date_arg(args[1])
    group = group_field(kwargs["group"]) if "group" in kwargs else None
    return HistoryQuery(date_from=date_from, date_to=date_to, group=group)


def symbols_get_args(args: tuple, kwargs: Mapping[str, Any]) -> str | None:
    """symbols_get(group=None): argument errors make the call return False, not None."""
    if len(args) > 1:
        raise CallFailed(INVALID_NUMBER_OF_ARGUMENTS, result=False)
    if args:
        if not fits(args[0], GROUP_MAX_UNITS):
            raise CallFailed(invalid_unnamed(1), result=False)
        return args[0]
    if "group" in kwargs:
        if not fits(kwargs["group"], GROUP_MAX_UNITS):
            raise CallFailed(invalid_field("group"), result=False)
        return kwargs["group"]
    return None


@dataclass(frozen=True)
class Credentials:
    """What initialize/login were given; None means 'use what the terminal has saved'."""

    login: int | None = None
    password: str | None = None
    server: str | None = None
    timeout: int = 60000
    path: str | None = None
    portable: bool = False

    def __repr__(self) -> str:  # the password never leaves the process in a repr
        return f"Credentials(login={self.login!r}, server={self.server!r}, path={self.path!r})"


def initialize_args(args: tuple, kwargs: Mapping[str, Any]) -> Credentials:
    """initialize(path=None, /, *, login, password, server, timeout, portable)."""
    if len(args) > 1:
        raise CallFailed(INVALID_NUMBER_OF_ARGUMENTS, result=False)
    path = None
    if args:
        if not fits(args[0], PATH_MAX_UNITS):
            raise CallFailed(invalid_unnamed(1), result=False)
        path = args[0]
    elif "path" in kwargs:
        path = _str_kwarg(kwargs, "path", PATH_MAX_UNITS)
    return Credentials(
        login=_optional_int(kwargs, "login"),
        password=_str_kwarg(kwargs, "password", CREDENTIAL_MAX_UNITS),
        server=_str_kwarg(kwargs, "server", CREDENTIAL_MAX_UNITS),
        timeout=_optional_int(kwargs, "timeout", 60000),
        path=path,
        portable=bool(kwargs.get("portable", False)),
    )


def login_args(args: tuple, kwargs: Mapping[str, Any]) -> Credentials:
    """login(login, password=None, server=None, timeout=60000); login is required."""
    if len(args) > 3:
        raise CallFailed(INVALID_NUMBER_OF_ARGUMENTS, result=False)
    kinds = (int, str, str)
    for position, (value, kind) in enumerate(zip(args, kinds, strict=False), start=1):
        valid = isinstance(value, int) if kind is int else fits(value, CREDENTIAL_MAX_UNITS)
        if not valid:
            raise CallFailed(invalid_unnamed(position), result=False)
    named = dict(kwargs)
    named.update(zip(("login", "password", "server"), args, strict=False))
    if "login" not in named:
        raise CallFailed(invalid_field("login"), result=False)
    return Credentials(
        login=_optional_int(named, "login"),
        password=_str_kwarg(named, "password", CREDENTIAL_MAX_UNITS),
        server=_str_kwarg(named, "server", CREDENTIAL_MAX_UNITS),
        timeout=_optional_int(named, "timeout", 60000),
    )


def _optional_int(kwargs: Mapping[str, Any], name: str, default: int | None = None) -> Any:
    if name not in kwargs:
        return default
    value = kwargs[name]
    if not isinstance(value, int):
        raise CallFailed(invalid_field(name), result=False)
    return int(value)


def _str_kwarg(kwargs: Mapping[str, Any], name: str, max_units: int) -> str | None:
    if name not in kwargs:
        return None
    if not fits(kwargs[name], max_units):
        raise CallFailed(invalid_field(name), result=False)
    return str(kwargs[name])
