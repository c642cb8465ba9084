"""What the terminal shows about a symbol: SymbolInfo, Tick and depth-of-market rows.

The market owns specifications and prices; this module only lays them out in the fields
of the real structs. Day statistics (bidhigh/bidlow, session open/close, price change)
come from the current and previous D1 bars, so they agree with ``copy_rates_*``.
Trade tick values come from the broker's profit calculation, so they agree with
``order_calc_profit``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bridge_v3.services.mt5.contract import constants as mc
from bridge_v3.services.mt5.contract.fields import SYMBOL_INFO_FIELDS

BOOK_DEPTH = 10  # price levels on each side of the simulated depth of market
_ALL_EXPIRATIONS = 1 | 2 | 4 | 8  # SYMBOL_EXPIRATION_GTC | DAY | SPECIFIED | SPECIFIED_DAY
_ALL_ORDER_KINDS = 1 | 2 | 4 | 8 | 16 | 32 | 64  # SYMBOL_ORDER_MARKET ... CLOSEBY
_WEDNESDAY = 3  # triple swap day, as most forex brokers


def tick_dict(tick: np.void) -> dict[str, Any]:
    """A TICKS_DTYPE record as the fields of the Tick struct."""
    return {name: tick[name].item() for name in tick.dtype.names}


def day_stats(spec: Any, days: np.ndarray, tick: np.void) -> dict[str, float]:
    """bidhigh/bidlow/askhigh/asklow, session open/close and price change from D1 bars."""
    bid = float(tick["bid"])
    if len(days) == 0:
        return _flat_day(bid, float(tick["ask"]))
    today = days[-1]
    spread = float(tick["ask"]) - bid
    previous_close = float(days[-2]["close"]) if len(days) > 1 else float(today["open"])
    change = (bid - previous_close) / previous_close * 100.0 if previous_close else 0.0
    high, low = max(float(today["high"]), bid), min(float(today["low"]), bid)
    return {
        "bidhigh": high,
        "bidlow": low,
        "askhigh": high + spread,
        "asklow": low + spread,
        "session_open": float(today["open"]),
        "session_close": previous_close,
        "price_change": round(change, 4),
    }


def _flat_day(bid: float, ask: float) -> dict[str, float]:
    return {
        "bidhigh": bid,
        "bidlow": bid,
        "askhigh": ask,
        "asklow": ask,
        "session_open": 0.0,
        "session_close": 0.0,
        "price_change": 0.0,
    }


def symbol_info_dict(
    spec: Any, tick: np.void, selected: bool, day: dict[str, float], tick_values: tuple
) -> dict[str, Any]:
    """All 96 SymbolInfo fields of ``spec`` at ``tick``; ``tick_values`` = (profit, loss)."""
    info = _zero_fields()
    info.update(_identity(spec, selected))
    info.update(_trading_rules(spec))
    info.update(_prices(spec, tick))
    info.update(day)
    info["trade_tick_value"], info["trade_tick_value_profit"] = tick_values[0], tick_values[0]
    info["trade_tick_value_loss"] = tick_values[1]
    return info


def _identity(spec: Any, selected: bool) -> dict[str, Any]:
    return {
        "select": selected,
        "visible": selected,
        "name": spec.name,
        "description": spec.description,
        "path": spec.path,
        "category": spec.category,
        "currency_base": spec.currency_base,
        "currency_profit": spec.currency_profit,
        "currency_margin": spec.currency_margin,
        "chart_mode": mc.SYMBOL_CHART_MODE_BID,
        "spread_float": True,
        "ticks_bookdepth": BOOK_DEPTH,
    }


def _trading_rules(spec: Any) -> dict[str, Any]:
    names = [
        "digits",
        "point",
        "trade_calc_mode",
        "trade_mode",
        "trade_exemode",
        "trade_stops_level",
        "trade_freeze_level",
        "swap_mode",
        "swap_long",
        "swap_short",
        "filling_mode",
        "trade_tick_size",
        "trade_contract_size",
        "volume_min",
        "volume_max",
        "volume_step",
        "volume_limit",
        "margin_initial",
        "margin_hedged",
    ]
    rules: dict[str, Any] = {name: getattr(spec, name) for name in names}
    rules.update(
        swap_rollover3days=_WEDNESDAY,
        expiration_mode=_ALL_EXPIRATIONS,
        order_mode=_ALL_ORDER_KINDS,
        order_gtc_mode=mc.SYMBOL_ORDERS_GTC,
    )
    return rules


def _prices(spec: Any, tick: np.void) -> dict[str, Any]:
    bid, ask = float(tick["bid"]), float(tick["ask"])
    return {
        "time": int(tick["time"]),
        "bid": bid,
        "ask": ask,
        "last": float(tick["last"]),
        "spread": int(round((ask - bid) / spec.point)),
    }


def _zero_fields() -> dict[str, Any]:
    # Everything the simulated broker does not model (exchange sessions, options, greeks,
    # bonds) reads as the real terminal shows it for a forex/CFD symbol: zero or empty.
    zero = {"int": 0, "float": 0.0, "bool": False, "str": ""}
    return {name: zero[kind] for name, kind in SYMBOL_INFO_FIELDS}


def book_rows(spec: Any, tick: np.void) -> list[dict[str, Any]]:
    """A deterministic depth of market around ``tick``: sells (highest first), then buys."""
    step = spec.trade_tick_size or spec.point
    bid, ask = float(tick["bid"]), float(tick["ask"])
    sells = [
        _level(mc.BOOK_TYPE_SELL, round(ask + level * step, spec.digits), level)
        for level in reversed(range(BOOK_DEPTH))
    ]
    buys = [
        _level(mc.BOOK_TYPE_BUY, round(bid - level * step, spec.digits), level)
        for level in range(BOOK_DEPTH)
    ]
    return sells + buys


def _level(kind: int, price: float, level: int) -> dict[str, Any]:
    volume = 10 * (level + 1)
    return {"type": kind, "price": price, "volume": volume, "volume_dbl": float(volume)}
