"""Account snapshots: from the terminal to PostgreSQL and ``mt5:account``.

The snapshot row and its message commit in one transaction (``Publisher.stage``), then the
message is delivered: a snapshot stored is a snapshot published, across a crash too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timezone

from bridge_v3.models.account import AccountSnapshot
from bridge_v3.services.database_service import DatabaseService
from bridge_v3.services.mt5.mt5_service import MT5Service
from bridge_v3.services.publisher import Publisher

logger = logging.getLogger(__name__)

SNAPSHOT_COLUMNS = (
    "account",
    "time",
    "balance",
    "equity",
    "margin",
    "margin_free",
    "margin_level",
    "profit",
    "currency",
    "leverage",
)


class AccountController:
    def __init__(
        self,
        mt5: MT5Service,
        database: DatabaseService,
        publisher: Publisher,
        *,
        clock: Callable[[], float],
        last_ttl: int,
    ) -> None:
        self._mt5 = mt5
        self._database = database
        self._publisher = publisher
        self._clock = clock
        self._last_ttl = last_ttl
        self.latest: AccountSnapshot | None = None

    def sync(self) -> AccountSnapshot:
        """Take one snapshot, store it, publish it and cache it as the latest value."""
        now = datetime.fromtimestamp(self._clock(), tz=timezone.utc).replace(microsecond=0)
        snapshot = AccountSnapshot.from_mt5(self._mt5.account_info(), now)
        row = tuple(getattr(snapshot, column) for column in SNAPSHOT_COLUMNS)
        message = snapshot.to_message()
        with self._database.connection() as conn:
            self._database.upsert(
                "account_snapshots",
                SNAPSHOT_COLUMNS,
                [row],
                key=("account", "time"),
                update=SNAPSHOT_COLUMNS[2:],
                conn=conn,
            )
            channel = self._publisher.redis.channel("account")
            self._publisher.stage(conn, [(channel, "account", message)])
        self._publisher.deliver()
        self._publisher.set_last_many([("account", message)], ttl=self._last_ttl)
        self.latest = snapshot
        return snapshot
