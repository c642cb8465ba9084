"""Broker server time <-> true UTC, vectorised.

MT5 stamps bars, ticks and deals with the broker's server wall clock written as if it
were a Unix epoch ("server epochs"). ``ServerTime`` converts those numbers to real UTC
epochs and back, following a broker clock given as a spec (``MT5_SERVER_TIMEZONE``):

* an IANA zone (``Europe/Athens``, ``EET``; ``Etc/GMT+2`` keeps its POSIX meaning, UTC-2);
* ``UTC`` (server clock is UTC);
* a zone plus fixed hours, ``America/New_York+7`` or ``Asia/Tokyo-0:30``: the broker
  clock shows that zone's wall time shifted by the hours (New York + 7 h is UTC+2 in
  winter and UTC+3 in summer, switching on US DST dates);
* ``auto``: the zone is not known yet; :meth:`ServerTime.adopt` sets the one detected from
  the terminal's history (``bridge_v3.services.broker_clock``). Always a zone with its
  daylight-saving rules, never one frozen offset.

A clock can be *distrusted* (:meth:`ServerTime.distrust`) when the terminal contradicts
it: server -> UTC conversions then raise ``BrokerClockUntrustedError`` so that nothing is
stored with wrong times (fail closed) until :meth:`ServerTime.trust` is called again.

Daylight-saving changes make server wall time ambiguous (autumn: an hour occurs twice)
or impossible (spring: an hour is skipped). The ``ambiguous`` policy of the array
conversions decides: ``"earlier"`` / ``"later"`` follow Python's ``fold=0`` / ``fold=1``
(PEP 495: the offset before / after the change, for repeated and skipped times alike);
``"order"`` (default) reads the array oldest -> newest, as MT5 returns it, and moves to
the later offset once a time inside a repeated window goes back (second pass).
Skipped times under ``"order"`` use the offset before the change (as ``fold=0``).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

from bridge_v3.exceptions import ConfigError, TemporaryError

AMBIGUOUS_POLICIES = ("order", "earlier", "later")
_SHIFT = re.compile(r"^(?P<zone>.+?)(?P<sign>[+-])(?P<hours>\d{1,2})(?::(?P<minutes>[0-5]\d))?$")
_DAY = 86_400


class ServerTimeNotCalibratedError(TemporaryError):
    """``auto`` server time has not detected the broker's clock yet."""


class BrokerClockUntrustedError(TemporaryError):
    """The terminal contradicted the broker clock: nothing is converted until it agrees."""


def _load_zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


def _utc_epoch_of_year(year: int) -> int:
    return int(datetime(year, 1, 1, tzinfo=timezone.utc).timestamp())


def _year_of(utc_epoch: int) -> int:
    return datetime.fromtimestamp(utc_epoch, timezone.utc).year


class _ZoneTable:
    """UTC offset transitions of one zone, computed per calendar year and cached.

    zoneinfo keeps its transition list private, so it is rebuilt by sampling the offset
    once a day and bisecting each change to the second (zones never change twice a day).
    """

    def __init__(self, zone: ZoneInfo) -> None:
        self._zone = zone
        self._years: dict[int, list[tuple[int, int]]] = {}
        # Every conversion asks for the table of the year(s) it spans; a price cycle asks
        # thousands of times for the same one or two years, so each span is built once.
        self._spans: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}

    def offset(self, utc_epoch: int) -> int:
        moment = datetime.fromtimestamp(utc_epoch, timezone.utc).astimezone(self._zone)
        return int(moment.utcoffset().total_seconds())

    def table(self, first_utc: int, last_utc: int) -> tuple[np.ndarray, np.ndarray]:
        """Transition instants T (UTC) and offsets O, ``O[k]`` in force before ``T[k]``.

        Covers every transition in [first_utc, last_utc]; ``len(O) == len(T) + 1``.
        """
        span = (_year_of(first_utc), _year_of(last_utc))
        found = self._spans.get(span)
        if found is None:
            found = self._spans[span] = self._span(*span)
        return found

    def _span(self, first_year: int, last_year: int) -> tuple[np.ndarray, np.ndarray]:
        changes = [c for y in range(first_year, last_year + 1) for c in self._year(y)]
        offsets = [self.offset(_utc_epoch_of_year(first_year))] + [o for _, o in changes]
        transitions = np.array([t for t, _ in changes], dtype=np.int64)
        found = transitions, np.array(offsets, np.int64)
        for array in found:
            array.flags.writeable = False  # shared by every later conversion
        return found

    def _year(self, year: int) -> list[tuple[int, int]]:
        """(instant, new offset) of each change in (1 Jan year, 1 Jan year+1]."""
        if year not in self._years:
            start, end = _utc_epoch_of_year(year), _utc_epoch_of_year(year + 1)
            days = list(range(start, end, _DAY)) + [end]
            offsets = [self.offset(day) for day in days]
            self._years[year] = [
                (self._bisect(days[i], days[i + 1]), offsets[i + 1])
                for i in range(len(days) - 1)
                if offsets[i] != offsets[i + 1]
            ]
        return self._years[year]

    def _bisect(self, before: int, after: int) -> int:
        """First second in (before, after] carrying the offset found at ``after``."""
        old = self.offset(before)
        while after - before > 1:
            middle = (before + after) // 2
            if self.offset(middle) == old:
                before = middle
            else:
                after = middle
        return after


