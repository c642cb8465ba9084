"""Simulated time: the clock the simulator runs on, and the broker's server wall clock.

True time is UTC unix seconds (float) read from a :class:`SimClock`. Everything the
terminal shows is *server time*: the broker's wall clock in its zone written as if it
were a unix epoch. :class:`BrokerTime` converts between the two.

Daylight saving: in autumn one server hour is lived twice, in spring one is skipped.
``to_server`` is exact. ``to_utc`` always picks the *earlier* of the instants a server
reading can stand for: a repeated reading is its first occurrence (the summer offset),
a skipped reading (which never shows on the server clock) is taken with the offset in
force after the change, i.e. it falls just before the change. With this rule
``to_utc`` never goes backwards as the server reading grows.
"""

from __future__ import annotations

import contextlib
import functools
import re
import time
from datetime import datetime, timezone
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

_DAY = 86_400
_TABLE_FIRST_YEAR, _TABLE_END_YEAR = 1970, 2100
_BEFORE_EVERYTHING = np.iinfo(np.int64).min // 4


class SimClock(Protocol):
    """Anything that tells the simulator the true time."""

    def now(self) -> float:
        """True UTC unix seconds."""
        ...


class WallClock:
    """Follows wall time from ``start`` (default: the real now), ``speed`` times faster.

    Elapsed time is measured on the monotonic clock, so a jump of the host's wall clock
    does not make simulated time jump or run backwards.
    """

    def __init__(self, start: float | None = None, speed: float = 1.0) -> None:
        if not speed > 0:
            raise ValueError(f"clock speed must be a positive number, got {speed!r}")
        self.start = time.time() if start is None else float(start)
        self.speed = float(speed)
        self._origin = time.monotonic()

    def now(self) -> float:
        return self.start + (time.monotonic() - self._origin) * self.speed


class ManualClock:
    """A clock that moves only when told: for tests and stepped replays."""

    def __init__(self, start: float) -> None:
        self._now = float(start)

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        """Move forward by ``seconds`` (>= 0); time never runs backwards by advancing."""
        if seconds < 0:
            raise ValueError(f"cannot advance a clock by a negative amount ({seconds!r} s)")
        self._now += float(seconds)

    def set(self, utc: float) -> None:
        """Jump to ``utc`` (forwards or backwards: the caller owns the consequences)."""
        self._now = float(utc)


_SHIFTED = re.compile(r"^(?P<zone>.+?)(?P<sign>[+-])(?P<hours>\d{1,2})(?::(?P<minutes>[0-5]\d))?$")


def split_zone(spec: str) -> tuple[str, int]:
    """``America/New_York+7`` -> (``America/New_York``, 25200); a plain zone has shift 0."""
    with contextlib.suppress(ValueError):
        _load_zone(spec)
        return spec, 0
    match = _SHIFTED.match(spec)
    if match is None:
        _load_zone(spec)  # raises the unknown-zone error
    seconds = int(match["hours"]) * 3_600 + int(match["minutes"] or 0) * 60
    return match["zone"], seconds if match["sign"] == "+" else -seconds


@functools.lru_cache(maxsize=16)
def _zone_table(spec: str) -> tuple[np.ndarray, np.ndarray]:
    """(UTC instants of every offset change, offset in force from each) for 1970..2100.

    The first entry stands for "since forever". Offsets are sampled daily and each change
    is pinned to the second by bisection; zones with two changes within one day do not
    exist in the table's range. A shifted zone's offsets carry its shift.
    """
    zone, shift = split_zone(spec)
    instants, offsets = _plain_zone_table(zone)
    return instants, offsets + shift


def _plain_zone_table(zone: str) -> tuple[np.ndarray, np.ndarray]:
    info = _load_zone(zone)
    start = int(datetime(_TABLE_FIRST_YEAR, 1, 1, tzinfo=timezone.utc).timestamp())
    end = int(datetime(_TABLE_END_YEAR, 1, 1, tzinfo=timezone.utc).timestamp())
    instants, offsets = [_BEFORE_EVERYTHING], [_offset(info, start)]
    for day in range(start + _DAY, end + 1, _DAY):
        offset = _offset(info, day)
        if offset != offsets[-1]:
            instants.append(_first_second_with(info, day - _DAY, day, offset))
            offsets.append(offset)
    return np.array(instants, dtype=np.int64), np.array(offsets, dtype=np.int64)


