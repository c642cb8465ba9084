"""The account: its fixed settings, and the figures derived from the ledger and prices.

Balance, equity, margin, free margin and margin level are never stored: they are
computed from the open positions at the prices of the moment, so they are true at
every call. ``equity = balance + credit + profit`` where ``profit`` is the floating
profit of all positions including their accrued swap.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from bridge_v3.services.mt5.contract import constants as mc

from .ledger import Ledger
from .money import Money, cents
from .records import Position
from .validation import Quote


@dataclass(frozen=True)
class AccountConfig:
    """What the broker set up when the account was opened."""

    login: int = 10000001
    leverage: int = 100
    currency: str = "USD"
    hedging: bool = True
    commission_per_lot: float = 0.0
    server: str = "BridgeSim-Demo"
    name: str = "Paper Trader"
    company: str = "bridge_v3 simulated broker"
    margin_so_call: float = 100.0  # margin level (%) of the margin call warning
    margin_so_so: float = 50.0  # margin level (%) at which positions are stopped out
    limit_orders: int = 200


class Figures(NamedTuple):
    balance: float
    profit: float
    equity: float
    margin: float
    margin_free: float
    margin_level: float


QuoteOf = Callable[[str], Quote | None]


def position_value(money: Money, spec, position: Position, quote: Quote | None):
    """(price_current, floating profit) of ``position`` at ``quote``."""
    if quote is None:
        return position.price_open, 0.0
    price = quote.close_price(position.type == mc.POSITION_TYPE_BUY)
    profit = money.profit(spec, position.type, position.volume, position.price_open, price)
    return price, profit


def position_margin(money: Money, spec, position: Position) -> float:
    return money.margin(spec, position.type, position.volume, position.price_open)


def figures(ledger: Ledger, money: Money, spec_of, quote_of: QuoteOf) -> Figures:
    """Account figures for the ledger's positions at the quotes ``quote_of`` gives."""
    profit = margin = 0.0
    for position in ledger.positions.values():
        spec = spec_of(position.symbol)
        profit += position_value(money, spec, position, quote_of(position.symbol))[1]
        profit += position.swap
        margin += position_margin(money, spec, position)
    return figures_from(ledger.balance, cents(profit), cents(margin))


def figures_from(balance: float, profit: float, margin: float) -> Figures:
    equity = cents(balance + profit)
    level = round(equity / margin * 100.0, 2) if margin > 0 else 0.0
    return Figures(balance, profit, equity, margin, cents(equity - margin), level)


def lacks_money(before: Figures, after: Figures) -> bool:
    """A trade needing more margin than the free margin it would leave is refused."""
    return after.margin > before.margin and after.margin_free < 0


def account_dict(config: AccountConfig, numbers: Figures) -> dict:
    """Fields of ``AccountInfo`` (all 28) in the real order."""
    hedging = mc.ACCOUNT_MARGIN_MODE_RETAIL_HEDGING
    return {
        "login": config.login,
        "trade_mode": mc.ACCOUNT_TRADE_MODE_DEMO,
        "leverage": config.leverage,
        "limit_orders": config.limit_orders,
        "margin_so_mode": mc.ACCOUNT_STOPOUT_MODE_PERCENT,
        "trade_allowed": True,
        "trade_expert": True,
        "margin_mode": hedging if config.hedging else mc.ACCOUNT_MARGIN_MODE_RETAIL_NETTING,
        "currency_digits": 2,
        "fifo_close": False,
        "balance": float(numbers.balance),
        "credit": 0.0,
        "profit": float(numbers.profit),
        "equity": float(numbers.equity),
        "margin": float(numbers.margin),
        "margin_free": float(numbers.margin_free),
        "margin_level": float(numbers.margin_level),
        "margin_so_call": float(config.margin_so_call),
        "margin_so_so": float(config.margin_so_so),
        "margin_initial": 0.0,
        "margin_maintenance": 0.0,
        "assets": 0.0,
        "liabilities": 0.0,
        "commission_blocked": 0.0,
        "name": config.name,
        "server": config.server,
        "currency": config.currency,
        "company": config.company,
    }