def _as_epoch(value: datetime | float) -> int:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass a tz-aware UTC datetime or an epoch")
        return int(value.timestamp() // 1)
    return int(value // 1)


class _Clock:
    """One broker clock: a zone (None = UTC) plus a fixed shift in seconds. Immutable."""

    def __init__(self, spec: str, variable: str) -> None:
        self.spec = spec
        self.zone: ZoneInfo | None = None
        self.shift = 0  # fixed seconds added to the zone's wall time
        if spec.lower() != "utc":
            self.zone = _load_zone(spec) or self._parse_shifted(variable)
        self.table = _ZoneTable(self.zone) if self.zone is not None else None

    def _parse_shifted(self, variable: str) -> ZoneInfo | None:
        match = _SHIFT.match(self.spec)
        zone_name = match["zone"] if match else ""
        is_utc = zone_name.lower() == "utc"
        zone = None if is_utc else _load_zone(zone_name)
        if match is None or (zone is None and not is_utc):
            raise ConfigError(
                variable,
                f"must be an IANA time zone, UTC, ZONE+H[:MM] or auto, got {self.spec!r}",
                "Europe/Athens",
            )
        seconds = int(match["hours"]) * 3_600 + int(match["minutes"] or 0) * 60
        self.shift = seconds if match["sign"] == "+" else -seconds
        return zone

    def to_server_array(self, utc: np.ndarray) -> np.ndarray:
        if self.table is None or utc.size == 0:
            return utc + self.shift
        changes, offsets = self.table.table(int(utc.min()), int(utc.max()))
        return utc + offsets[np.searchsorted(changes, utc, side="right")] + self.shift

    def offsets(
        self, server: np.ndarray, ambiguous: str, strict: bool, order_key: np.ndarray | None
    ) -> np.ndarray:
        if self.table is None or server.size == 0:
            return np.full(server.shape, self.shift, dtype=np.int64)
        wall = server - self.shift  # the zone's own wall clock
        changes, offsets = self.table.table(int(wall.min()) - _DAY, int(wall.max()) + _DAY)
        starts = changes + np.minimum(offsets[:-1], offsets[1:])
        ends = changes + np.maximum(offsets[:-1], offsets[1:])
        before = np.searchsorted(ends, wall, side="right")  # fold=0
        if ambiguous == "earlier":
            return offsets[before] + self.shift
        after = np.searchsorted(starts, wall, side="right")  # fold=1
        if ambiguous == "order":
            key = wall if order_key is None else order_key
            after = _resolve_by_order(before, after, offsets, key, strict)
        return offsets[after] + self.shift


class ServerTime:
    """Converts broker server epochs to UTC epochs and back (see module docstring).

    One instance may be shared by threads: each conversion reads the clock in force once,
    so an ``adopt`` or ``distrust`` affects whole batches, never half of one.
    """

    def __init__(self, spec: str, *, variable: str = "MT5_SERVER_TIMEZONE") -> None:
        self.spec = spec.strip()
        self._variable = variable
        self._auto = self.spec.lower() == "auto"
        self._clock: _Clock | None = None if self._auto else _Clock(self.spec, variable)
        self._distrust: str | None = None

    def __repr__(self) -> str:
        return f"ServerTime({self.spec!r}, zone={self.zone!r})"

    @property
    def is_auto(self) -> bool:
        return self._auto

    @property
    def zone(self) -> str | None:
        """The broker clock in force (``Europe/Athens``, ``America/New_York+7``), or None
        while ``auto`` has not detected one."""
        clock = self._clock
        return clock.spec if clock is not None else None

    @property
    def trusted(self) -> bool:
        """True when a zone is known and nothing has contradicted it."""
        return self._clock is not None and self._distrust is None

    @property
    def distrust_reason(self) -> str | None:
        return self._distrust

    def adopt(self, spec: str) -> None:
        """Convert with the broker clock ``spec`` from now on (``auto`` detection's result)."""
        if not self._auto:
            raise ValueError(f"adopt() applies to 'auto' server time, not {self.spec!r}")
        self._clock = _Clock(spec, self._variable)

    def distrust(self, reason: str) -> None:
        """Refuse server -> UTC conversions until :meth:`trust` (fail closed)."""
        self._distrust = reason

    def trust(self) -> None:
        self._distrust = None

    def _current(self, *, converting_to_utc: bool) -> _Clock:
        clock = self._clock
        if clock is None:
            raise ServerTimeNotCalibratedError(
                "MT5_SERVER_TIMEZONE=auto has not detected the broker's clock yet; it is "
                "read from the terminal's history at connection (or set the zone explicitly)"
            )
        reason = self._distrust
        if converting_to_utc and reason is not None:
            raise BrokerClockUntrustedError(f"broker clock {clock.spec} not trusted: {reason}")
        return clock

    # --------------------------------------------------------------- conversions

    def offsets_array(self, server_epochs: np.ndarray, ambiguous: str = "order") -> np.ndarray:
        """Seconds to subtract from each server epoch to get UTC (int64, same shape).

        ``"order"`` treats a time not later than an earlier time of the same repeated
        window as the second pass, which suits bars (each time once per pass). Not for
        tick seconds, where many ticks share a second: use :meth:`to_utc_msc_array`.
        """
        return self._offsets(np.asarray(server_epochs, dtype=np.int64), ambiguous, strict=False)

    def to_utc_array(self, server_epochs: np.ndarray, ambiguous: str = "order") -> np.ndarray:
        """Server epochs (seconds, int64) -> UTC epochs (seconds, int64).

        For bar times (see :meth:`offsets_array`); ticks go through
        :meth:`to_utc_msc_array`.
        """
        server = np.asarray(server_epochs, dtype=np.int64)
        return server - self._offsets(server, ambiguous, strict=False)

    def to_utc_msc_array(self, server_msc: np.ndarray, ambiguous: str = "order") -> np.ndarray:
        """Server milliseconds (tick ``time_msc``) -> UTC milliseconds (int64).

        Under ``"order"`` only a strictly earlier time starts the second pass, so many
        ticks within one millisecond or second never look like a clock change.
        """
        msc = np.asarray(server_msc, dtype=np.int64)
        offsets = self._offsets(msc // 1000, ambiguous, strict=True, order_key=msc)
        return msc - offsets * 1000

    def to_utc(self, server_epoch: int, ambiguous: str = "earlier") -> datetime:
        """One server epoch -> tz-aware UTC datetime (a lone time cannot be ordered)."""
        utc = self.to_utc_array(np.array([server_epoch], dtype=np.int64), ambiguous)[0]
        return datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=int(utc))

    def to_server_array(self, utc_epochs: np.ndarray) -> np.ndarray:
        """UTC epochs (seconds) -> server epochs; always unambiguous. Works while the clock
        is distrusted (query bounds and the trading day stay usable)."""
        clock = self._current(converting_to_utc=False)
        return clock.to_server_array(np.asarray(utc_epochs, dtype=np.int64))

    def to_server(self, utc: datetime | float) -> int:
        """A UTC instant (tz-aware datetime or epoch) -> server epoch, for request arguments."""
        return int(self.to_server_array(np.array([_as_epoch(utc)], dtype=np.int64))[0])

    def _offsets(
        self,
        server: np.ndarray,
        ambiguous: str,
        *,
        strict: bool,
        order_key: np.ndarray | None = None,
    ) -> np.ndarray:
        if ambiguous not in AMBIGUOUS_POLICIES:
            raise ValueError(f"ambiguous must be one of {AMBIGUOUS_POLICIES}, got {ambiguous!r}")
        clock = self._current(converting_to_utc=True)
        return clock.offsets(server, ambiguous, strict, order_key)


def _resolve_by_order(
    before: np.ndarray, after: np.ndarray, offsets: np.ndarray, key: np.ndarray, strict: bool
) -> np.ndarray:
    """Pick ``after`` (second pass) for repeated-window times once the series went back.

    Only windows where the clock moved back (offset decreased) are repeated; in a
    skipped window both passes are impossible and ``before`` is kept.
    """
    repeated = np.flatnonzero((before != after) & (offsets[before] > offsets[after]))
    if not repeated.size:  # nearly always: no time in a repeated hour
        return before
    chosen = before.copy()
    for window in np.unique(before[repeated]):
        members = repeated[before[repeated] == window]
        values = key[members]
        running_max = np.maximum.accumulate(values)
        went_back = values[1:] < running_max[:-1] if strict else values[1:] <= running_max[:-1]
        second_pass = np.logical_or.accumulate(np.concatenate(([False], went_back)))
        chosen[members[second_pass]] = after[members[second_pass]]
    return chosen