def _load_zone(zone: str) -> ZoneInfo:
    try:
        return ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError, OSError) as error:
        raise ValueError(
            f"unknown time zone {zone!r}: use an IANA name such as 'Europe/Athens' or 'UTC'"
        ) from error


def _offset(info: ZoneInfo, utc: int) -> int:
    offset = datetime.fromtimestamp(utc, info).utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0


def _first_second_with(info: ZoneInfo, low: int, high: int, offset: int) -> int:
    """The first second in (low, high] whose offset is ``offset`` (it holds at ``high``)."""
    while high - low > 1:
        middle = (low + high) // 2
        if _offset(info, middle) == offset:
            high = middle
        else:
            low = middle
    return high


class BrokerTime:
    """Converts true UTC to the broker's server clock and back, scalar or vectorised.

    ``zone`` is an IANA zone name (default ``Europe/Athens``: UTC+2 in winter, UTC+3 in
    summer, as many brokers run), ``UTC``, or a zone plus hours (``America/New_York+7``:
    New York's wall clock seven hours on, the other common broker style). Offsets are known from 1970 to 2100; later
    instants keep the last offset. See the module docstring for repeated/skipped hours.
    """

    def __init__(self, zone: str = "Europe/Athens") -> None:
        self.zone = zone
        self._changes, self._offsets = _zone_table(zone)
        before = np.concatenate(([self._offsets[0]], self._offsets[:-1]))
        # The server clock is switched when its own (old) reading shows the change.
        self._switches = self._changes + before
        self._switches[0] = _BEFORE_EVERYTHING
        self._before = before
        for offset in self._offsets:
            if offset % 60:
                raise ValueError(f"time zone {zone!r} has an offset that is not whole minutes")

    def __repr__(self) -> str:
        return f"BrokerTime({self.zone!r})"

    def offset_array(self, utc: np.ndarray) -> np.ndarray:
        """UTC offset (seconds) of the server clock at each UTC instant."""
        index = np.searchsorted(self._changes, np.floor(utc).astype(np.int64), "right") - 1
        return self._offsets[index]

    def to_server_array(self, utc: np.ndarray) -> np.ndarray:
        """Server readings (int64 seconds) of UTC instants (seconds, floats floored)."""
        seconds = np.floor(np.asarray(utc, dtype=np.float64)).astype(np.int64)
        return seconds + self.offset_array(seconds)

    def to_utc_array(self, server: np.ndarray) -> np.ndarray:
        """UTC instants (int64 seconds) of server readings; the earlier one when ambiguous."""
        server = np.asarray(server, dtype=np.int64)
        index = np.searchsorted(self._switches, server, "right") - 1
        return server - self._offsets[index]

    def to_server(self, utc: float) -> int:
        return int(self.to_server_array(np.array([utc], dtype=np.float64))[0])

    def to_utc(self, server: int) -> float:
        return float(self.to_utc_array(np.array([int(server)], dtype=np.int64))[0])

    def repeated_array(self, utc: np.ndarray) -> np.ndarray:
        """True for UTC instants whose server reading was already shown (autumn's 2nd pass)."""
        seconds = np.floor(np.asarray(utc, dtype=np.float64)).astype(np.int64)
        index = np.searchsorted(self._changes, seconds, "right") - 1
        went_back = self._before[index] - self._offsets[index]
        return (went_back > 0) & (seconds < self._changes[index] + went_back)

    def repeated(self, utc: float) -> bool:
        return bool(self.repeated_array(np.array([utc], dtype=np.float64))[0])

    def server_msc(self, utc: float) -> int:
        """The latest server reading (ms) shown up to ``utc``: the server clock's high mark.

        Equal to the server reading of ``utc`` except during a repeated hour, where it stays
        at the last millisecond before the clock was put back.
        """
        seconds = int(np.floor(utc))
        index = int(np.searchsorted(self._changes, seconds, "right") - 1)
        went_back = int(self._before[index] - self._offsets[index])
        if went_back > 0 and seconds < self._changes[index] + went_back:
            return int((self._changes[index] + self._before[index]) * 1000 - 1)
        return int(np.floor(utc * 1000)) + int(self._offsets[index]) * 1000
