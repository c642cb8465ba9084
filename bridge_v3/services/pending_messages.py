"""``pending_messages``: the PostgreSQL half of the transactional outbox.

Messages that describe rows being committed are inserted here in the caller's transaction,
so they exist if and only if the rows do. The publisher then moves them to the local outbox
and deletes them here (see ``Publisher``). One row holds one batch, one message per line:
``channel<TAB>type<TAB>data`` with channel and type as JSON strings and data as compact JSON.
Compact JSON never holds a raw tab or newline, so the text splits without parsing the data,
and the data is never serialised twice.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bridge_v3.services.database_service import DatabaseService
from bridge_v3.services.redis_service import dumps

Message = tuple[str, str, dict]  # (channel, type, data)


@dataclass(frozen=True, slots=True)
class PendingRow:
    id: int
    count: int
    messages: str


def encode(messages: Iterable[Message]) -> tuple[str, int]:
    """The text of one batch and how many messages it holds."""
    lines = [
        f"{dumps(channel)}\t{dumps(type_)}\t{dumps(data)}" for channel, type_, data in messages
    ]
    return "\n".join(lines), len(lines)


def decode(text: str) -> list[tuple[str, str, str]]:
    """``(channel, type, data_json)`` for each line of a batch, in order."""
    decoded = []
    for line in text.split("\n"):
        channel, type_, data = line.split("\t", 2)
        decoded.append((json.loads(channel), json.loads(type_), data))
    return decoded


class PendingMessages:
    """The rows of one bridge (``source``) in ``pending_messages``."""

    def __init__(self, database: DatabaseService, source: str) -> None:
        self._database = database
        self.source = source

    def __repr__(self) -> str:
        return f"PendingMessages({self._database.address}, source={self.source!r})"

    def stage(self, conn, messages: Iterable[Message]) -> int:
        """Insert one batch inside the caller's transaction (``conn``); returns its size."""
        text, count = encode(messages)
        if count:
            with conn.cursor() as cursor:
                cursor.execute(
                    "INSERT INTO pending_messages (source, count, messages) VALUES (%s, %s, %s)",
                    (self.source, count, text),
                )
        return count

    def read(self, limit: int) -> list[PendingRow]:
        """Up to ``limit`` committed batches, oldest first."""
        rows = self._database.fetch_all(
            "SELECT id, count, messages FROM pending_messages WHERE source = %s"
            " ORDER BY id LIMIT %s",
            (self.source, limit),
        )
        return [PendingRow(*row) for row in rows]

    def delete(self, ids: Sequence[int]) -> None:
        if ids:
            self._database.execute(
                "DELETE FROM pending_messages WHERE source = %s AND id = ANY(%s)",
                (self.source, list(ids)),
            )
