"""Trade request validation exactly as the real module does it before anything is sent.

The module zero-fills a C request struct, then reads each of the 17 known keys with
``PyDict_GetItemString``: unknown keys are ignored, missing keys stay 0/0.0/'' (so a
missing ``type_filling`` means ORDER_FILLING_FOK), and a present key must hold exactly the
right kind of object. The first bad field, in struct order, fails the call with
(-2, 'Invalid "<field>" argument'). A key holding None is bad like any other wrong type.

Kinds (contract ``trade_request``):
- float fields accept ``float`` and its subclasses only (numpy.float64 yes; int, numpy.float32
  no);
- int fields accept Python ``int`` and subclasses (bool, IntEnum), not numpy ints; a
  negative or oversized value overflows the C unsigned conversion, which the module does
  not clear, so CPython raises SystemError (inferred from the binary);
- ``expiration`` is read with ``PyLong_AsLongLong``, so it also accepts objects with
  ``__index__`` (numpy ints), but never a datetime;
- ``symbol``/``comment`` are str of at most 29 UTF-16 code units.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from typing import Any

from bridge_v3.simulator.contract.arguments import SYMBOL_MAX_UNITS, fits
from bridge_v3.simulator.contract.errors import (
    INVALID_ARGUMENTS,
    INVALID_NUMBER_OF_ARGUMENTS,
    UNNAMED_ARGUMENTS_NOT_ALLOWED,
    CallFailed,
    invalid_field,
)

_U32 = 2**32
_U64 = 2**64

# (key, kind, unsigned range for int kinds), in the order the module reads them.
REQUEST_FIELDS: tuple[tuple[str, str, int], ...] = (
    ("action", "uint", _U32),
    ("magic", "uint", _U64),
    ("order", "uint", _U64),
    ("symbol", "str", 0),
    ("volume", "float", 0),
    ("price", "float", 0),
    ("stoplimit", "float", 0),
    ("sl", "float", 0),
    ("tp", "float", 0),
    ("deviation", "uint", _U64),
    ("type", "uint", _U32),
    ("type_filling", "uint", _U32),
    ("type_time", "uint", _U32),
    ("expiration", "longlong", 0),
    ("comment", "str", 0),
    ("position", "uint", _U64),
    ("position_by", "uint", _U64),
)

_DEFAULTS = {"uint": 0, "longlong": 0, "float": 0.0, "str": ""}


def request_from_call(function: str, args: tuple, kwargs: dict) -> Mapping[str, Any]:
    """The raw request of order_send/order_check: one positional dict OR keyword fields."""
    if args and kwargs:
        raise CallFailed(UNNAMED_ARGUMENTS_NOT_ALLOWED)
    if kwargs:
        return kwargs
    if len(args) != 1:
        raise CallFailed(INVALID_NUMBER_OF_ARGUMENTS)
    if not isinstance(args[0], dict):
        raise CallFailed(INVALID_ARGUMENTS)
    return args[0]


def validate_request(function: str, raw: Mapping[str, Any]) -> dict[str, Any]:
    """The 17-key request the broker consumes, with plain int/float/str values.

    Raises CallFailed((-2, 'Invalid "<key>" argument')) for the first bad field and
    SystemError where the real module leaves an OverflowError set.
    """
    request: dict[str, Any] = {}
    for key, kind, limit in REQUEST_FIELDS:
        if key not in raw:
            request[key] = _DEFAULTS[kind]
            continue
        request[key] = _FIELD_CHECKS[kind](function, key, raw[key], limit)
    return request


def _check_uint(function: str, key: str, value: Any, limit: int) -> int:
    if not isinstance(value, int):
        raise CallFailed(invalid_field(key))
    number = int(value)
    if not 0 <= number < limit:
        raise _overflow(function, key)
    return number


def _check_longlong(function: str, key: str, value: Any, limit: int) -> int:
    if isinstance(value, float):
        raise CallFailed(invalid_field(key))
    try:
        number = operator.index(value)
    except TypeError as error:
        raise CallFailed(invalid_field(key)) from error
    if not -(2**63) <= number < 2**63:
        raise _overflow(function, key)
    return number


def _check_float(function: str, key: str, value: Any, limit: int) -> float:
    if not isinstance(value, float):
        raise CallFailed(invalid_field(key))
    return float(value)


def _check_str(function: str, key: str, value: Any, limit: int) -> str:
    if not fits(value, SYMBOL_MAX_UNITS):
        raise CallFailed(invalid_field(key))
    return str(value)


def _overflow(function: str, key: str) -> SystemError:
    error = SystemError(f"<built-in function {function}> returned a result with an exception set")
    error.__cause__ = OverflowError(f'request field "{key}" out of range for its C type')
    return error


_FIELD_CHECKS = {
    "uint": _check_uint,
    "longlong": _check_longlong,
    "float": _check_float,
    "str": _check_str,
}
