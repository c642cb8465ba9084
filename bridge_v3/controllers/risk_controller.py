"""Risk: daily loss on equity, the ACTIVE / REDUCING / HALTED states, and the order gate.

``run_check`` (the ``risk`` job, CRITICAL, every ``RISK_CHECK_INTERVAL`` and after each
account and trades sync) reads the account, works out the broker day's loss on equity
against the day-start equity, lets :class:`RiskMachine` decide the state, and persists
it with the day's ``daily_performance`` row in one transaction. Each state change is a
``risk_events`` row and a ``risk`` envelope on ``mt5:risk`` committed together (see
``Publisher.stage``), and a WARNING (HALTED: CRITICAL); ``mt5:last:risk`` holds the latest
figures after every check.

The day starts at server midnight. Its start equity is the first equity seen in it when
the bridge was running at midnight; otherwise it is rebuilt from the balance and the
day's deals (and the log says so). HALTED is a latch kept in ``bridge_state``: it holds
across restarts and day changes until ``--risk-reset`` lifts it; the next check then
counts the day's loss from the equity at that moment.

``check(request)`` is the one gate every order passes (strategies, remote control):
see :mod:`bridge_v3.controllers.risk_gate` for the rules.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone

from bridge_v3.controllers.risk_gate import Book, Gate, judge
from bridge_v3.controllers.risk_machine import Call, RiskMachine, daily_loss_pct
from bridge_v3.controllers.symbol_controller import SymbolController
from bridge_v3.controllers.trade_controller import TradeController
from bridge_v3.controllers.trading_day import TradingDay, trading_day
from bridge_v3.exceptions import BridgeError
from bridge_v3.models.risk import Decision, RiskLimits, RiskReading, RiskState
from bridge_v3.models.trade import iso
from bridge_v3.services.mt5.contract import constants as mc
from bridge_v3.services.mt5.mt5_service import MT5Service
from bridge_v3.services.publisher import Publisher
from bridge_v3.services.risk_events import RiskEvent
from bridge_v3.services.risk_store import DayRow, RiskStore, RiskTransaction

logger = logging.getLogger(__name__)

MIDNIGHT_GAP = 60.0  # a check this close before server midnight counts as "running at midnight"
STALE_SLACK = 10.0  # seconds beyond three check intervals before the state is "not confirmed"


@dataclass(frozen=True)
class Outcome:
    """What one check decided: the new persisted value, and what to announce."""

    value: dict
    move: Call | None
    reset_from: dict | None  # the halt a person lifted since the last check


class RiskController:
    def __init__(
        self,
        mt5: MT5Service,
        store: RiskStore,
        publisher: Publisher,
        trades: TradeController,
        symbols: SymbolController,
        limits: RiskLimits,
        *,
        clock: Callable[[], float],
        confirm_samples: int,
        check_interval: float,
        last_ttl: int,
    ) -> None:
        self._mt5 = mt5
        self._store = store
        self._publisher = publisher
        self._trades = trades
        self._symbols = symbols
        self._limits = limits
        self._clock = clock
        self._machine = RiskMachine(limits, confirm_samples)
        self._gap = max(3 * check_interval, MIDNIGHT_GAP)
        self._stale_after = 3 * check_interval + STALE_SLACK
        self._checked_at: float | None = None  # when a check last committed
        self._last_ttl = last_ttl
        self._lock = threading.Lock()  # one check at a time
        self._known: dict | None = None  # the persisted state as last read or written
        self._hedging: bool | None = None
        self._ignoring = 0  # invalid readings in a row
        self._waiting_logged = False
        self.ignored_readings = 0

    @property
    def state(self) -> RiskState | None:
        """The state in force (None until read from PostgreSQL)."""
        known = self._known
        return RiskState(known["state"]) if known else None

    def load(self) -> None:
        """Read the persisted state (the latch) at start, before any order can be judged."""
        self._known = self._store.load() or {
            "state": RiskState.ACTIVE.value,
            "reason": "no check yet",
        }
        if self.state is RiskState.HALTED:
            logger.critical(
                "Risk state is HALTED since %s (%s): no new exposure until "
                "'python -m bridge_v3.main --risk-reset --by NAME'",
                self._known.get("since"),
                self._known.get("reason"),
            )

    def status(self) -> dict:
        """For the heartbeat."""
        known = self._known or {}
        return {
            "state": known.get("state"),
            "reason": known.get("reason"),
            "since": known.get("since"),
            "daily_loss_pct": known.get("daily_loss_pct"),
            "equity": known.get("equity"),
            "open_positions": known.get("open_positions"),
            "ignored_readings": self.ignored_readings,
        }

    # -- the gate -------------------------------------------------------------------------

    def check(self, request: Mapping) -> Decision:
        """Judge one MT5 trade request (the dict ``order_send`` takes) before it is sent.

        Returns a Decision (truthy when allowed). Closing, partial closing, close-by,
        cancelling and tightening stops are always allowed; opening is refused while
        trading is disabled, in HALTED or REDUCING, at a position limit, or outside the
        symbol's volume rules. If the account's book cannot be read, nothing is allowed.
        """
        try:
            gate = self._gate()
            decision = judge(request, gate)
        except BridgeError as error:
            decision = Decision.refuse("unknown", f"cannot judge the request: {error}", self.state)
        if not decision.allowed:
            logger.info("Risk gate refused an order: %s", decision.reason)
        return decision

    def _gate(self) -> Gate:
        known = self._known or {}
        trading = self._trades.status()
        stale = self._stale_check()
        enabled = bool(trading["enabled"])
        return Gate(
            state=self.state,
            state_reason=str(known.get("reason", "")),
            enabled=enabled and stale is None,
            disabled_reason=str(trading["reason"]) if not enabled else str(stale),
            # Times are not needed: read on the broker's clock, so a distrusted clock never
            # keeps a position from being closed.
            book=Book(
                self._mt5.positions(utc=False), self._mt5.orders(utc=False), self._is_hedging()
            ),
            limits=self._limits,
            spec=self._symbols.spec,
            category=self._symbols.category,
        )

    def _stale_check(self) -> str | None:
        """Why the state in force cannot be trusted for opening, or None. A state no check
        has confirmed lately (PostgreSQL or the terminal unreachable) might hide a breach:
        closing still passes, opening waits for a fresh check."""
        if self._checked_at is None:
            return "no risk check has completed yet"
        age = self._clock() - self._checked_at
        if age > self._stale_after:
            return f"the last completed risk check is {age:.0f} s old"
        return None

    def _is_hedging(self) -> bool:
        if self._hedging is None:
            self._note_mode(self._mt5.account_info())
        return bool(self._hedging)

    def _note_mode(self, info: Mapping) -> None:
        self._hedging = info.get("margin_mode") == mc.ACCOUNT_MARGIN_MODE_RETAIL_HEDGING

    # -- a person's halt -----------------------------------------------------------------

    def halt(self, by: str, reason: str = "") -> dict:
        """HALTED now, by a person (remote control): in the gate at once, persisted, an event
        and an envelope on ``mt5:risk`` as for any change. Lifted only as any halt is."""
        why = f"halted by {by}" + (f": {reason}" if reason else "")
        moment = _utc(self._clock())
        with self._lock:
            with self._store.transaction() as tx:
                saved = tx.state() or {}
                if saved.get("state") == RiskState.HALTED.value:
                    return {"state": "HALTED", "changed": False, "reason": saved.get("reason")}
                previous = saved.get("state", RiskState.ACTIVE.value)
                value = {**(self._known or {}), **saved, "state": RiskState.HALTED.value}
                value.update(previous=previous, reason=why, since=iso(moment), rebase_pending=False)
                tx.write_state(value)
                event = RiskEvent("state_change", moment, "HALTED", why, {"previous": previous})
                tx.add_event(event)
                if "day" in value:  # a check has run: the figures for the message exist
                    channel = self._publisher.redis.channel("risk")
                    message = self._message(value, previous)
                    self._publisher.stage(tx.connection, [(channel, "risk", message)])
            self._known = value
        logger.critical("Risk state %s -> HALTED: %s; no new exposure until lifted", previous, why)
        self._publisher.deliver()
        return {"state": "HALTED", "changed": True, "previous": previous, "reason": why}

    # -- the check ------------------------------------------------------------------------

    def run_check(self) -> dict | None:
        """One risk check (the ``risk`` job); returns the persisted state, or None when the
        check was skipped (reconciliation pending, or an unusable reading)."""
        if not self._trades.reconciled:
            if not self._waiting_logged:
                logger.info("Risk checks wait for the start-up reconciliation of trades")
                self._waiting_logged = True
            return None
        info = self._mt5.account_info()
        self._note_mode(info)
        reading = RiskReading.from_account(info, self._clock())
        if reading.problem is not None:
            self._ignore(reading.problem)
            return None
        self._readings_valid()
        with self._lock:
            with self._store.transaction() as tx:
                outcome = self._evaluate(tx, reading)
                self._publisher.stage(tx.connection, self._messages(outcome))
            # In force from the commit on, whatever happens while announcing it.
            self._known, self._checked_at = outcome.value, self._clock()
            self._announce(outcome)
        return outcome.value

    def _evaluate(self, tx: RiskTransaction, reading: RiskReading) -> Outcome:
        saved = tx.state()
        day = trading_day(self._mt5.server_time, reading.time)
        reset_from = self._lifted(saved)
        if reset_from is not None:
            self._machine.forget()
        base = self._day_start(tx, saved, day, reading)
        current = RiskState(saved["state"]) if saved else RiskState.ACTIVE
        loss = daily_loss_pct(base["day_start_equity"], reading.equity)
        move = self._machine.observe(current, self._machine.call(loss, reading))
        value = self._value(saved, base, reading, loss, tx.open_positions(), move, current)
        if move is not None:
            tx.add_event(self._event(value, move, reading))
        tx.write_state(value)
        self._record_day(tx, day, base, reading, value)
        return Outcome(value, move, reset_from)

    @staticmethod
    def _event(value: dict, move: Call, reading: RiskReading) -> RiskEvent:
        details = {
            k: value[k] for k in ("previous", "daily_loss_pct", "equity", "day_start_equity")
        }
        details.update(open_positions=value["open_positions"], limits=value["limits"])
        return RiskEvent("state_change", _utc(reading.time), move.state.value, move.reason, details)

    @staticmethod
    def _record_day(
        tx: RiskTransaction, day: TradingDay, base: dict, reading: RiskReading, value: dict
    ) -> None:
        """This check's figures into the day's ``daily_performance`` row."""
        tx.update_day(
            DayRow(
                day=day.day,
                start_balance=base["day_start_balance"],
                start_equity=base["day_start_equity"],
                balance=reading.balance,
                equity=reading.equity,
                floating=reading.profit,
                figures=tx.day_figures(day.start_time, day.end_time),
                halted=value["state"] == RiskState.HALTED.value,
            )
        )

    @staticmethod
    def _lifted(saved: dict | None) -> dict | None:
        """The state a person wrote with ``--risk-reset`` that no check has applied yet
        (while this bridge ran, or before it started)."""
        return saved if saved and saved.get("rebase_pending") else None

    def _day_start(
        self, tx: RiskTransaction, saved: dict | None, day: TradingDay, reading: RiskReading
    ) -> dict:
        """The day-start figures the daily loss is measured from."""
        if saved and saved.get("day") == day.day.isoformat():
            if not saved.get("rebase_pending"):
                return {
                    k: saved[k]
                    for k in ("day", "day_start_equity", "day_start_balance", "day_start_source")
                }
            logger.warning(
                "Daily loss counts from the equity at the reset, %.2f, for the rest of %s",
                reading.equity,
                day.day,
            )
            return _base(day, reading.equity, reading.balance, "reset")
        last = saved.get("last_check_utc") if saved else None
        if last is not None and day.start - self._gap <= last < day.start:
            return _base(day, reading.equity, reading.balance, "observed")
        realized = tx.day_figures(day.start_time, day.end_time).realized
        start = round(reading.balance - realized, 2)
        logger.info(
            "Day-start equity of %s (broker day) rebuilt from the balance and the day's deals: "
            "%.2f (the bridge was not running at server midnight; floating profit then is unknown)",
            day.day,
            start,
        )
        return _base(day, start, start, "rebuilt")

    def _value(self, saved, base, reading, loss, positions, move: Call | None, current) -> dict:
        saved = saved or {}
        now = iso(_utc(reading.time))
        state = move.state if move else current
        value = {
            "state": state.value,
            "previous": current.value if move else saved.get("previous"),
            "reason": move.reason if move else saved.get("reason", "no limit reached"),
            "since": now if move or "since" not in saved else saved["since"],
            **base,
            "equity": reading.equity,
            "balance": reading.balance,
            "margin_level": reading.margin_level,
            "daily_loss_pct": round(loss, 4),
            "open_positions": positions,
            "limits": self._limits.as_dict(),
            "last_check": now,
            "last_check_utc": reading.time,
            "rebase_pending": False,
        }
        for kept in ("reset_by", "reset_at"):
            if kept in saved:
                value[kept] = saved[kept]
        return value

    # -- messages and log lines ----------------------------------------------------------

    def _messages(self, outcome: Outcome) -> list[tuple[str, str, dict]]:
        """The ``risk`` envelopes of this check: a lifted halt, then a state change."""
        value, found = outcome.value, []
        if outcome.reset_from is not None:
            who = value.get("reset_by", "a person")
            reset = {**value, "state": RiskState.ACTIVE.value, "reason": f"halt lifted by {who}"}
            found.append(self._message(reset, RiskState.HALTED.value, acknowledged_by=who))
        if outcome.move is not None:
            found.append(self._message(value, value["previous"]))
        channel = self._publisher.redis.channel("risk")
        return [(channel, "risk", message) for message in found]

    def _announce(self, outcome: Outcome) -> None:
        """After the commit: the log lines, the staged messages sent, the latest figures."""
        value = outcome.value
        if outcome.reset_from is not None:
            logger.warning(
                "Risk HALT lifted by %s; state %s", value.get("reset_by"), value["state"]
            )
        if outcome.move is not None:
            level = logging.CRITICAL if outcome.move.state is RiskState.HALTED else logging.WARNING
            logger.log(
                level,
                "Risk state %s -> %s: %s (equity %.2f, day start %.2f)",
                value["previous"],
                value["state"],
                value["reason"],
                value["equity"],
                value["day_start_equity"],
            )
        self._publisher.deliver()
        latest = {
            **self._message(value, value.get("previous")),
            "ignored_readings": self.ignored_readings,
        }
        self._publisher.set_last_many([("risk", latest)], ttl=self._last_ttl)

    @staticmethod
    def _message(value: dict, previous: str | None, acknowledged_by: str | None = None) -> dict:
        message = {
            "state": value["state"],
            "previous_state": previous,
            "reason": value["reason"],
            "since": value["since"],
            "time": value["last_check"],
            "daily_loss_pct": value["daily_loss_pct"],
            "equity": value["equity"],
            "balance": value["balance"],
            "day": value["day"],
            "day_start_equity": value["day_start_equity"],
            "margin_level": value["margin_level"],
            "open_positions": value["open_positions"],
            "limits": value["limits"],
        }
        if acknowledged_by:
            message["acknowledged_by"] = acknowledged_by
        return message

    # -- readings that cannot be used ----------------------------------------------------

    def _ignore(self, problem: str) -> None:
        self.ignored_readings += 1
        self._ignoring += 1
        if self._ignoring == 1:
            logger.warning(
                "Risk check: account reading ignored (%s); nothing is decided on it "
                "(%d ignored since start)",
                problem,
                self.ignored_readings,
            )

    def _readings_valid(self) -> None:
        if self._ignoring > 1:
            logger.info("Risk check: readings usable again after %d ignored", self._ignoring)
        self._ignoring = 0


def _base(day: TradingDay, equity: float, balance: float, source: str) -> dict:
    return {
        "day": day.day.isoformat(),
        "day_start_equity": equity,
        "day_start_balance": balance,
        "day_start_source": source,
    }


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=timezone.utc)
