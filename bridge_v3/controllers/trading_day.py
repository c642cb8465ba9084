"""The broker's trading day: the server day of an instant, and its bounds in UTC.

The server date of an instant is the date of ``server_time.to_server(utc)`` read as a UTC
epoch; the day runs from server midnight to the next, whatever their UTC times are.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone

import numpy as np

from bridge_v3.services.server_time import ServerTime

DAY = 86_400


@dataclass(frozen=True)
class TradingDay:
    day: date
    start: float  # UTC seconds of server midnight
    end: float  # UTC seconds of the next server midnight

    @property
    def start_time(self) -> datetime:
        return datetime.fromtimestamp(self.start, tz=timezone.utc)

    @property
    def end_time(self) -> datetime:
        return datetime.fromtimestamp(self.end, tz=timezone.utc)


def trading_day(server_time: ServerTime, utc: float) -> TradingDay:
    """The server day holding the UTC instant ``utc``."""
    midnight = server_time.to_server(utc) // DAY * DAY
    bounds = server_time.to_utc_array(np.array([midnight, midnight + DAY], dtype=np.int64))
    day = datetime.fromtimestamp(midnight, tz=timezone.utc).date()
    return TradingDay(day, float(bounds[0]), float(bounds[1]))
