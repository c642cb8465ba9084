"""Building trade requests: the filling mode a symbol allows, the size a risk budget buys,
and the market price to ask. Pure functions over ``symbol_info`` and tick records.

Filling (``symbol_info.filling_mode`` is a bitmask; the real module exports no
``SYMBOL_FILLING_*`` constants, so the bits are named here): FOK when bit 1 is set, IOC
when bit 2 is; with neither, Instant/Request execution takes FOK (their only policy) and
Exchange execution RETURN. Pending orders are RETURN. ``order_check`` has the last word:
on 10030 (unsupported filling) the executor tries the next candidate.

Sizing (risk per trade): ``equity × RISK_PER_TRADE %`` over the loss one lot takes at the
stop, ``|entry − sl| / trade_tick_size × trade_tick_value_loss`` (the tick value for a
loss, falling back to ``trade_tick_value``), rounded *down* to the volume step and capped
at ``volume_max``; below ``volume_min`` there is no trade.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from bridge_v3.services.mt5.contract import constants as mc

FILLING_FOK_BIT = 1  # SYMBOL_FILLING_FOK
FILLING_IOC_BIT = 2  # SYMBOL_FILLING_IOC
_FOK_ONLY = (mc.SYMBOL_TRADE_EXECUTION_REQUEST, mc.SYMBOL_TRADE_EXECUTION_INSTANT)
_STEP_EPSILON = 1e-9


class Unsizable(ValueError):
    """No volume can be traded within the risk budget; the message says why."""


def filling_modes(spec: Mapping, *, pending: bool = False) -> list[int]:
    """ORDER_FILLING_* candidates for a symbol, best first."""
    if pending:
        return [mc.ORDER_FILLING_RETURN]
    mask = int(spec.get("filling_mode") or 0)
    execution = spec.get("trade_exemode")
    candidates = []
    if mask & FILLING_FOK_BIT:
        candidates.append(mc.ORDER_FILLING_FOK)
    if mask & FILLING_IOC_BIT:
        candidates.append(mc.ORDER_FILLING_IOC)
    if execution in _FOK_ONLY and mc.ORDER_FILLING_FOK not in candidates:
        candidates.append(mc.ORDER_FILLING_FOK)
    if execution == mc.SYMBOL_TRADE_EXECUTION_EXCHANGE:
        candidates.append(mc.ORDER_FILLING_RETURN)
    return candidates or [mc.ORDER_FILLING_FOK]


def market_price(tick: Mapping, buying: bool) -> float:
    """What a market order pays: the ask to buy, the bid to sell."""
    return float(tick["ask"] if buying else tick["bid"])


def risk_volume(
    spec: Mapping, *, equity: float, risk_pct: float, entry: float, stop: float
) -> float:
    """Lots whose loss at ``stop`` is at most ``risk_pct`` % of ``equity``. Raises Unsizable."""
    distance = abs(entry - stop)
    if not stop or distance <= 0:
        raise Unsizable("no stop loss to size the position by")
    tick_size = float(spec.get("trade_tick_size") or 0.0)
    tick_value = float(spec.get("trade_tick_value_loss") or spec.get("trade_tick_value") or 0.0)
    if tick_size <= 0 or tick_value <= 0:
        raise Unsizable(f"{spec.get('name')}: the terminal gives no tick size or tick value")
    budget = equity * risk_pct / 100.0
    per_lot = distance / tick_size * tick_value
    return _whole_steps(spec, budget / per_lot, budget, per_lot)


def _whole_steps(spec: Mapping, lots: float, budget: float, per_lot: float) -> float:
    step = float(spec["volume_step"])
    low, high = float(spec["volume_min"]), float(spec["volume_max"])
    steps = math.floor(lots / step + _STEP_EPSILON)
    volume = min(round(steps * step, _decimals(step)), high)
    if volume < low - _STEP_EPSILON:
        raise Unsizable(
            f"risking {budget:.2f} buys {lots:.4f} lots at {per_lot:.2f} per lot to the stop, "
            f"below {spec.get('name')}'s minimum of {low:g}"
        )
    return volume


def _decimals(step: float) -> int:
    """Decimal places of a volume step (0.01 -> 2), so a volume never shows 0.30000000004."""
    text = f"{step:.10f}".rstrip("0")
    return len(text.split(".")[1]) if "." in text else 0


def within(price: float, reference: float | None, tolerance: float | None) -> bool:
    """True when ``price`` is at most ``tolerance`` away from ``reference`` (None: no limit)."""
    if reference is None or tolerance is None:
        return True
    return abs(price - reference) <= tolerance + 1e-12
