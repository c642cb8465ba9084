"""The broker's trading day: the server day of an instant, and its bounds in UTC.

The server date of an instant is the date of ``server_time.to_server(utc)`` read as a UTC
epoch; the day runs from server midnight to the next, whatever their UTC times are. Only
UTC -> server conversions are used, so the day is known even while the broker clock is
distrusted (server -> UTC conversions then refuse, and a risk check must still run).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone

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
    server = server_time.to_server(utc)
    midnight = server // DAY * DAY
    start = _utc_showing(server_time, midnight, int(utc) - (server - midnight))
    end = _utc_showing(server_time, midnight + DAY, start + DAY)
    day = datetime.fromtimestamp(midnight, tz=timezone.utc).date()
    return TradingDay(day, float(start), float(end))


def _utc_showing(server_time: ServerTime, server_epoch: int, guess: int) -> int:
    """The UTC second at which the broker's clock shows ``server_epoch``, from a guess off
    by at most the day's clock change (one correction settles it; a time the clock skips
    ends at the nearest second it shows)."""
    for _ in range(3):
        shown = server_time.to_server(guess)
        if shown == server_epoch:
            break
        guess += server_epoch - shown
    return guess
