"""One remote command from its bytes to its reply: check, audit, execute, reply.

In order: control must be on (``CONTROL_SECRET`` set); the message must be a JSON object,
signed, with the right signature; its fields well formed; ``issued_at`` neither older than
``CONTROL_MAX_AGE`` nor in the future (beyond ``FUTURE_TOLERANCE`` of clock skew between
hosts); its nonce never seen; the command known and its arguments valid. Anything else is
refused: audited with the reason, replied, never executed. An accepted command is audited
before it runs and again with its result. Nothing here ever raises to the listener: a
command is never fatal.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

from bridge_v3.control import envelope as env
from bridge_v3.control.audit import ControlAudit
from bridge_v3.control.commands import COMMANDS, Targets
from bridge_v3.control.envelope import Command, Refused
from bridge_v3.control.nonces import NonceRegistry
from bridge_v3.exceptions import BridgeError, StorageError

logger = logging.getLogger(__name__)

FUTURE_TOLERANCE = 5.0  # seconds an issued_at may lie ahead: the hosts' clocks differ a little


@dataclass(frozen=True)
class Reply:
    """The answer on ``{prefix}:control:reply``; ``data`` is the message's data."""

    id: str | None
    ok: bool
    data: dict


class ControlService:
    def __init__(
        self,
        *,
        secret: str,
        max_age: float,
        source: str,
        audit: ControlAudit,
        nonces: NonceRegistry,
        targets: Targets,
        reply: Callable[[dict], object],
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``reply(data)`` publishes one reply; ``clock`` is the host's wall clock (never a
        simulated one: commands are stamped by real clocks)."""
        self._secret = secret
        self._max_age = max_age
        self._source = source
        self._audit = audit
        self._nonces = nonces
        self.targets = targets
        self._reply = reply
        self._clock = clock

    def handle(self, raw: bytes | str) -> Reply | None:
        """Check, audit, execute and reply to one message. None: meant for another bridge."""
        received = datetime.fromtimestamp(self._clock(), tz=timezone.utc)
        fields: dict = {}
        try:
            fields = env.decode(raw)
            command = self._admit(fields, received)
            if command is None:
                return None
            spec = COMMANDS.get(command.command)
            if spec is None:
                raise Refused("unknown_command", f"unknown command {command.command!r}")
            args = spec.parse(command.args)
        except Refused as refusal:
            return self._refuse(received, fields, refusal, raw)
        return self._execute(received, command, spec, args)

    # -- checks -------------------------------------------------------------------------------

    def _admit(self, fields: dict, received: datetime) -> Command | None:
        if not self._secret:
            raise Refused("control_off", "remote control is off: CONTROL_SECRET is not set")
        env.verify(fields, self._secret)
        command = env.read(fields)
        if command.bridge is not None and command.bridge != self._source:
            logger.debug("Control command %s is for bridge %s: ignored", command.id, command.bridge)
            return None
        age = (received - command.issued_at).total_seconds()
        if age > self._max_age:
            raise Refused(
                "stale", f"issued {age:.0f} s ago, over CONTROL_MAX_AGE {self._max_age:g} s"
            )
        if age < -FUTURE_TOLERANCE:
            raise Refused("future", f"issued {-age:.0f} s in the future (check the clocks)")
        if not self._nonces.claim(command.nonce):
            raise Refused("replayed", "this nonce was seen before: a command runs once")
        return command

    # -- outcomes -----------------------------------------------------------------------------

    def _refuse(self, received: datetime, fields: dict, refusal: Refused, raw) -> Reply:
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        kept = text if refusal.code == "malformed" else None
        logger.warning(
            "Control command %s refused (%s): %s",
            _shown(fields.get("id")),
            refusal.code,
            refusal.reason,
        )
        try:
            self._audit.refused(received, _readable(fields), refusal.code, refusal.reason, kept)
        except StorageError as error:
            logger.warning("Refused control command not audited: %s", error)
        return self._send(fields.get("id"), fields.get("command"), False, error=refusal)

    def _execute(self, received: datetime, command: Command, spec, args: dict) -> Reply:
        try:
            row = self._audit.accepted(received, command)
        except StorageError as error:
            refusal = Refused("unavailable", f"cannot audit the command, so it is not run: {error}")
            logger.warning("Control command %s not run: %s", command.id, refusal.reason)
            return self._send(command.id, command.command, False, error=refusal)
        logger.warning(
            "Control command %s (%s) by %s: running", command.command, command.id, command.by
        )
        status, result, failure = self._run(command, spec, args)
        self._finish(row, status, result, failure)
        ok = status == "done"
        return self._send(command.id, command.command, ok, result=result, error=failure)

    def _run(self, command: Command, spec, args: dict) -> tuple[str, dict | None, Refused | None]:
        """(status, result, why not): ``done``; ``refused`` (the handler found it cannot be
        carried out, and did nothing); ``failed`` (it went wrong on the way)."""
        try:
            result = spec.run(self.targets, command, args)
        except Refused as refusal:
            return "refused", None, refusal
        except BridgeError as error:
            return "failed", None, Refused("failed", str(error))
        except Exception as error:  # a command must never be fatal
            logger.exception("Control command %s (%s) failed", command.command, command.id)
            return "failed", None, Refused("failed", f"internal error: {type(error).__name__}")
        if isinstance(result, dict) and result.get("ok") is False:
            return "failed", result, Refused("failed", str(result.get("reason", "")))
        return "done", result, None

    def _finish(self, row: int, status: str, result, failure: Refused | None) -> None:
        when = datetime.fromtimestamp(self._clock(), tz=timezone.utc)
        code, reason = (failure.code, failure.reason) if failure else (None, None)
        level = logging.INFO if status == "done" else logging.WARNING
        detail = f": {reason}" if reason else ""
        logger.log(level, "Control command (audit row %d) %s%s", row, status, detail)
        try:
            self._audit.finished(row, when, status, result, code, reason)
        except StorageError as error:
            logger.warning("Result of control command row %d not audited: %s", row, error)

    def _send(
        self, command_id, name, ok: bool, *, result=None, error: Refused | None = None
    ) -> Reply:
        data: dict = {"id": _shown(command_id), "ok": ok, "command": _shown(name)}
        if result is not None:
            data["result"] = result
        if error is not None:
            data.update(error=error.reason, code=error.code)
        try:
            self._reply(data)
        except BridgeError as failure:  # the reply waits in the outbox, or is lost: not fatal
            logger.warning("Control reply %s not sent: %s", data["id"], failure)
        return Reply(data["id"], ok, data)


def _shown(value: object) -> str | None:
    """A field of an unchecked message, safe to echo: text, at most 64 characters."""
    return None if value is None else str(value)[:64]


def _readable(fields: dict) -> dict:
    """What can be read of an unchecked message for the audit row."""
    readable = dict(fields)
    try:
        readable["issued_at"] = env.read_moment(fields.get("issued_at"))
    except Refused:
        readable.pop("issued_at", None)
    return readable
