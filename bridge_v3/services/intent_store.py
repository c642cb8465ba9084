"""``order_intents``: the order journal. Every write commits at once, so a row exists in
PostgreSQL before the order it describes is sent."""

from __future__ import annotations

import json
from collections.abc import Iterable

from psycopg2 import sql

from bridge_v3.models.intent import UNRESOLVED, OrderIntent
from bridge_v3.services.database_service import DatabaseService

_COLUMNS = (
    "account",
    "intent_id",
    "kind",
    "strategy",
    "symbol",
    "action",
    "type",
    "volume",
    "price",
    "sl",
    "tp",
    "magic",
    "comment",
    "status",
    "retcode",
    "order_ticket",
    "deal_ticket",
    "position_ticket",
    "error",
    "request",
    "result",
    "requested_by",
    "reason",
    "attempts",
    "signal_timeframe",
    "signal_time",
    "created_at",
    "updated_at",
)
_READ = (
    "intent_id",
    "kind",
    "symbol",
    "magic",
    "requested_by",
    "reason",
    "created_at",
    "strategy",
    "request",
    "status",
    "attempts",
    "retcode",
    "order_ticket",
    "deal_ticket",
    "position_ticket",
    "error",
    "result",
    "signal_timeframe",
    "signal_time",
)


class IntentStore:
    def __init__(self, database: DatabaseService, account: int) -> None:
        self._database = database
        self._account = account

    def save(self, intent: OrderIntent, now) -> None:
        """Insert or update the row, committed when this returns (``now``: its updated_at)."""
        values = self._row(intent, now)
        names = sql.SQL(", ").join(map(sql.Identifier, _COLUMNS))
        updates = sql.SQL(", ").join(
            sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c))
            for c in _COLUMNS
            if c not in ("account", "intent_id", "created_at")
        )
        statement = sql.SQL(
            "INSERT INTO order_intents ({}) VALUES ({}) "
            "ON CONFLICT (account, intent_id) DO UPDATE SET {}"
        ).format(names, sql.SQL(", ").join(sql.Placeholder() * len(_COLUMNS)), updates)
        self._database.execute(statement, values)

    def _row(self, intent: OrderIntent, now) -> tuple:
        request = intent.request
        return (
            self._account,
            intent.intent_id,
            intent.kind,
            intent.strategy,
            intent.symbol,
            int(request.get("action", 0)),
            int(request.get("type", 0)),
            float(request.get("volume", 0.0)),
            request.get("price"),
            request.get("sl"),
            request.get("tp"),
            intent.magic,
            intent.comment,
            intent.status,
            intent.retcode,
            intent.order_ticket,
            intent.deal_ticket,
            intent.position_ticket,
            intent.error,
            json.dumps(request),
            json.dumps(intent.result) if intent.result is not None else None,
            intent.requested_by,
            intent.reason,
            intent.attempts,
            intent.signal_timeframe,
            intent.signal_time,
            intent.created_at,
            now,
        )

    def unresolved(self) -> list[OrderIntent]:
        """Every intent left ``pending`` or ``unknown``, oldest first."""
        return self._select("status = ANY(%s) ORDER BY created_at", (list(UNRESOLVED),))

    def get(self, intent_id: str) -> OrderIntent | None:
        found = self._select("intent_id = %s", (intent_id,))
        return found[0] if found else None

    def for_signal(self, strategy: str, symbol: str, timeframe: str, time) -> list[OrderIntent]:
        return self._select(
            "strategy = %s AND symbol = %s AND signal_timeframe = %s AND signal_time = %s"
            " ORDER BY created_at",
            (strategy, symbol, timeframe, time),
        )

    def _select(self, where: str, params: Iterable) -> list[OrderIntent]:
        statement = sql.SQL("SELECT {} FROM order_intents WHERE account = %s AND ").format(
            sql.SQL(", ").join(map(sql.Identifier, _READ))
        ) + sql.SQL(where)
        rows = self._database.fetch_all(statement, (self._account, *params))
        return [_intent(row) for row in rows]


def _intent(row: tuple) -> OrderIntent:
    values = dict(zip(_READ, row, strict=True))
    values["request"] = values["request"] or {}
    values["magic"] = int(values["magic"] or 0)
    return OrderIntent(**values)
