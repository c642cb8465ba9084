"""Trading models: positions, orders and deals as the terminal reports them, times in UTC.

Each model is built from a terminal record (a dict whose times the MT5 service already
converted to UTC epochs) or from a database row, and gives back its row (column order
of its table) and the ``data`` of its Redis message. A time of 0 means "not set" and
becomes None. Millisecond times are used where the terminal gives them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace
from datetime import datetime, timezone

# Terminal values (contract: POSITION_TYPE_*, ORDER_STATE_*); models import nothing of ours.
_BUY_TYPES = frozenset({0, 2, 4, 6})  # ORDER_TYPE_BUY, _BUY_LIMIT, _BUY_STOP, _BUY_STOP_LIMIT
ACTIVE_ORDER_STATES = frozenset({0, 1, 3, 7, 8, 9})  # started, placed, partial, request_*
FINAL_ORDER_EVENTS = {2: "cancelled", 4: "filled", 5: "rejected", 6: "expired"}


def utc_time(seconds: float | None, msc: float | None = None) -> datetime | None:
    """A UTC datetime from epoch milliseconds (preferred) or seconds; 0/None -> None."""
    if msc:
        return datetime.fromtimestamp(int(msc) / 1000, tz=timezone.utc)
    if seconds:
        return datetime.fromtimestamp(int(seconds), tz=timezone.utc)
    return None


def iso(moment: datetime | None) -> str | None:
    """ISO-8601 in UTC with milliseconds and ``Z`` (None stays None)."""
    if moment is None:
        return None
    text = moment.astimezone(timezone.utc).replace(tzinfo=None).isoformat(timespec="milliseconds")
    return text + "Z"


def _message(model: object) -> dict:
    data = asdict(model)  # type: ignore[call-overload]
    data.pop("account", None)  # the envelope carries the account
    return {k: iso(v) if isinstance(v, datetime) else v for k, v in data.items()}


@dataclass(frozen=True, slots=True)
class Position:
    """An open position (or a closed one, with ``closed_at``); row of ``positions``."""

    account: int
    ticket: int
    identifier: int
    symbol: str
    type: int  # POSITION_TYPE_BUY 0, _SELL 1
    magic: int
    reason: int
    volume: float
    price_open: float
    sl: float
    tp: float
    price_current: float
    swap: float
    profit: float
    comment: str
    external_id: str
    time: datetime | None
    time_update: datetime | None
    closed_at: datetime | None = None
    external: bool = False

    @classmethod
    def from_mt5(cls, record: Mapping, account: int, external: bool) -> Position:
        return cls(
            account=account,
            ticket=int(record["ticket"]),
            identifier=int(record["identifier"]),
            symbol=str(record["symbol"]),
            type=int(record["type"]),
            magic=int(record["magic"]),
            reason=int(record["reason"]),
            volume=float(record["volume"]),
            price_open=float(record["price_open"]),
            sl=float(record["sl"]),
            tp=float(record["tp"]),
            price_current=float(record["price_current"]),
            swap=float(record["swap"]),
            profit=float(record["profit"]),
            comment=str(record["comment"]),
            external_id=str(record.get("external_id", "")),
            time=utc_time(record.get("time"), record.get("time_msc")),
            time_update=utc_time(record.get("time_update"), record.get("time_update_msc")),
            external=external,
        )

    @classmethod
    def from_row(cls, row: Sequence) -> Position:
        return cls(*row)

    def row(self) -> tuple:
        return tuple(getattr(self, name) for name in POSITION_COLUMNS)

    @property
    def side(self) -> str:
        return "buy" if self.type == 0 else "sell"

    def closed(self, at: datetime, price: float, profit: float, swap: float) -> Position:
        """This position as it ended: closed at ``at`` by a deal at ``price``; ``profit``
        and ``swap`` are what its deals realised."""
        return replace(self, closed_at=at, price_current=price, profit=profit, swap=swap)

    def data(self) -> dict:
        """The position as a message payload (no event): for the latest-value key."""
        return {**_message(self), "side": self.side}

    def message(self, event: str, changes: Mapping | None = None) -> dict:
        data = {**self.data(), "event": event}
        if changes:
            data["changes"] = dict(changes)
        return data


@dataclass(frozen=True, slots=True)
class Order:
    """A pending order or a finished (history) order; row of ``orders``."""

    account: int
    ticket: int
    symbol: str
    type: int
    state: int
    type_time: int
    type_filling: int
    magic: int
    position_id: int
    position_by_id: int
    reason: int
    volume_initial: float
    volume_current: float
    price_open: float
    sl: float
    tp: float
    price_current: float
    price_stoplimit: float
    comment: str
    external_id: str
    time_setup: datetime | None
    time_done: datetime | None
    time_expiration: datetime | None
    external: bool = False

    @classmethod
    def from_mt5(cls, record: Mapping, account: int, external: bool) -> Order:
        return cls(
            account=account,
            ticket=int(record["ticket"]),
            symbol=str(record["symbol"]),
            type=int(record["type"]),
            state=int(record["state"]),
            type_time=int(record["type_time"]),
            type_filling=int(record["type_filling"]),
            magic=int(record["magic"]),
            position_id=int(record["position_id"]),
            position_by_id=int(record["position_by_id"]),
            reason=int(record["reason"]),
            volume_initial=float(record["volume_initial"]),
            volume_current=float(record["volume_current"]),
            price_open=float(record["price_open"]),
            sl=float(record["sl"]),
            tp=float(record["tp"]),
            price_current=float(record["price_current"]),
            price_stoplimit=float(record["price_stoplimit"]),
            comment=str(record["comment"]),
            external_id=str(record.get("external_id", "")),
            time_setup=utc_time(record.get("time_setup"), record.get("time_setup_msc")),
            time_done=utc_time(record.get("time_done"), record.get("time_done_msc")),
            time_expiration=utc_time(record.get("time_expiration")),
            external=external,
        )

    @classmethod
    def from_row(cls, row: Sequence) -> Order:
        return cls(*row)

    def row(self) -> tuple:
        return tuple(getattr(self, name) for name in ORDER_COLUMNS)

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_ORDER_STATES

    @property
    def side(self) -> str:
        return "buy" if self.type in _BUY_TYPES else "sell"

    def message(self, event: str, changes: Mapping | None = None) -> dict:
        data = _message(self)
        data.update(event=event, side=self.side)
        if changes:
            data["changes"] = dict(changes)
        return data


@dataclass(frozen=True, slots=True)
class Deal:
    """An executed deal (or a balance operation); row of ``deals``."""

    account: int
    ticket: int
    order_ticket: int
    position_id: int
    symbol: str
    type: int
    entry: int
    magic: int
    reason: int
    volume: float
    price: float
    commission: float
    swap: float
    profit: float
    fee: float
    comment: str
    external_id: str
    time: datetime
    time_msc: int

    @classmethod
    def from_mt5(cls, record: Mapping, account: int) -> Deal:
        time_msc = int(record.get("time_msc") or int(record["time"]) * 1000)
        return cls(
            account=account,
            ticket=int(record["ticket"]),
            order_ticket=int(record["order"]),
            position_id=int(record["position_id"]),
            symbol=str(record["symbol"]),
            type=int(record["type"]),
            entry=int(record["entry"]),
            magic=int(record["magic"]),
            reason=int(record["reason"]),
            volume=float(record["volume"]),
            price=float(record["price"]),
            commission=float(record["commission"]),
            swap=float(record["swap"]),
            profit=float(record["profit"]),
            fee=float(record["fee"]),
            comment=str(record["comment"]),
            external_id=str(record.get("external_id", "")),
            time=utc_time(None, time_msc),  # type: ignore[arg-type]
            time_msc=time_msc,
        )

    def row(self) -> tuple:
        return tuple(getattr(self, name) for name in DEAL_COLUMNS)

    @property
    def money(self) -> float:
        """What the deal moved the balance by."""
        return self.profit + self.commission + self.swap + self.fee

    def message(self) -> dict:
        return _message(self)


POSITION_COLUMNS = tuple(f.name for f in fields(Position))
ORDER_COLUMNS = tuple(f.name for f in fields(Order))
DEAL_COLUMNS = tuple(f.name for f in fields(Deal))
POSITION_TRACKED = ("type", "volume", "price_open", "sl", "tp")  # a change is "modified"
ORDER_TRACKED = (
    "type",
    "volume_current",
    "price_open",
    "sl",
    "tp",
    "price_stoplimit",
    "time_expiration",
    "type_time",
)


def changes_of(old: object, new: object, names: Sequence[str]) -> dict[str, list]:
    """``{name: [old, new]}`` for each of ``names`` whose value differs."""
    found = {}
    for name in names:
        before, after = getattr(old, name), getattr(new, name)
        if before != after:
            found[name] = [_plain(before), _plain(after)]
    return found


def _plain(value: object) -> object:
    return iso(value) if isinstance(value, datetime) else value
