"""Keeps the broker clock right for as long as the bridge runs (DESIGN §3.3).

With ``MT5_SERVER_TIMEZONE=auto`` the zone is read from the terminal's hourly history at
every connection (``bridge_v3.services.broker_clock``) and again every few hours; any zone,
detected or configured, is checked against live ticks at every connection and every
minute. When the terminal contradicts the clock, or two zones that fit the history
disagree about the present, ``ServerTime`` is distrusted: nothing converts server time to
UTC, so nothing is stored with a wrong time (fail closed), until the clock agrees again.
Each change of state is logged once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from bridge_v3.exceptions import BridgeError, TerminalDisconnectedError
from bridge_v3.services import broker_clock
from bridge_v3.services.broker_clock import Detection
from bridge_v3.services.mt5.contract.constants import TIMEFRAME_H1
from bridge_v3.services.server_time import ServerTime

logger = logging.getLogger(__name__)

Call = Callable[..., Any]  # one terminal call, the MT5 service's lock held
HISTORY_STEPS = (120, 370)  # days of H1 read; the longer only when the shorter is ambiguous
REDETECT_SECONDS = 6 * 3_600
MAX_SYMBOLS = 2  # weekends are the broker's, not a symbol's: two series are plenty
FOREX_MAJORS = "*EURUSD*,*GBPUSD*,*USDJPY*"  # symbols_get group: any broker suffix
_DAY = 86_400


class ClockWatch:
    """Detects (``auto``) and checks the broker clock of one ``ServerTime``."""

    def __init__(
        self,
        server_time: ServerTime,
        *,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._server_time = server_time
        self._clock = clock
        self._monotonic = monotonic
        self.detection: Detection | None = None
        self._detected_at: float | None = None
        self._last_tick_msc: int | None = None
        self._last_look: float | None = None
        self._problem: str | None = None

    def status(self) -> dict:
        """For the heartbeat and ``--check``."""
        st = self._server_time
        return {
            "zone": st.zone,
            "configured": st.spec,
            "trusted": st.trusted,
            "detected": self.detection.describe() if self.detection else None,
            "problem": st.distrust_reason or self._problem,
        }

    def check(self, call: Call, symbols: Iterable[str], *, redetect: bool = False) -> None:
        """Detect if due (or ``redetect``), then confront the clock with live ticks.

        Terminal disconnections propagate; any other terminal failure leaves the state as
        it was (a clock is not condemned because one request failed).
        """
        symbols = list(dict.fromkeys(symbols))
        if self._server_time.is_auto and (redetect or self._detection_due()):
            self._adopt(self._detect(call, symbols), symbols)
        if self._server_time.zone is None:
            return
        self._judge(self._live_problem(call, symbols) or self._ambiguity_now())

    # -- detection ---------------------------------------------------------------------

    def _detection_due(self) -> bool:
        if self._detected_at is None or self.detection is None or self.detection.zone is None:
            return True
        if self.detection.ambiguous or not self._server_time.trusted:
            return True
        return self._monotonic() - self._detected_at >= REDETECT_SECONDS

    def _detect(self, call: Call, symbols: list[str]) -> Detection:
        detection = Detection(None, 0, 0)
        for days in HISTORY_STEPS:
            found = self._weekends(call, symbols, days)
            detection = broker_clock.detect(found, now=self._clock())
            if detection.zone is not None and not detection.ambiguous:
                break
        self._detected_at = self._monotonic()
        return detection

    def _weekends(self, call: Call, symbols: list[str], days: int) -> list:
        """Weekends of the configured symbols; of the broker's major forex pairs when
        none of those pauses at weekends (a crypto-only bridge)."""
        found = self._weekends_of(call, symbols, days)
        if not found:
            found = self._weekends_of(call, self._forex_majors(call), days)
        return found

    @staticmethod
    def _forex_majors(call: Call) -> list[str]:
        """The broker's names for a few major pairs (suffixes included: EURUSD.m)."""
        try:
            offered = call("symbols_get", group=FOREX_MAJORS)
        except TerminalDisconnectedError:
            raise
        except BridgeError:
            return []
        return [item["name"] for item in offered][: MAX_SYMBOLS * 2]

    def _weekends_of(self, call: Call, symbols: list[str], days: int) -> list:
        now = int(self._clock())
        found: list = []
        used = 0
        for symbol in symbols:
            rates = self._history(call, symbol, now - days * _DAY, now + 2 * _DAY)
            weekends = broker_clock.weekends(rates["time"], 3_600) if rates is not None else []
            if weekends:
                found += weekends
                used += 1
            if used >= MAX_SYMBOLS:
                break
        return found

    @staticmethod
    def _history(call: Call, symbol: str, start: int, end: int) -> np.ndarray | None:
        # Bounds are UTC read as server time: within a day of right, which detection allows.
        try:
            return call("copy_rates_range", symbol, TIMEFRAME_H1, start, end)
        except TerminalDisconnectedError:
            raise
        except BridgeError as error:
            logger.debug("No H1 history of %s for clock detection: %s", symbol, error)
            return None

    def _adopt(self, detection: Detection, symbols: list[str]) -> None:
        previous, self.detection = self.detection, detection
        st = self._server_time
        if detection.zone is None:
            self._problem = (
                "MT5_SERVER_TIMEZONE=auto could not recognise the broker's clock from the "
                f"weekends of {', '.join(symbols) or 'no symbol'} ({detection.describe()}); "
                "set MT5_SERVER_TIMEZONE (e.g. Europe/Athens or America/New_York+7)"
            )
            if previous is None or previous.zone is not None:
                logger.error("%s; nothing is stored until it is known", self._problem)
            return
        self._problem = None
        if st.zone != detection.zone:
            if st.zone is not None:
                logger.warning(
                    "Broker clock re-read from history: %s instead of %s",
                    detection.zone,
                    st.zone,
                )
            st.adopt(detection.zone)
        if previous is None or previous.describe() != detection.describe():
            log = logger.warning if detection.ambiguous else logger.info
            log("Broker clock detected from history: %s", detection.describe())

    # -- live checks -------------------------------------------------------------------

    def _live_problem(self, call: Call, symbols: list[str]) -> str | None:
        newest = self._newest_tick_msc(call, symbols)
        now = self._clock()
        previous_look, self._last_look = self._last_look, now
        if newest is None:
            return None
        advanced = self._last_tick_msc is not None and newest > self._last_tick_msc
        self._last_tick_msc = newest
        tick_utc = self._tick_utc(newest, now)
        return broker_clock.live_contradiction(tick_utc, now, previous_look, advanced)

    @staticmethod
    def _newest_tick_msc(call: Call, symbols: list[str]) -> int | None:
        newest = None
        for symbol in symbols:
            try:
                tick = call("symbol_info_tick", symbol)
            except TerminalDisconnectedError:
                raise
            except BridgeError:
                continue
            msc = int(tick.get("time_msc") or int(tick.get("time", 0)) * 1000)
            newest = msc if newest is None else max(newest, msc)
        return newest

    def _tick_utc(self, server_msc: int, now: float) -> float:
        """The tick's UTC under the clock in force. A reading inside a repeated autumn hour
        stands for two instants: the later one unless that lies in the host's future (no
        tick is made after the clock went back, say, and the last one is from before)."""
        clock = broker_clock.clock_for(self._server_time.zone)
        earlier, later = (
            clock.to_utc_msc_array(np.array([server_msc]), policy)[0] / 1000
            for policy in ("earlier", "later")
        )
        return later if later <= now + broker_clock.TOLERANCE else earlier

    def _ambiguity_now(self) -> str | None:
        detection = self.detection
        if detection is None or not detection.ambiguous:
            return None
        zones = (detection.zone, *detection.ambiguous_with)
        if broker_clock.disagree_at(zones, self._clock()):
            return f"{' and '.join(zones)} both fit the history but disagree about now"
        return None

    def _judge(self, problem: str | None) -> None:
        st = self._server_time
        if problem is not None:
            if st.trusted:
                logger.error(
                    "Broker clock %s contradicted: %s; bars, ticks and trades are not stored "
                    "until it agrees again",
                    st.zone,
                    problem,
                )
            st.distrust(problem)
        elif problem is None and not st.trusted:
            logger.info("Broker clock %s agrees with the terminal again: storing resumes", st.zone)
            st.trust()
