"""Helpers for the market tests: an independent reference aggregation and clock builders.

The reference works row by row with ``datetime`` on server wall-clock digits, so it
shares no code with the market's vectorised aggregation.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

CONTRACT = json.loads((Path(__file__).parent / "mt5_contract.json").read_text())
CONSTANTS = {name: entry["value"] for name, entry in CONTRACT["constants"].items()}
TF = {
    name[len("TIMEFRAME_") :]: value
    for name, value in CONSTANTS.items()
    if name.startswith("TIMEFRAME_")
}
LAST_ERRORS = {
    entry["name"]: (entry["code"], entry["message"])
    for entry in CONTRACT["errors"]["last_error_codes"]
}


def utc(*parts: int) -> float:
    return datetime(*parts, tzinfo=timezone.utc).timestamp()


def wall(server: int) -> datetime:
    """Server epoch seconds -> the wall-clock digits they stand for (naive)."""
    return datetime(1970, 1, 1) + timedelta(seconds=int(server))


def _epoch(moment: datetime) -> int:
    return int((moment - datetime(1970, 1, 1)).total_seconds())


def bucket(timeframe: str, server: int) -> int:
    """Open time of the MT5 bar of ``timeframe`` holding ``server``, by calendar rules."""
    moment = wall(server)
    if timeframe == "MN1":
        return _epoch(moment.replace(day=1, hour=0, minute=0, second=0))
    if timeframe == "W1":
        day = moment.replace(hour=0, minute=0, second=0)
        return _epoch(day - timedelta(days=(day.weekday() + 1) % 7))  # back to Sunday
    if timeframe == "D1":
        return _epoch(moment.replace(hour=0, minute=0, second=0))
    if timeframe.startswith("H"):
        hours = int(timeframe[1:])
        return _epoch(moment.replace(hour=moment.hour // hours * hours, minute=0, second=0))
    minutes = int(timeframe[1:])
    return _epoch(moment.replace(minute=moment.minute // minutes * minutes, second=0))


def reference_aggregate(m1, timeframe: str) -> list[tuple]:
    """(time, open, high, low, close, tick_volume, spread) per bar, row by row."""
    groups: dict[int, list] = {}
    for row in m1.tolist():  # (time, open, high, low, close, tick_volume, spread, real_volume)
        groups.setdefault(bucket(timeframe, row[0]), []).append(row)
    return [
        (
            key,
            rows[0][1],
            max(r[2] for r in rows),
            min(r[3] for r in rows),
            rows[-1][4],
            sum(r[5] for r in rows),
            min(r[6] for r in rows),
        )
        for key, rows in groups.items()
    ]


def as_tuples(rates) -> list[tuple]:
    return [tuple(row[:7]) for row in rates.tolist()]


def ticks_by_minute(ticks) -> list[tuple]:
    """M1 bars rebuilt from ticks, row by row (bid prices, spread in points)."""
    rows: dict[int, list] = {}
    for tick in ticks:
        rows.setdefault(int(tick["time_msc"]) // 60_000 * 60, []).append(tick)
    return [(key, group) for key, group in rows.items()]
