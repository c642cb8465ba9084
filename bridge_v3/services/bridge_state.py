"""``bridge_state``: small durable values per account (the risk latch, sync watermarks).

Functions take a cursor, so a value is read or written inside the caller's transaction
together with the rows it belongs to.
"""

from __future__ import annotations

import json
from typing import Any


def read(cursor, account: int, key: str, *, for_update: bool = False) -> Any | None:
    """The value stored under ``key`` (JSON-decoded), or None. ``for_update`` locks the row
    until the transaction ends, so read-change-write cannot lose a concurrent change."""
    lock = " FOR UPDATE" if for_update else ""
    cursor.execute(
        f"SELECT value FROM bridge_state WHERE account = %s AND key = %s{lock}", (account, key)
    )
    row = cursor.fetchone()
    return None if row is None else row[0]


def write(cursor, account: int, key: str, value: Any) -> None:
    cursor.execute(
        "INSERT INTO bridge_state (account, key, value, updated_at) VALUES (%s, %s, %s, now())"
        " ON CONFLICT (account, key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()",
        (account, key, json.dumps(value)),
    )


def accounts_with(cursor, key: str) -> list[int]:
    """Every account that has a value under ``key``."""
    cursor.execute("SELECT account FROM bridge_state WHERE key = %s ORDER BY account", (key,))
    return [int(row[0]) for row in cursor.fetchall()]
