"""Trades: every position, order and deal of the account mirrored in PostgreSQL and on Redis.

One sync reads the mirror, then the terminal (open positions, pending orders, and the
history of deals and orders from the watermark less an overlap), decides what changed
(:mod:`bridge_v3.controllers.trade_diff`), writes it in one transaction together with
the messages announcing each change once (``Publisher.stage``), then delivers them:
``mt5:position`` (opened / modified / closed), ``mt5:order`` (placed / modified / filled /
cancelled / expired / rejected), ``mt5:deal`` (each deal exactly once, across restarts
and crashes too: a deal's message commits with the row that stores it, and only then).
The open positions, with their floating profit, go to ``mt5:last:positions`` every sync.

The first sync after start is the reconciliation: the same work, plus a one-line summary
in the log and a ``risk_events`` row. Until one succeeds, ``reconciled`` is False and
trading stays disabled. A failed terminal read fails the sync, not the bridge, and marks
nothing: the next sync reads again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timezone

from bridge_v3.controllers.symbol_controller import SymbolController
from bridge_v3.controllers.trade_diff import (
    MirrorView,
    TerminalView,
    TradeChanges,
    diff,
)
from bridge_v3.exceptions import TerminalDisconnectedError, TerminalError
from bridge_v3.services.mt5.mt5_service import MT5Service
from bridge_v3.services.publisher import Publisher
from bridge_v3.services.risk_events import RiskEvent
from bridge_v3.services.trade_store import TradeRows, TradeStore

logger = logging.getLogger(__name__)

DAY = 86_400
HISTORY_OVERLAP = 3_600  # seconds of history read again: broker clock drift, late deals
HISTORY_AHEAD = 3_600  # the query runs this far past now, in case the broker clock is ahead
_SUMMARY_COUNTS = {
    "positions_opened": "positions opened",
    "positions_closed": "positions closed",
    "positions_modified": "positions modified",
    "orders_placed": "orders placed",
    "orders_modified": "orders modified",
    "orders_filled": "orders filled",
    "orders_cancelled": "orders cancelled",
    "orders_expired": "orders expired",
    "orders_rejected": "orders rejected",
    "deals_new": "new deals",
}


class TradeController:
    def __init__(
        self,
        mt5: MT5Service,
        store: TradeStore,
        symbols: SymbolController,
        publisher: Publisher,
        account: int,
        *,
        clock: Callable[[], float],
        history_days: int,
        last_ttl: int,
        is_own: Callable[[int], bool] = lambda magic: False,
    ) -> None:
        """``is_own(magic)`` tells the bridge's own strategies' magic numbers; positions and
        orders with any other are mirrored as external (never managed)."""
        self._mt5 = mt5
        self._store = store
        self._symbols = symbols
        self._publisher = publisher
        self._account = account
        self._clock = clock
        self._history = history_days * DAY
        self._last_ttl = last_ttl
        self._is_own = is_own
        self._lock = threading.Lock()  # one sync at a time, whoever calls
        self.reconciled = False
        self.last_error: str | None = None
        self.open_positions: list = []  # as of the last sync
        self.pending_orders = 0
        self._unconfirmed = (0, 0)

    # -- jobs -----------------------------------------------------------------------------

    def run(self) -> TradeChanges:
        """The ``trades`` job: reconcile until that has succeeded once, then sync."""
        return self.sync() if self.reconciled else self.reconcile()

    def reconcile(self) -> TradeChanges:
        """Bring the mirror to the terminal's state after downtime; enables trading."""
        try:
            changes = self._sync(reconciling=True)
        except Exception as error:
            failure = f"{type(error).__name__}: {error}"
            if failure != self.last_error:  # once per kind of failure, not once per retry
                logger.warning(
                    "Start-up reconciliation failed (%s); trading stays disabled, retrying "
                    "with the next trades sync",
                    error,
                )
            self.last_error = failure
            raise
        self.reconciled, self.last_error = True, None
        return changes

    def sync(self) -> TradeChanges:
        return self._sync(reconciling=False)

    def status(self) -> dict:
        """For the heartbeat: whether trading is enabled, and why not."""
        enabled = self.reconciled
        reason = None if enabled else f"reconciliation pending ({self.last_error or 'not run yet'})"
        return {
            "enabled": enabled,
            "reason": reason,
            "open_positions": len(self.open_positions),
            "pending_orders": self.pending_orders,
        }

    # -- one sync -------------------------------------------------------------------------

    def _sync(self, *, reconciling: bool) -> TradeChanges:
        with self._lock:
            now = self._clock()
            since = self._store.watermark()
            terminal, mirror = self._read(now, since)
            changes = diff(terminal, mirror, self._account, self._is_own)
            self._symbols.ensure(p.symbol for p in changes.open_positions)
            self._symbols.ensure(o.symbol for o in changes.orders if o.active)
            event = self._reconciliation(changes, now) if reconciling else None
            mark = self._next_mark(terminal, since, now)
            rows = TradeRows(changes.positions, changes.orders, changes.deals, mark, event)
            with self._store.transaction() as conn:
                stored = self._store.save(conn, rows)
                self._publisher.stage(conn, self._messages(changes, stored))
            self.open_positions = changes.open_positions
            self.pending_orders = changes.counts["pending_orders"]
            self._deliver(changes)
            self._log_unconfirmed(changes)
        return changes

    def _read(self, now: float, since: float | None) -> tuple[TerminalView, MirrorView]:
        """The mirror first, then the terminal: a change between the two reads is seen by
        the terminal read, and the next sync settles it."""
        open_positions = self._store.open_positions()
        active_orders = self._store.active_orders()
        start = now - self._history if since is None else since - HISTORY_OVERLAP
        terminal = TerminalView(
            deals=self._mt5.deals(start, now + HISTORY_AHEAD),
            history_orders=self._mt5.history_orders(start, now + HISTORY_AHEAD),
            positions=self._mt5.positions(),
            orders=self._mt5.orders(),
        )
        shown = {int(p["ticket"]) for p in terminal.positions}
        dealt = {int(d["position_id"]) for d in terminal.deals if d["position_id"]}
        stored = self._store.positions(shown | dealt | set(open_positions))
        settled = {ticket for ticket, position in stored.items() if position.closed_at}
        for ticket in (set(open_positions) | dealt) - shown - settled:
            terminal.position_deals[ticket] = self._mt5.position_deals(ticket)
        self._look_up_finished(terminal, active_orders)
        order_tickets = {int(o["ticket"]) for o in terminal.orders + terminal.history_orders}
        return terminal, MirrorView(
            open_positions=open_positions,
            positions=stored,
            active_orders=active_orders,
            orders=self._store.orders(order_tickets | set(active_orders)),
            deals=self._store.deal_tickets(self._deal_tickets(terminal)),
        )

    def _next_mark(self, terminal: TerminalView, since: float | None, now: float) -> float:
        """Where the next history read starts (less the overlap): the newest deal or order
        the terminal showed, never past now. Kept while the terminal has no link to the
        trade server: its history may lag, and deals that arrive late with older times
        must still fall inside the next read."""
        kept = now - self._history if since is None else since
        if not self._mt5.terminal_info().get("connected", True):
            return kept
        times = [float(d["time"]) for d in terminal.deals]
        times += [
            float(o.get("time_done") or o.get("time_setup") or 0) for o in terminal.history_orders
        ]
        newest = max(times, default=0.0)
        return max(kept, min(now, newest))

    def _look_up_finished(self, terminal: TerminalView, active: dict) -> None:
        """History records of mirrored pending orders the terminal no longer lists."""
        listed = {int(o["ticket"]) for o in terminal.orders + terminal.history_orders}
        for ticket in set(active) - listed:
            try:
                terminal.finished_orders[ticket] = self._mt5.history_order(ticket)
            except TerminalDisconnectedError:
                raise
            except TerminalError as error:  # unknown to the terminal: left active, read again
                logger.debug("history order %s not readable: %s", ticket, error)
                terminal.finished_orders[ticket] = None

    @staticmethod
    def _deal_tickets(terminal: TerminalView) -> set[int]:
        tickets = {int(d["ticket"]) for d in terminal.deals}
        for deals in terminal.position_deals.values():
            tickets |= {int(d["ticket"]) for d in deals}
        return tickets

    # -- messages -------------------------------------------------------------------------

    def _messages(self, changes: TradeChanges, stored: set[int]) -> list[tuple[str, str, dict]]:
        """Each change once; a deal only if this sync's transaction stored it."""
        redis = self._publisher.redis
        return [
            (redis.channel(event.kind), event.kind, event.data)
            for event in changes.events
            if event.kind != "deal" or event.deal in stored
        ]

    def _deliver(self, changes: TradeChanges) -> None:
        """After the commit: send what was staged, and refresh the latest open positions."""
        self._publisher.deliver()
        positions = [p.data() for p in changes.open_positions]
        self._publisher.set_last_many(
            [("positions", {"count": len(positions), "positions": positions})], ttl=self._last_ttl
        )

    def _reconciliation(self, changes: TradeChanges, now: float) -> RiskEvent:
        counts = {name: changes.counts[name] for name in _SUMMARY_COUNTS}
        happened = ", ".join(f"{_SUMMARY_COUNTS[k]}: {n}" for k, n in counts.items() if n)
        external = sum(1 for p in changes.open_positions if p.external)
        counts.update(
            open_positions=len(changes.open_positions),
            external_positions=external,
            pending_orders=changes.counts["pending_orders"],
        )
        logger.info(
            "Reconciliation: terminal has %d open position(s) (%d external) and %d pending "
            "order(s); mirror updated: %s",
            len(changes.open_positions),
            external,
            counts["pending_orders"],
            happened or "nothing had changed",
        )
        moment = datetime.fromtimestamp(now, tz=timezone.utc)
        return RiskEvent("reconciliation", moment, reason="start-up reconciliation", details=counts)

    def _log_unconfirmed(self, changes: TradeChanges) -> None:
        """Once per change of the counts, not once per sync."""
        unconfirmed = (
            changes.counts["positions_unconfirmed"],
            changes.counts["orders_unconfirmed"],
        )
        positions, orders = unconfirmed
        if unconfirmed != self._unconfirmed and (positions or orders):
            logger.warning(
                "%d position(s) and %d order(s) left the terminal's lists without a closing "
                "record yet: kept open in the mirror until the terminal's history shows it",
                positions,
                orders,
            )
        self._unconfirmed = unconfirmed
