"""The risk controller's PostgreSQL: the persisted state (the latch), the day's figures from
``deals``, ``daily_performance`` and ``risk_events``.

The state is one ``bridge_state`` row (``risk_state``) read with FOR UPDATE inside the
transaction that writes it, so a ``--risk-reset`` from another process is never lost to a
check running at the same moment.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime

from bridge_v3.services import bridge_state
from bridge_v3.services.database_service import DatabaseService
from bridge_v3.services.risk_events import RiskEvent, insert_event

STATE_KEY = "risk_state"

# Balance, credit and bonus operations move money in or out; they are not trading results.
_DAY_FIGURES = """
SELECT COALESCE(sum(profit + commission + swap + fee) FILTER (WHERE type NOT IN (2, 3, 6)), 0),
       count(*) FILTER (WHERE type IN (0, 1)),
       count(*) FILTER (WHERE type IN (0, 1) AND entry IN (1, 2, 3)
                        AND profit + commission + swap + fee > 0),
       count(*) FILTER (WHERE type IN (0, 1) AND entry IN (1, 2, 3)
                        AND profit + commission + swap + fee < 0)
FROM deals WHERE account = %s AND time >= %s AND time < %s
"""

_UPDATE_DAY = """
INSERT INTO daily_performance AS d (account, day, starting_balance, starting_equity,
    ending_balance, ending_equity, min_equity, max_equity, realized_pnl, floating_pnl,
    deals_count, trades_won, trades_lost, max_drawdown_pct, daily_loss_pct, halted, updated_at)
VALUES (%(account)s, %(day)s, %(start_balance)s, %(start_equity)s, %(balance)s, %(equity)s,
    %(equity)s, %(peak)s, %(realized)s, %(floating)s, %(deals)s, %(won)s, %(lost)s,
    %(drawdown)s, %(loss)s, %(halted)s, now())
ON CONFLICT (account, day) DO UPDATE SET
    ending_balance = EXCLUDED.ending_balance,
    ending_equity = EXCLUDED.ending_equity,
    min_equity = LEAST(d.min_equity, EXCLUDED.min_equity),
    max_equity = GREATEST(d.max_equity, EXCLUDED.ending_equity),
    realized_pnl = EXCLUDED.realized_pnl,
    floating_pnl = EXCLUDED.floating_pnl,
    deals_count = EXCLUDED.deals_count,
    trades_won = EXCLUDED.trades_won,
    trades_lost = EXCLUDED.trades_lost,
    max_drawdown_pct = GREATEST(d.max_drawdown_pct,
        (GREATEST(d.max_equity, EXCLUDED.ending_equity) - EXCLUDED.ending_equity)
        / NULLIF(GREATEST(d.max_equity, EXCLUDED.ending_equity), 0) * 100),
    daily_loss_pct = (d.starting_equity - EXCLUDED.ending_equity)
        / NULLIF(d.starting_equity, 0) * 100,
    halted = d.halted OR EXCLUDED.halted,
    updated_at = now()
"""


@dataclass(frozen=True)
class DayFigures:
    """The day's trading deals: money realised (with commission, swap, fee), deal count,
    exits won and lost."""

    realized: float
    deals: int
    won: int
    lost: int


@dataclass(frozen=True)
class DayRow:
    """One check's figures for ``daily_performance``."""

    day: date
    start_balance: float
    start_equity: float
    balance: float
    equity: float
    floating: float
    figures: DayFigures
    halted: bool


class RiskStore:
    def __init__(self, database: DatabaseService, account: int) -> None:
        self._database = database
        self.account = account

    def load(self) -> dict | None:
        """The persisted state, read without a lock (start-up, status)."""
        with self._database.connection() as conn, conn.cursor() as cursor:
            return bridge_state.read(cursor, self.account, STATE_KEY)

    @contextmanager
    def transaction(self) -> Iterator[RiskTransaction]:
        with self._database.connection() as conn, conn.cursor() as cursor:
            yield RiskTransaction(conn, cursor, self.account)


class RiskTransaction:
    """The reads and writes of one check, in one transaction (``connection``: for what
    must commit with them, such as the messages announcing them)."""

    def __init__(self, connection, cursor, account: int) -> None:
        self.connection = connection
        self._cursor = cursor
        self._account = account

    def state(self) -> dict | None:
        """The persisted state, locked until the transaction ends."""
        return bridge_state.read(self._cursor, self._account, STATE_KEY, for_update=True)

    def write_state(self, value: dict) -> None:
        bridge_state.write(self._cursor, self._account, STATE_KEY, value)

    def add_event(self, event: RiskEvent) -> None:
        insert_event(self._cursor, self._account, event)

    def day_figures(self, start: datetime, end: datetime) -> DayFigures:
        self._cursor.execute(_DAY_FIGURES, (self._account, start, end))
        realized, deals, won, lost = self._cursor.fetchone()
        return DayFigures(round(float(realized), 2), int(deals), int(won), int(lost))

    def open_positions(self) -> int:
        self._cursor.execute(
            "SELECT count(*) FROM positions WHERE account = %s AND closed_at IS NULL",
            (self._account,),
        )
        return int(self._cursor.fetchone()[0])

    def update_day(self, row: DayRow) -> None:
        peak = max(row.start_equity, row.equity)
        self._cursor.execute(
            _UPDATE_DAY,
            {
                "account": self._account,
                "day": row.day,
                "start_balance": row.start_balance,
                "start_equity": row.start_equity,
                "balance": row.balance,
                "equity": row.equity,
                "peak": peak,
                "realized": row.figures.realized,
                "floating": row.floating,
                "deals": row.figures.deals,
                "won": row.figures.won,
                "lost": row.figures.lost,
                "drawdown": (peak - row.equity) / peak * 100 if peak > 0 else 0.0,
                "loss": (row.start_equity - row.equity) / row.start_equity * 100
                if row.start_equity > 0
                else 0.0,
                "halted": row.halted,
            },
        )
