"""Reading real price files to replay: plain OHLCV CSV and the MT5 History Center export.

Accepted layouts (the first line tells which):

* plain CSV (``,`` ``;`` or tab separated), optionally with a header: time, open, high,
  low, close, then optionally volume (tick volume) and spread. With a header, columns are
  found by name (``open``, ``high``, ``low``, ``close``, ``volume``/``tick_volume``/
  ``tickvol``, ``spread``; ``date`` + ``time`` may be two columns). Times look like
  ``2017-04-19 09:00:00``, ``2017.04.19 09:00``, ``2017-04-19T09:00`` or a date alone.
* MT5 export: ``<DATE>\\t<TIME>\\t<OPEN>\\t<HIGH>\\t<LOW>\\t<CLOSE>\\t<TICKVOL>\\t<VOL>\\t<SPREAD>``
  with dates like ``2017.04.19`` (``<TIME>`` may be absent for daily bars).

Times are the broker's server wall-clock times, exactly as the terminal stamps bars; a
time carrying a zone offset is refused rather than guessed at. The bar length is the
timeframe the file name names (``EURUSD_H1.csv``), else the most common step
between rows; it must be an MT5 timeframe from M1 to D1. ``<VOL>`` (real
volume) is not replayed. Any problem raises :class:`ReplayFileError` naming the line.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from bridge_v3.simulator.market.errors import ReplayFileError

REPLAYABLE_SECONDS = frozenset(
    {60, 120, 180, 240, 300, 360, 600, 720, 900, 1200, 1800}
    | {3600, 7200, 10800, 14400, 21600, 28800, 43200, 86400}
)
_NAMES = {
    "open": "open",
    "high": "high",
    "low": "low",
    "close": "close",
    "volume": "volume",
    "tick_volume": "volume",
    "tickvol": "volume",
    "spread": "spread",
    "date": "date",
    "time": "time",
    "datetime": "time",
    "timestamp": "time",
    "": "time",
}


@dataclass(frozen=True)
class ReplayBars:
    """The bars of one file: server times, prices in points, volumes (-1 = not given)."""

    path: str
    seconds: int
    time: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    tick_volume: np.ndarray
    spread: np.ndarray


def read_bars(path: str | Path, digits: int) -> ReplayBars:
    """Parse and check ``path``; prices must fit the symbol's ``digits``."""
    lines = _read_lines(path)
    delimiter = _delimiter(next((line for line in lines if line.strip()), ","))
    columns, start = _layout(path, lines, delimiter)
    records = list(_records(lines, start, delimiter))
    rows = [_parse_row(path, number, fields, columns, digits) for number, fields in records]
    if not rows:
        raise ReplayFileError(path, 0, "no price rows found")
    table = np.array(rows, dtype=np.int64)
    seconds = _bar_seconds(path, table[:, 0], [number for number, _ in records])
    return ReplayBars(str(path), seconds, *(np.ascontiguousarray(col) for col in table.T))


