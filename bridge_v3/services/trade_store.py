"""Positions, orders and deals in PostgreSQL, and the watermark of the history sync.

One sync is saved in one transaction (``transaction()``, ``save``): position and order rows
(upserted by ticket), new deals (inserted once: a deal already stored is never written or
announced again), the watermark, for a start-up reconciliation its ``risk_events`` row, and
whatever the caller commits with them (the messages describing them: ``Publisher.stage``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from psycopg2 import sql
from psycopg2.extras import execute_values

from bridge_v3.models.trade import (
    ACTIVE_ORDER_STATES,
    DEAL_COLUMNS,
    ORDER_COLUMNS,
    POSITION_COLUMNS,
    Deal,
    Order,
    Position,
)
from bridge_v3.services import bridge_state
from bridge_v3.services.database_service import DatabaseService
from bridge_v3.services.risk_events import RiskEvent, insert_event

WATERMARK_KEY = "trades_watermark"
_KEY = ("account", "ticket")


@dataclass(frozen=True)
class TradeRows:
    """What one sync writes."""

    positions: list[Position]
    orders: list[Order]
    deals: list[Deal]
    watermark: float  # UTC seconds: the next sync reads history from a little before it
    event: RiskEvent | None = None


class TradeStore:
    def __init__(self, database: DatabaseService, account: int) -> None:
        self._database = database
        self._account = account

    # -- reading ------------------------------------------------------------------------

    def open_positions(self) -> dict[int, Position]:
        return self._positions(sql.SQL("closed_at IS NULL"), ())

    def positions(self, tickets: Iterable[int]) -> dict[int, Position]:
        """Stored positions (open or closed) among ``tickets``."""
        return self._positions(sql.SQL("ticket = ANY(%s)"), (sorted(set(tickets)),))

    def active_orders(self) -> dict[int, Order]:
        return self._orders(sql.SQL("state = ANY(%s)"), (sorted(ACTIVE_ORDER_STATES),))

    def orders(self, tickets: Iterable[int]) -> dict[int, Order]:
        return self._orders(sql.SQL("ticket = ANY(%s)"), (sorted(set(tickets)),))

    def deal_tickets(self, tickets: Iterable[int]) -> set[int]:
        rows = self._database.fetch_all(
            "SELECT ticket FROM deals WHERE account = %s AND ticket = ANY(%s)",
            (self._account, sorted(set(tickets))),
        )
        return {int(ticket) for (ticket,) in rows}

    def watermark(self) -> float | None:
        with self._database.connection() as conn, conn.cursor() as cursor:
            value = bridge_state.read(cursor, self._account, WATERMARK_KEY)
        return float(value["utc"]) if value else None

    def _positions(self, where: sql.Composable, params: tuple) -> dict[int, Position]:
        rows = self._select("positions", POSITION_COLUMNS, where, params)
        return {int(row[1]): Position.from_row(row) for row in rows}

    def _orders(self, where: sql.Composable, params: tuple) -> dict[int, Order]:
        rows = self._select("orders", ORDER_COLUMNS, where, params)
        return {int(row[1]): Order.from_row(row) for row in rows}

    def _select(self, table: str, columns, where: sql.Composable, params: tuple) -> list[tuple]:
        statement = sql.SQL("SELECT {} FROM {} WHERE account = %s AND {}").format(
            sql.SQL(", ").join(map(sql.Identifier, columns)), sql.Identifier(table), where
        )
        return self._database.fetch_all(statement, (self._account, *params))

    # -- writing ------------------------------------------------------------------------

    def transaction(self):
        """A connection in a transaction, for ``save`` and what must commit with it."""
        return self._database.connection()

    def save(self, conn, rows: TradeRows) -> set[int]:
        """Write one sync in the caller's transaction ``conn``; return the tickets of the
        deals stored now (a deal another writer stored first is not among them)."""
        self._database.upsert(
            "positions", POSITION_COLUMNS, [p.row() for p in rows.positions], _KEY, conn=conn
        )
        self._database.upsert(
            "orders", ORDER_COLUMNS, [o.row() for o in rows.orders], _KEY, conn=conn
        )
        with conn.cursor() as cursor:
            stored = self._insert_deals(cursor, rows.deals)
            bridge_state.write(cursor, self._account, WATERMARK_KEY, {"utc": rows.watermark})
            if rows.event is not None:
                insert_event(cursor, self._account, rows.event)
        return stored

    @staticmethod
    def _insert_deals(cursor, deals: list[Deal]) -> set[int]:
        if not deals:
            return set()
        columns = sql.SQL(", ").join(map(sql.Identifier, DEAL_COLUMNS)).as_string(cursor)
        returned = execute_values(
            cursor,
            f"INSERT INTO deals ({columns}) VALUES %s"
            " ON CONFLICT (account, ticket) DO NOTHING RETURNING ticket",
            [deal.row() for deal in deals],
            page_size=len(deals),
            fetch=True,
        )
        return {int(ticket) for (ticket,) in returned}
