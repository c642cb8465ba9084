"""Rows to PostgreSQL's COPY text format, fast.

Built column by column with C-level map/join: per-value Python calls would cost more than
PostgreSQL's own work. Floats keep full precision (``str`` is the shortest round-trip form);
NaN and infinities go as 'nan'/'inf' (valid float8 input); None goes as ``\\N``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from decimal import Decimal

_NULL = "\\N"
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_AS_STR = (int, float, Decimal, date)  # str() is already valid COPY text for these


def copy_text(columns: list[Sequence]) -> bytes:
    """The rows of column-major ``columns`` in COPY text format, UTF-8 encoded."""
    texts = [_column_text(column) for column in columns]
    body = "\n".join(map("\t".join, zip(*texts, strict=True)))
    return (body + "\n").encode("utf-8")


def _column_text(column: Sequence) -> list[str]:
    values = _column_values(column)
    kinds = set(map(type, values))
    has_null = type(None) in kinds
    kinds.discard(type(None))
    fmt = _formatter(kinds, values)
    if has_null:
        return [_NULL if v is None else fmt(v) for v in values]
    return list(map(fmt, values))


def _column_values(column: Sequence) -> list:
    dtype = getattr(column, "dtype", None)
    if dtype is not None and dtype.kind == "M":  # numpy datetime64: naive UTC datetimes
        column = column.astype("datetime64[us]")
    return column.tolist() if hasattr(column, "tolist") else list(column)


def _formatter(kinds: set[type], values: list):
    if bool not in kinds and all(issubclass(k, _AS_STR) for k in kinds):
        return str
    if kinds == {str}:
        return _escape if _needs_escape(values) else str
    return _format_value


def _needs_escape(values: list) -> bool:
    joined = "".join(v for v in values if v is not None)
    return any(ch in joined for ch in "\\\t\n\r")


def _escape(text: str) -> str:
    return text.translate(_ESCAPES)


def _format_value(value) -> str:
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, (dict, list, tuple)):
        return _escape(json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str))
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "\\\\x" + bytes(value).hex()
    return _escape(str(value))
