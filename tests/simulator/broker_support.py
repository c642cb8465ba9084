"""Shared helpers for the paper broker's tests: a real market on a manual clock."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np

from bridge_v3.services.mt5.contract import constants as mc
from bridge_v3.simulator.broker.broker import PaperBroker
from bridge_v3.simulator.clock import BrokerTime, ManualClock
from bridge_v3.simulator.market.market import Market

# A Tuesday morning in winter: forex is open, server time is UTC+2.
TUESDAY = datetime(2024, 1, 16, 9, 0, tzinfo=timezone.utc).timestamp()
SATURDAY = datetime(2024, 1, 20, 12, 0, tzinfo=timezone.utc).timestamp()

REQUEST_KEYS = (
    "action", "magic", "order", "symbol", "volume", "price", "stoplimit", "sl", "tp",
    "deviation", "type", "type_filling", "type_time", "expiration", "comment", "position",
    "position_by",
)  # fmt: skip


def make_market(start: float = TUESDAY, seed: int = 7, symbols=None) -> Market:
    return Market(ManualClock(start), BrokerTime("Europe/Athens"), seed=seed, symbols=symbols,
                  history_days=30)  # fmt: skip


def request(**fields) -> dict:
    """A validated request as the face hands it over: all 17 keys, zero defaults."""
    full = {key: 0 for key in REQUEST_KEYS}
    full.update(volume=0.0, price=0.0, stoplimit=0.0, sl=0.0, tp=0.0, symbol="", comment="")
    full.update(fields)
    return full


def market_order(symbol: str, order_type: int, volume: float, **fields) -> dict:
    defaults = {"type_filling": mc.ORDER_FILLING_IOC, "deviation": 20}
    return request(action=mc.TRADE_ACTION_DEAL, symbol=symbol, type=order_type, volume=volume,
                   **{**defaults, **fields})  # fmt: skip


def pending_order(symbol: str, order_type: int, volume: float, price: float, **fields) -> dict:
    defaults = {"type_filling": mc.ORDER_FILLING_RETURN}
    return request(action=mc.TRADE_ACTION_PENDING, symbol=symbol, type=order_type,
                   volume=volume, price=price, **{**defaults, **fields})  # fmt: skip


def tick(market: Market, symbol: str):
    t = market.tick(symbol)
    return float(t["bid"]), float(t["ask"])


def server_msc(market: Market) -> int:
    return int(market.broker_time.server_msc(market.clock.now()))


def path(market: Market, symbol: str, after_msc: int, until_msc: int) -> np.ndarray:
    """Ticks strictly after ``after_msc`` up to ``until_msc``, oldest first."""
    ticks = market.ticks_range(symbol, after_msc + 1, until_msc, mc.COPY_TICKS_ALL)
    return ticks[np.argsort(ticks["time_msc"], kind="stable")]


def advance_until(market: Market, done, step: float = 600.0, limit: int = 500) -> None:
    """Move the clock forward by ``step`` until ``done()`` holds (at most ``limit`` steps)."""
    for _ in range(limit):
        if done():
            return
        market.clock.advance(step)
    raise AssertionError("the expected event never happened")


def money_of(deals: list[dict]) -> float:
    return sum(d["profit"] + d["commission"] + d["swap"] + d["fee"] for d in deals)


def all_deals(broker: PaperBroker) -> list[dict]:
    return broker.history_deals(0, 2**31 - 1)


def all_orders(broker: PaperBroker) -> list[dict]:
    return broker.history_orders(0, 2**31 - 1)
