"""Typed events: what the subscriber hands to its user.

``decode`` turns one stream entry into an ``Event`` after checking the envelope and its
``data`` against the published schemas (``bridge_v3/schemas``). ``data`` is a dataclass for
the types this version knows (``Bar``, ``Tick``, ``Account``, ``Status``) and the plain dict for
any other type, so a newer bridge's new message types still flow through.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from datetime import datetime
from functools import cache

from bridge_v3 import schemas
from bridge_v3.client.validation import compile_schema
from bridge_v3.models.account import AccountSnapshot as Account
from bridge_v3.models.price import Bar, Tick


class InvalidMessage(ValueError):
    """A stream entry that is not a valid message; ``str()`` gives the reason."""


# ``Bar``, ``Tick`` and ``Account`` are the bridge's own models (bridge_v3.models): the
# subscriber hands out exactly what the bridge publishes.


@dataclass(frozen=True, slots=True)
class Status:
    state: str
    version: str
    time: datetime
    uptime_seconds: float
    probes: dict = field(default_factory=dict)  # terminal, postgres, redis, worker, bars, ...


DATA_CLASSES: dict[str, type] = {"bar": Bar, "tick": Tick, "account": Account, "status": Status}


@dataclass(frozen=True, slots=True)
class Event:
    """One message. ``stream`` and ``id`` say where it was read (``{prefix}:stream:{type}``)."""

    type: str
    source: str
    account: int | None
    seq: int
    ts: datetime
    data: object  # Bar, Tick, Account, Status, or the dict of a type without a dataclass
    channel: str
    stream: str
    id: str
    envelope: dict = field(default_factory=dict, repr=False, compare=False)  # as received

    @property
    def symbol(self) -> str | None:
        """The instrument the event is about, if it is about one."""
        if isinstance(self.data, dict):
            return self.data.get("symbol")
        return getattr(self.data, "symbol", None)


@dataclass(frozen=True, slots=True)
class Gap:
    """Messages ``first``..``last`` of ``source`` are in none of the streams read."""

    source: str
    first: int
    last: int

    @property
    def size(self) -> int:
        return self.last - self.first + 1


@dataclass(frozen=True, slots=True)
class Invalid:
    """An entry that failed its schema: skipped, reported with ``reason``."""

    stream: str
    id: str
    reason: str
    source: str | None = None
    seq: int | None = None


def parse_time(text: str) -> datetime:
    """ISO-8601 with ``Z`` (as every time in a message) -> aware UTC datetime."""
    return datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)


def envelope_of(fields_: dict) -> tuple[str, dict]:
    """(channel, envelope dict) of a raw stream entry; InvalidMessage if it is not JSON."""
    channel = _text(fields_.get(b"channel", fields_.get("channel", b"")))
    raw = fields_.get(b"envelope", fields_.get("envelope"))
    if raw is None:
        raise InvalidMessage("entry has no 'envelope' field")
    try:
        envelope = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidMessage(f"envelope is not JSON: {error}") from None
    if not isinstance(envelope, dict):
        raise InvalidMessage("envelope is not a JSON object")
    return channel, envelope


def check_envelope(envelope: dict) -> None:
    """InvalidMessage with the reasons if ``envelope`` fails the envelope schema."""
    version = envelope.get("v")
    if version != schemas.CURRENT_VERSION:
        raise InvalidMessage(f"v: envelope version {version!r} is not supported by this client")
    if errors := _validator(schemas.ENVELOPE, version, "envelope")(envelope):
        raise InvalidMessage("; ".join(errors))


def decode(stream: str, entry_id: str, fields_: dict) -> Event:
    """The event in one stream entry; InvalidMessage (with the reason) if it fails its schema."""
    channel, envelope = envelope_of(fields_)
    check_envelope(envelope)
    type_, data = envelope["type"], envelope["data"]
    validator = _data_validator(type_, envelope["v"])
    if validator is not None and (errors := validator(data)):
        raise InvalidMessage("; ".join(errors))
    return Event(
        type=type_,
        source=envelope["source"],
        account=envelope["account"],
        seq=envelope["seq"],
        ts=parse_time(envelope["ts"]),
        data=typed_data(type_, data),
        channel=channel,
        stream=stream,
        id=entry_id,
        envelope=envelope,
    )


def typed_data(type_: str, data: dict) -> object:
    """The dataclass for ``type_`` built from a valid ``data`` dict (the dict if none exists)."""
    cls = DATA_CLASSES.get(type_)
    if cls is None:
        return data
    values = {}
    for f in fields(cls):
        if f.name == "probes":
            values[f.name] = {k: v for k, v in data.items() if k not in values}
        elif f.type == "datetime":
            values[f.name] = parse_time(data[f.name])
        else:
            values[f.name] = data[f.name]
    return cls(**values)


@cache
def _validator(name: str, version: int, root: str):
    return compile_schema(schemas.load(name, version), root)


def _data_validator(type_: str, version: int):
    try:
        return _validator(type_, version, "data")
    except KeyError:
        return None  # a type without a schema in this version: the envelope is all we check


def _text(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
