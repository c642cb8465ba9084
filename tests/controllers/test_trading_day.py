"""The broker's trading day: server midnight to server midnight, in UTC, across DST."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from bridge_v3.controllers.trading_day import trading_day
from bridge_v3.services.server_time import ServerTime


def utc(*args: int) -> float:
    return datetime(*args, tzinfo=timezone.utc).timestamp()


@pytest.mark.parametrize(
    ("zone", "instant", "day", "start", "end"),
    [
        # Athens is UTC+2 in winter: the server day starts at 22:00 UTC the evening before.
        ("Europe/Athens", utc(2026, 3, 25, 10), date(2026, 3, 25), utc(2026, 3, 24, 22), utc(2026, 3, 25, 22)),
        ("Europe/Athens", utc(2026, 3, 25, 22, 0, 1), date(2026, 3, 26), utc(2026, 3, 25, 22), utc(2026, 3, 26, 22)),
        # 29 March 2026: summer time from 01:00 UTC, so this server day lasts 23 hours.
        ("Europe/Athens", utc(2026, 3, 29, 12), date(2026, 3, 29), utc(2026, 3, 28, 22), utc(2026, 3, 29, 21)),
        # 25 October 2026: back to winter time, a 25-hour server day.
        ("Europe/Athens", utc(2026, 10, 25, 12), date(2026, 10, 25), utc(2026, 10, 24, 21), utc(2026, 10, 25, 22)),
        # New York + 7 moves on US dates (8 March 2026).
        ("America/New_York+7", utc(2026, 3, 9, 12), date(2026, 3, 9), utc(2026, 3, 8, 21), utc(2026, 3, 9, 21)),
        ("UTC", utc(2026, 3, 25, 23, 59, 59), date(2026, 3, 25), utc(2026, 3, 25), utc(2026, 3, 26)),
    ],
)  # fmt: skip
def test_the_day_runs_from_server_midnight_to_server_midnight(zone, instant, day, start, end):
    found = trading_day(ServerTime(zone), instant)

    assert (found.day, found.start, found.end) == (day, start, end)


def test_the_day_is_known_while_the_broker_clock_is_distrusted():
    clock = ServerTime("Europe/Athens")
    clock.distrust("ticks contradict the zone")

    found = trading_day(clock, utc(2026, 3, 25, 10))

    assert (found.day, found.start) == (date(2026, 3, 25), utc(2026, 3, 24, 22))
