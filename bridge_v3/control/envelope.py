"""The signed command envelope of remote control: canonical JSON, HMAC-SHA256, parsing.

A command is one JSON object::

    {"id": "c-1", "command": "halt", "args": {"reason": "news"}, "by": "alice",
     "issued_at": "2026-03-25T10:00:00Z", "nonce": "5f2b...", "signature": "<hex>"}

(``bridge``, optional: the ``source`` of the one bridge meant; others ignore it.)
``signature`` is HMAC-SHA256 with ``CONTROL_SECRET`` over the canonical JSON of the object
without ``signature``: keys sorted at every level, no spaces, UTF-8 (Python's
``json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)``), written
as 64 lowercase hex digits.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone

SIGNATURE = "signature"
MAX_MESSAGE_BYTES = 65_536
_TEXT = re.compile(r"[^\x00-\x1f\x7f]{1,64}")
_NONCE = re.compile(r"[A-Za-z0-9_.:-]{8,128}")
_HEX = re.compile(r"[0-9a-f]{64}")
_FIELDS = {"id", "command", "args", "by", "issued_at", "nonce", "bridge", SIGNATURE}


class Refused(Exception):
    """A command that must not run: ``code`` (one word) and ``reason`` (a sentence)."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class Command:
    """A command whose signature was checked."""

    id: str
    command: str
    by: str
    issued_at: datetime
    nonce: str
    args: dict = field(default_factory=dict)
    bridge: str | None = None


def canonical(envelope: Mapping) -> bytes:
    """The bytes that are signed: the envelope without its signature, canonical JSON."""
    unsigned = {key: value for key, value in envelope.items() if key != SIGNATURE}
    text = json.dumps(unsigned, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8")


def signature(envelope: Mapping, secret: str) -> str:
    return hmac.new(secret.encode("utf-8"), canonical(envelope), hashlib.sha256).hexdigest()


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def build(
    command: str,
    args: Mapping | None,
    *,
    by: str,
    secret: str,
    issued_at: datetime,
    command_id: str | None = None,
    nonce: str | None = None,
    bridge: str | None = None,
) -> dict:
    """A signed envelope, ready to publish (what the command line sends)."""
    envelope = {
        "id": command_id or f"c-{secrets.token_hex(6)}",
        "command": command,
        "args": dict(args or {}),
        "by": by,
        "issued_at": iso(issued_at),
        "nonce": nonce or secrets.token_hex(16),
    }
    if bridge:
        envelope["bridge"] = bridge
    envelope[SIGNATURE] = signature(envelope, secret)
    return envelope


def decode(raw: bytes | str) -> dict:
    """The JSON object received; ``Refused('malformed', ...)`` when it is not one."""
    if len(raw) > MAX_MESSAGE_BYTES:
        raise Refused("malformed", f"message of {len(raw)} bytes, over {MAX_MESSAGE_BYTES}")
    try:
        envelope = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise Refused("malformed", f"not JSON ({error})") from None
    if not isinstance(envelope, dict):
        raise Refused("malformed", f"a JSON {type(envelope).__name__}, not an object")
    return envelope


def verify(envelope: Mapping, secret: str) -> None:
    """The signature is present and right, else ``Refused`` (``unsigned``/``bad_signature``)."""
    given = envelope.get(SIGNATURE)
    if given is None or given == "":
        raise Refused("unsigned", "the command carries no signature")
    if not isinstance(given, str) or not _HEX.fullmatch(given):
        raise Refused("bad_signature", "the signature is not 64 lowercase hex digits")
    if not hmac.compare_digest(given, signature(envelope, secret)):
        raise Refused("bad_signature", "the signature does not match (wrong key or altered)")


def read(envelope: Mapping) -> Command:
    """The fields of a signed envelope, checked; ``Refused('malformed', ...)`` naming one."""
    unknown = sorted(set(envelope) - _FIELDS)
    if unknown:
        raise Refused("malformed", f"unknown field(s): {', '.join(unknown)}")
    args = envelope.get("args", {})
    if not isinstance(args, dict):
        raise Refused("malformed", "args must be a JSON object")
    bridge = envelope.get("bridge")
    if bridge is not None and not _text(bridge):
        raise Refused("malformed", "bridge must be a bridge id (1 to 64 characters)")
    return Command(
        id=_field(envelope, "id", _text, "1 to 64 printable characters"),
        command=_field(envelope, "command", _text, "a command name"),
        by=_field(envelope, "by", _text, "who sends it: 1 to 64 printable characters"),
        issued_at=read_moment(envelope.get("issued_at")),
        nonce=_field(envelope, "nonce", _nonce, "8 to 128 letters, digits, _ . : -"),
        args=args,
        bridge=bridge,
    )


def _field(envelope: Mapping, name: str, check, what: str) -> str:
    value = envelope.get(name)
    if not check(value):
        raise Refused("malformed", f"{name} must be {what}")
    return value


def _text(value: object) -> bool:
    return isinstance(value, str) and bool(_TEXT.fullmatch(value))


def _nonce(value: object) -> bool:
    return isinstance(value, str) and bool(_NONCE.fullmatch(value))


def read_moment(value: object) -> datetime:
    """ISO-8601 with a zone (``2026-03-25T10:00:00Z``)."""
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            moment = None
        if moment is not None and moment.tzinfo is not None:
            return moment.astimezone(timezone.utc)
    raise Refused(
        "malformed", "issued_at must be an ISO-8601 UTC time such as 2026-03-25T10:00:00Z"
    )
