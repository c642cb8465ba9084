"""Which clock a broker's server keeps, read from the terminal's own history and ticks.

The interbank week closes on Friday at 17:00 and opens on Sunday at 17:00 New York time,
whatever the broker. In an hourly forex series each weekend therefore shows, in server
time, where those two instants fall on the broker's clock. Every candidate clock predicts
where they fall; the one that explains the weekends is the broker's. Two candidates that
explain every weekend seen yet disagree at some other instant (the weeks when European
and American daylight saving differ, say) make the result *ambiguous*.

Live ticks confirm a clock: converted with it, the newest tick must not lie in the future
of the host's clock, and a tick that arrived since the previous look must not lie before
that look.

Pure functions of the data: ``bridge_v3.services.mt5.clock_watch`` fetches and acts.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np

from bridge_v3.services.server_time import ServerTime

NEW_YORK = ZoneInfo("America/New_York")
WEEKEND_GAP = 40 * 3_600  # a pause this long is a weekend (a holiday closes about 26 h)
MIN_WEEKENDS = 3
MIN_SHARE = 0.75  # of the weekends seen, the chosen clock must explain at least this share
LOOKAHEAD = 400 * 86_400  # how far ahead two fitting clocks must agree to be one answer
TOLERANCE = 120.0  # seconds of host-clock skew and tick delay a live check forgives

# Order is preference among clocks that are equal forever (the first is reported).
_DST_ZONES = (
    "Europe/Athens",  # UTC+2/+3 on European dates: the most common broker clock
    "America/New_York+7",  # UTC+2/+3 on US dates: the week closes at server midnight
    "Europe/London",
    "Europe/Berlin",
    "America/New_York",
    "America/Chicago",
    "Australia/Sydney",
    "Asia/Jerusalem",
)
_FIXED = ["UTC"] + [
    f"UTC{sign}{h}" for h in range(1, 15) for sign in "+-" if sign == "+" or h <= 12
]
_HALF_HOURS = ("UTC+3:30", "UTC+4:30", "UTC+5:30", "UTC+5:45", "UTC+6:30", "UTC+9:30")
CANDIDATES: tuple[str, ...] = _DST_ZONES + tuple(_FIXED) + _HALF_HOURS


@dataclass(frozen=True)
class Weekend:
    """One weekend pause in a series: the last bar before it and the first after it."""

    last_open: int  # server epoch of the last bar's open time
    first_open: int  # server epoch of the first bar after the pause
    bar_seconds: int


@dataclass(frozen=True)
class Detection:
    """The result of reading a broker's clock from its weekends."""

    zone: str | None  # None: no clock explains the weekends well enough
    weekends: int
    matched: int  # weekends the chosen clock explains
    runner_up: str | None = None
    runner_up_matched: int = 0
    ambiguous_with: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ambiguous(self) -> bool:
        return bool(self.ambiguous_with)

    def describe(self) -> str:
        """One line for the log and ``--check``."""
        if self.zone is None:
            return f"not recognised ({self._fit()})"
        text = f"{self.zone} ({self._fit()})"
        if self.ambiguous:
            return text + f"; AMBIGUOUS: {', '.join(self.ambiguous_with)} fit as well"
        if self.runner_up:
            text += f"; next best {self.runner_up} fits {self.runner_up_matched}"
        return text

    def _fit(self) -> str:
        return f"{self.matched} of {self.weekends} weekends fit"


def weekends(open_times: np.ndarray, bar_seconds: int) -> list[Weekend]:
    """The weekend pauses in bar open times (server epochs, oldest first)."""
    times = np.asarray(open_times, dtype=np.int64)
    gaps = np.flatnonzero(np.diff(times) >= WEEKEND_GAP)
    return [Weekend(int(times[i]), int(times[i + 1]), bar_seconds) for i in gaps]


