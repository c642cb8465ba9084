"""The broker's full state as plain JSON-serialisable data, and back.

Everything that cannot be recomputed from prices is kept: the account settings, the
ticket counters, open positions, active orders, the order and deal history, the
AutoTrading switch and the last server instant whose prices were processed (so that
after a restart the broker catches up on what prices did in between).
"""

from __future__ import annotations

import dataclasses

from .account import AccountConfig
from .ledger import Ledger
from .records import Deal, Order, Position

STATE_VERSION = 1


class BrokerStateError(ValueError):
    """A saved broker state is unreadable; the message says what is wrong."""


def ledger_to_state(ledger: Ledger) -> dict:
    return {
        "balance": ledger.balance,
        "next_order": ledger.next_order,
        "next_deal": ledger.next_deal,
        "next_request": ledger.next_request,
        "positions": [dataclasses.asdict(p) for p in ledger.positions.values()],
        "orders": [dataclasses.asdict(o) for o in ledger.orders.values()],
        "history_orders": [dataclasses.asdict(o) for o in ledger.history_orders.values()],
        "deals": [dataclasses.asdict(d) for d in ledger.deals],
        "closed_positions": sorted(ledger.closed_positions),
    }


def ledger_from_state(state: dict) -> Ledger:
    positions = [_record(Position, item, "positions") for item in require(state, "positions", list)]
    orders = [_record(Order, item, "orders") for item in require(state, "orders", list)]
    history = [
        _record(Order, item, "history_orders") for item in require(state, "history_orders", list)
    ]
    return Ledger(
        balance=float(require(state, "balance", (int, float))),
        next_order=require(state, "next_order", int),
        next_deal=require(state, "next_deal", int),
        next_request=require(state, "next_request", int),
        positions={p.ticket: p for p in positions},
        orders={o.ticket: o for o in orders},
        history_orders={o.ticket: o for o in history},
        deals=[_record(Deal, item, "deals") for item in require(state, "deals", list)],
        closed_positions=set(require(state, "closed_positions", list)),
    )


def config_from_state(state: dict) -> AccountConfig:
    return _record(AccountConfig, require(state, "config", dict), "config")


def check_version(state: dict) -> None:
    if not isinstance(state, dict):
        raise BrokerStateError("broker state: expected an object")
    version = state.get("version")
    if version != STATE_VERSION:
        raise BrokerStateError(f"broker state: version {version!r}, expected {STATE_VERSION}")


def require(state: dict, key: str, kind):
    """``state[key]``, checked to be of ``kind``; a clear error otherwise."""
    if key not in state:
        raise BrokerStateError(f"broker state: missing {key!r}")
    value = state[key]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is int:
        raise BrokerStateError(f"broker state: {key!r} has the wrong type ({type(value).__name__})")
    return value


def _record(cls, item, where: str):
    names = {f.name for f in dataclasses.fields(cls)}
    if not isinstance(item, dict) or not set(item) <= names:
        raise BrokerStateError(f"broker state: malformed entry in {where!r}: {item!r:.200}")
    try:
        return cls(**item)
    except TypeError as error:
        raise BrokerStateError(f"broker state: entry in {where!r}: {error}") from error
