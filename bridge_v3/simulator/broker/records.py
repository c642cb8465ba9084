"""The broker's trading records: active and historical orders, open positions, deals.

Each record is a plain dataclass whose fields are JSON-friendly, so the broker's state
can be saved and restored field by field. ``as_dict`` builds the dict FACE turns into
the matching structure (``TradeOrder``, ``TradePosition``, ``TradeDeal``): every field of
the real structure, in the real order. Times are server time in milliseconds (``*_msc``);
the whole seconds shown to callers are derived from them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Order:
    """An order: a pending one while active, any kind once in history."""

    ticket: int
    symbol: str
    type: int
    state: int
    volume_initial: float
    volume_current: float
    price_open: float
    sl: float
    tp: float
    type_filling: int
    type_time: int
    time_setup_msc: int
    magic: int = 0
    comment: str = ""
    reason: int = 3  # ORDER_REASON_EXPERT: everything arriving through the API
    price_stoplimit: float = 0.0
    price_current: float = 0.0
    time_expiration: int = 0  # server seconds, as the caller gave it (0 = none)
    expires_msc: int = 0  # server ms at which the order lapses (0 = never)
    time_done_msc: int = 0
    position_id: int = 0
    position_by_id: int = 0
    armed_msc: int = 0  # triggers look only at ticks strictly after this instant

    def as_dict(self, price_current: float | None = None) -> dict:
        """Fields of ``TradeOrder`` in the real order."""
        current = self.price_current if price_current is None else price_current
        return {
            "ticket": self.ticket,
            "time_setup": self.time_setup_msc // 1000,
            "time_setup_msc": self.time_setup_msc,
            "time_done": self.time_done_msc // 1000,
            "time_done_msc": self.time_done_msc,
            "time_expiration": self.time_expiration,
            "type": self.type,
            "type_time": self.type_time,
            "type_filling": self.type_filling,
            "state": self.state,
            "magic": self.magic,
            "position_id": self.position_id,
            "position_by_id": self.position_by_id,
            "reason": self.reason,
            "volume_initial": float(self.volume_initial),
            "volume_current": float(self.volume_current),
            "price_open": float(self.price_open),
            "sl": float(self.sl),
            "tp": float(self.tp),
            "price_current": float(current),
            "price_stoplimit": float(self.price_stoplimit),
            "symbol": self.symbol,
            "comment": self.comment,
            "external_id": "",
        }


@dataclass
class Position:
    """An open position. ``ticket`` and ``identifier`` are the opening order's ticket."""

    ticket: int
    identifier: int
    symbol: str
    type: int
    volume: float
    price_open: float
    sl: float
    tp: float
    time_msc: int
    time_update_msc: int
    magic: int = 0
    comment: str = ""
    reason: int = 3  # POSITION_REASON_EXPERT
    swap: float = 0.0  # accrued, not yet booked; booked pro rata into closing deals
    armed_msc: int = 0

    def as_dict(self, price_current: float, profit: float) -> dict:
        """Fields of ``TradePosition`` in the real order."""
        return {
            "ticket": self.ticket,
            "time": self.time_msc // 1000,
            "time_msc": self.time_msc,
            "time_update": self.time_update_msc // 1000,
            "time_update_msc": self.time_update_msc,
            "type": self.type,
            "magic": self.magic,
            "identifier": self.identifier,
            "reason": self.reason,
            "volume": float(self.volume),
            "price_open": float(self.price_open),
            "sl": float(self.sl),
            "tp": float(self.tp),
            "price_current": float(price_current),
            "swap": float(self.swap),
            "profit": float(profit),
            "symbol": self.symbol,
            "comment": self.comment,
            "external_id": "",
        }


@dataclass
class Deal:
    """A deal: a fill of an order, or a balance operation (deposit)."""

    ticket: int
    order: int
    time_msc: int
    type: int
    entry: int
    volume: float
    price: float
    symbol: str
    magic: int = 0
    position_id: int = 0
    reason: int = 3  # DEAL_REASON_EXPERT
    commission: float = 0.0
    swap: float = 0.0
    profit: float = 0.0
    fee: float = 0.0
    comment: str = ""

    @property
    def money(self) -> float:
        """What this deal moves the balance by."""
        return self.profit + self.commission + self.swap + self.fee

    def as_dict(self) -> dict:
        """Fields of ``TradeDeal`` in the real order."""
        return {
            "ticket": self.ticket,
            "order": self.order,
            "time": self.time_msc // 1000,
            "time_msc": self.time_msc,
            "type": self.type,
            "entry": self.entry,
            "magic": self.magic,
            "position_id": self.position_id,
            "reason": self.reason,
            "volume": float(self.volume),
            "price": float(self.price),
            "commission": float(self.commission),
            "swap": float(self.swap),
            "profit": float(self.profit),
            "fee": float(self.fee),
            "symbol": self.symbol,
            "comment": self.comment,
            "external_id": "",
        }