def detect(found: list[Weekend], *, now: float, candidates=CANDIDATES) -> Detection:
    """The candidate clock that explains the most weekends, and how sure that is."""
    if not found:
        return Detection(None, 0, 0)
    closes, opens = _true_edges(found)
    scores = {name: _score(name, found, closes, opens) for name in candidates}
    ranked = sorted(
        candidates, key=lambda name: (-scores[name][0], -scores[name][1])
    )  # stable: keeps preference
    best = ranked[0]
    matched = scores[best][0]
    if matched < MIN_WEEKENDS or matched < MIN_SHARE * len(found):
        return Detection(None, len(found), matched)
    ties = [name for name in ranked[1:] if scores[name] == scores[best]]
    since = min(w.last_open for w in found) - 86_400
    differing = tuple(name for name in ties if not same_clock(best, name, since, now + LOOKAHEAD))
    others = [name for name in ranked[1:] if not same_clock(best, name, since, now + LOOKAHEAD)]
    runner = others[0] if others else None
    return Detection(
        best,
        len(found),
        matched,
        runner,
        scores[runner][0] if runner else 0,
        differing,
    )


def same_clock(a: str, b: str, start: float, end: float) -> bool:
    """True when clocks ``a`` and ``b`` read the same at every half hour in [start, end]."""
    instants = np.arange(int(start), int(end), 1_800, dtype=np.int64)
    return bool(
        np.array_equal(
            clock_for(a).to_server_array(instants), clock_for(b).to_server_array(instants)
        )
    )


def disagree_at(zones: tuple[str, ...], utc: float) -> bool:
    """True when the clocks ``zones`` show different server times at ``utc``."""
    return len({clock_for(zone).to_server(utc) for zone in zones}) > 1


def live_contradiction(
    tick_utc: float, host_now: float, previous_look: float | None, advanced: bool
) -> str | None:
    """Why a live tick converted to ``tick_utc`` contradicts the clock, or None.

    ``advanced``: the newest tick changed since the previous look at ``previous_look``
    (host time), so it was made after that look.
    """
    if tick_utc > host_now + TOLERANCE:
        return f"the newest tick would be {tick_utc - host_now:.0f} s in the future of this host"
    if advanced and previous_look is not None and tick_utc < previous_look - TOLERANCE:
        late = previous_look - tick_utc
        return f"a tick that arrived in the last {host_now - previous_look:.0f} s would be {late:.0f} s older"
    return None


# -- internals ---------------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def clock_for(spec: str) -> ServerTime:
    """A shared converter for one clock spec (never distrusted: for reasoning only)."""
    return ServerTime(spec)


def _score(name: str, found: list[Weekend], closes: np.ndarray, opens: np.ndarray) -> tuple:
    """(weekends explained, edges explained) under clock ``name``."""
    clock = clock_for(name)
    close_server = clock.to_server_array(closes)
    open_server = clock.to_server_array(opens)
    last = np.array([w.last_open for w in found], dtype=np.int64)
    first = np.array([w.first_open for w in found], dtype=np.int64)
    bar = np.array([w.bar_seconds for w in found], dtype=np.int64)
    close_ok = (last <= close_server - 1) & (close_server - 1 < last + bar)
    open_ok = (first <= open_server) & (open_server < first + bar)
    return int(np.sum(close_ok & open_ok)), int(np.sum(close_ok) + np.sum(open_ok))


def _true_edges(found: list[Weekend]) -> tuple[np.ndarray, np.ndarray]:
    """UTC of the Friday 17:00 and Sunday 17:00 New York nearest each weekend."""
    closes, opens = [], []
    for weekend in found:
        friday = _nearest_friday_close(weekend.last_open)
        closes.append(friday.timestamp())
        opens.append((friday + timedelta(days=2)).timestamp())
    return np.array(closes, dtype=np.int64), np.array(opens, dtype=np.int64)


def _nearest_friday_close(server_epoch: int) -> datetime:
    """Friday 17:00 New York (as an aware datetime) nearest a server reading.

    Server clocks lie within a day of UTC, so the nearest Friday close is the right one.
    """
    day = datetime.fromtimestamp(server_epoch, timezone.utc).date()
    fridays = [day + timedelta(days=(4 - day.weekday()) % 7 - 7 * k) for k in (0, 1)]
    moments = [datetime(f.year, f.month, f.day, 17, tzinfo=NEW_YORK) for f in fridays]
    return min(moments, key=lambda m: abs(m.timestamp() - server_epoch))