def _read_lines(path: str | Path) -> list[str]:
    try:
        raw = Path(path).read_bytes()
    except OSError as error:
        raise ReplayFileError(path, 0, f"cannot be read ({error.strerror or error})") from error
    encoding = "utf-16" if raw[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-8-sig"
    try:
        return raw.decode(encoding).splitlines()
    except UnicodeDecodeError as error:
        raise ReplayFileError(path, 0, f"is not {encoding} text ({error.reason})") from error


def _delimiter(line: str) -> str:
    return max(("\t", ",", ";"), key=line.count)


def _split(line: str, delimiter: str) -> list[str]:
    return [field.strip().strip('"') for field in line.split(delimiter)]


def _records(lines: list[str], start: int, delimiter: str):
    """(1-based line number, fields) of every non-blank data line."""
    for index in range(start, len(lines)):
        if lines[index].strip():
            yield index + 1, _split(lines[index], delimiter)


def _layout(path, lines: list[str], delimiter: str) -> tuple[dict[str, int], int]:
    """Column index of each field, and the index of the first data line."""
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None:
        raise ReplayFileError(path, 0, "is empty")
    header = _split(lines[first], delimiter)
    names = [field.strip().strip("<>").lower() for field in header]
    if _looks_like_time(header[0]):
        positional = ["time", "open", "high", "low", "close", "volume", "spread"]
        return {name: i for i, name in enumerate(positional[: len(header)])}, first
    columns = {_NAMES[name]: i for i, name in reversed(list(enumerate(names))) if name in _NAMES}
    missing = [name for name in ("open", "high", "low", "close") if name not in columns]
    if missing or not ({"time", "date"} & columns.keys()):
        wanted = "time/date, " + ", ".join(missing or ["open", "high", "low", "close"])
        raise ReplayFileError(path, first + 1, f"header lacks the column(s) {wanted}")
    return columns, first + 1


def _looks_like_time(text: str) -> bool:
    text = text.strip()
    return len(text) >= 8 and text[:4].isdigit() and (text.isdigit() or text[4] in "-.")


def _parse_row(path, number: int, fields: list[str], columns: dict, digits: int) -> list[int]:
    needed = max(columns.values()) + 1
    if len(fields) < needed:
        raise ReplayFileError(path, number, f"has {len(fields)} fields, expected {needed}")
    stamp = fields[columns["date"]] if "date" in columns else fields[columns["time"]]
    if "date" in columns and "time" in columns:
        stamp = f"{stamp} {fields[columns['time']]}"
    prices = [_points(path, number, fields[columns[k]], k, digits) for k in _OHLC]
    _check_ohlc(path, number, *prices, digits)
    volume = _count(path, number, fields, columns, "volume")
    return [
        _epoch(path, number, stamp),
        *prices,
        volume,
        _count(path, number, fields, columns, "spread"),
    ]


_OHLC = ("open", "high", "low", "close")


def _epoch(path, number: int, text: str) -> int:
    text = text.strip()
    if text.isdigit():
        return int(text)
    date, _, rest = text.replace("T", " ").partition(" ")
    try:
        moment = datetime.fromisoformat(f"{date.replace('.', '-')} {rest}".strip())
    except ValueError:
        raise ReplayFileError(path, number, f"cannot read the time {text!r}") from None
    if moment.tzinfo is not None:
        raise ReplayFileError(
            path, number, f"time {text!r} has a zone offset; write server wall-clock times"
        )
    return int(moment.replace(tzinfo=timezone.utc).timestamp())


def _points(path, number: int, text: str, name: str, digits: int) -> int:
    try:
        value = float(text)
    except ValueError:
        raise ReplayFileError(path, number, f"{name} {text.strip()!r} is not a number") from None
    if not math.isfinite(value) or value <= 0:
        raise ReplayFileError(path, number, f"{name} {text.strip()!r} is not a positive price")
    scaled = value * 10.0**digits
    if abs(scaled - round(scaled)) > 1e-6 * max(1.0, abs(scaled)) ** 0.5:
        raise ReplayFileError(
            path, number, f"{name} {text.strip()} has more decimals than the symbol's {digits}"
        )
    return int(round(scaled))


def _check_ohlc(path, number: int, o: int, h: int, l: int, c: int, digits: int) -> None:  # noqa: E741
    if not (l <= min(o, c) and h >= max(o, c)):
        shown = ", ".join(f"{v / 10.0**digits:.{digits}f}" for v in (o, h, l, c))
        raise ReplayFileError(
            path,
            number,
            f"open/high/low/close {shown} do not fit: high must be the highest and low the lowest",
        )


def _count(path, number: int, fields: list[str], columns: dict, name: str) -> int:
    if name not in columns or not fields[columns[name]].strip():
        return -1
    text = fields[columns[name]].strip()
    try:
        value = float(text)
    except ValueError:
        raise ReplayFileError(path, number, f"{name} {text!r} is not a number") from None
    if not math.isfinite(value) or value < 0 or value != int(value):
        raise ReplayFileError(path, number, f"{name} {text!r} is not a whole number >= 0")
    return int(value)


def _bar_seconds(path, times: np.ndarray, numbers: list[int]) -> int:
    """The bar length: the timeframe the file name gives (``EURUSD_H1.csv``), else the
    most common step between rows. Rows must rise by whole bars and sit on bar boundaries.
    """
    steps = np.diff(times)
    if len(steps) and steps.min() <= 0:
        bad = int(np.argmax(steps <= 0)) + 1
        raise ReplayFileError(path, numbers[bad], "time is not after the previous row's")
    seconds = _named_seconds(path)
    if seconds is None:
        if not len(steps):
            raise ReplayFileError(path, numbers[0], "a single row does not tell the bar length")
        values, counts = np.unique(steps, return_counts=True)
        seconds = int(values[np.argmax(counts)])
    if seconds not in REPLAYABLE_SECONDS:
        raise ReplayFileError(
            path,
            numbers[1],
            f"bars {seconds} s apart: only timeframes from M1 to D1 can be replayed",
        )
    off = np.flatnonzero(times % seconds)
    if len(off):
        raise ReplayFileError(
            path, numbers[int(off[0])], f"time is not on a {seconds} s bar boundary"
        )
    return seconds


_TIMEFRAME_NAME = re.compile(r"(?:^|[^A-Za-z0-9])(M[0-9]{1,2}|H[0-9]{1,2}|D1)(?:$|[^A-Za-z0-9])")


def _named_seconds(path) -> int | None:
    """Bar length named in the file name (``..._H1...``), if it names a known timeframe."""
    found = _TIMEFRAME_NAME.search(Path(path).stem.upper())
    if not found:
        return None
    token = found.group(1)
    unit = {"M": 60, "H": 3600, "D": 86400}[token[0]]
    return unit * int(token[1:])
