"""One series' bars to and from PostgreSQL's binary COPY format, as whole numpy arrays.

Within one series every field of a ``bars`` row has a fixed size (the symbol and timeframe
are the same text in every row), so a row of the binary format is a fixed-size record: the
whole batch is one numpy structured array written with ``tobytes`` and read back with
``frombuffer``, without a Python call per row or per value. Floats go as their exact
IEEE 754 bits, so what is read back compares equal to what was written.
"""

from __future__ import annotations

import numpy as np

HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
TRAILER = b"\xff\xff"
# timestamptz goes as microseconds since 2000-01-01 00:00 UTC.
POSTGRES_EPOCH = 946_684_800
# The values of a bar after its key, with their binary COPY type (big-endian).
VALUE_TYPES = (
    ("open", ">f8"),
    ("high", ">f8"),
    ("low", ">f8"),
    ("close", ">f8"),
    ("tick_volume", ">i8"),
    ("spread", ">i4"),
    ("real_volume", ">i8"),
)
VALUE_NAMES = tuple(name for name, _ in VALUE_TYPES)


def _record(fields: list[tuple[str, str]]) -> np.dtype:
    """A binary COPY row: the field count, then each field as (length, value)."""
    parts = [("count", ">i2")]
    for name, kind in fields:
        parts += [(f"{name}_length", ">i4"), (name, kind)]
    return np.dtype(parts)


def bars_copy(account: int, symbol: str, timeframe: str, rates: np.ndarray) -> bytes:
    """Binary COPY data of ``rates`` (MT5 rates, ``time`` in UTC seconds) for the columns
    account, symbol, timeframe, time, then ``VALUE_NAMES``."""
    name, frame = symbol.encode("utf-8"), timeframe.encode("utf-8")
    fields = [("account", ">i8"), ("symbol", f"S{len(name)}"), ("timeframe", f"S{len(frame)}")]
    fields += [("time", ">i8"), *VALUE_TYPES]
    rows = np.empty(len(rates), dtype=_record(fields))
    rows["count"] = len(fields)
    for field, kind in fields:
        rows[f"{field}_length"] = np.dtype(kind).itemsize
    rows["account"] = account
    rows["symbol"] = name
    rows["timeframe"] = frame
    rows["time"] = (rates["time"].astype(np.int64) - POSTGRES_EPOCH) * 1_000_000
    for field in VALUE_NAMES:
        rows[field] = rates[field]
    return HEADER + rows.tobytes() + TRAILER


STORED = _record([("time", ">i8"), *VALUE_TYPES])


def read_stored(data: bytes) -> np.ndarray:
    """Rows of ``COPY (SELECT time, <VALUE_NAMES>) TO STDOUT (FORMAT binary)``: an array
    with ``time`` in UTC seconds and the values (every column is NOT NULL, so each row has
    the same size)."""
    if not data.startswith(HEADER[:11]):
        raise ValueError("not PostgreSQL binary COPY data")
    extension = int.from_bytes(data[15:19], "big")
    body = data[19 + extension : len(data) - len(TRAILER)]
    rows = np.frombuffer(body, dtype=STORED)
    out = np.empty(len(rows), dtype=[("time", "i8")] + [(n, k[1:]) for n, k in VALUE_TYPES])
    out["time"] = rows["time"] // 1_000_000 + POSTGRES_EPOCH
    for field in VALUE_NAMES:
        out[field] = rows[field]
    return out
