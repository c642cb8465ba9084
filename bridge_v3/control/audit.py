"""``control_commands``: every remote command, accepted or refused, with the reason."""

from __future__ import annotations

import json
from datetime import datetime

from bridge_v3.control.envelope import Command
from bridge_v3.services.database_service import DatabaseService

RAW_KEPT = 4_096  # characters of an unreadable message kept for a person to look at

_INSERT = """
INSERT INTO control_commands (account, source, received_at, command_id, command, args,
    issued_by, issued_at, nonce, status, code, reason, raw, finished_at)
VALUES (%(account)s, %(source)s, %(received_at)s, %(command_id)s, %(command)s, %(args)s,
    %(issued_by)s, %(issued_at)s, %(nonce)s, %(status)s, %(code)s, %(reason)s, %(raw)s,
    %(finished_at)s)
RETURNING id
"""


class ControlAudit:
    def __init__(self, database: DatabaseService, account: int | None, source: str) -> None:
        self._database = database
        self._account = account
        self._source = source

    def refused(
        self, received: datetime, fields: dict, code: str, reason: str, raw: str | None
    ) -> int:
        """A command that was not executed. ``fields``: what could be read of it."""
        return self._insert(received, fields, "refused", code, reason, raw, finished=received)

    def accepted(self, received: datetime, command: Command) -> int:
        """A command about to be executed (written first: nothing runs unrecorded)."""
        fields = {
            "id": command.id,
            "command": command.command,
            "args": command.args,
            "by": command.by,
            "issued_at": command.issued_at,
            "nonce": command.nonce,
        }
        return self._insert(received, fields, "accepted", None, None, None, finished=None)

    def finished(
        self,
        row: int,
        when: datetime,
        status: str,
        result: dict | None,
        code: str | None,
        reason: str | None,
    ) -> None:
        """``status``: done, refused (found not doable, nothing done) or failed."""
        self._database.execute(
            "UPDATE control_commands SET status = %s, result = %s, code = %s, reason = %s,"
            " finished_at = %s WHERE id = %s",
            (status, _json(result), code, reason, when, row),
        )

    def _insert(self, received, fields, status, code, reason, raw, *, finished) -> int:
        params = {
            "account": self._account,
            "source": self._source,
            "received_at": received,
            "command_id": _text(fields.get("id")),
            "command": _text(fields.get("command")),
            "args": _json(fields.get("args")) if isinstance(fields.get("args"), dict) else None,
            "issued_by": _text(fields.get("by")),
            "issued_at": fields.get("issued_at")
            if isinstance(fields.get("issued_at"), datetime)
            else None,
            "nonce": _text(fields.get("nonce")),
            "status": status,
            "code": code,
            "reason": reason,
            "raw": raw[:RAW_KEPT] if raw is not None else None,
            "finished_at": finished,
        }
        with self._database.connection() as conn, conn.cursor() as cursor:
            cursor.execute(_INSERT, params)
            return int(cursor.fetchone()[0])


def _text(value: object) -> str | None:
    """A field as text, shortened; never trusted to be of the right type."""
    return None if value is None else str(value)[:200]


def _json(value: object) -> str | None:
    return None if value is None else json.dumps(value, default=str)
