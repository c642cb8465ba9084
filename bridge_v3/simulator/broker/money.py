"""Account-currency maths: margin, profit, commission and swap for one symbol.

Every amount a deal, a position or ``order_calc_*`` shows comes from here, so what
``order_check``/``order_calc_*`` promise is what ``order_send`` then books. Amounts are
rounded to the account currency's cents, as the terminal shows them. Currencies are
converted at the current mid through ``market.convert``.
"""

from __future__ import annotations

from collections.abc import Callable

from bridge_v3.services.mt5.contract import constants as mc

CURRENCY_DIGITS = 2
_BUY_TYPES = frozenset(
    {
        mc.ORDER_TYPE_BUY,
        mc.ORDER_TYPE_BUY_LIMIT,
        mc.ORDER_TYPE_BUY_STOP,
        mc.ORDER_TYPE_BUY_STOP_LIMIT,
    }
)
# Calculation modes whose margin does not depend on price: volume * contract / leverage.
_FOREX_MODES = frozenset({mc.SYMBOL_CALC_MODE_FOREX, mc.SYMBOL_CALC_MODE_FOREX_NO_LEVERAGE})
# Plain CFD is leveraged here too (most retail brokers configure it so); exchange modes are not.
_UNLEVERAGED_MODES = frozenset(
    {mc.SYMBOL_CALC_MODE_FOREX_NO_LEVERAGE}
    | {mode for name, mode in mc.EXPORTED.items() if name.startswith("SYMBOL_CALC_MODE_EXCH")}
)


def is_buy(order_type: int) -> bool:
    """True for every buying order type (market, limit, stop, stop-limit)."""
    return order_type in _BUY_TYPES


def cents(amount: float) -> float:
    """Round an account-currency amount the way the terminal shows it."""
    return round(amount + 0.0, CURRENCY_DIGITS) + 0.0


class Money:
    """Margin, profit, commission and swap in the account currency.

    ``convert(amount, from_ccy, to_ccy)`` is ``Market.convert``; the margin uses
    ``leverage`` except for the calculation modes that ignore it.
    """

    def __init__(
        self,
        convert: Callable[[float, str, str], float],
        currency: str,
        leverage: int,
        commission_per_lot: float = 0.0,
    ) -> None:
        self._convert = convert
        self.currency = currency
        self.leverage = leverage
        self.commission_per_lot = commission_per_lot

    def to_account(self, amount: float, currency: str) -> float:
        if currency == self.currency or amount == 0.0:
            return amount
        return self._convert(amount, currency, self.currency)

    def margin(self, spec, order_type: int, volume: float, price: float) -> float:
        """Margin for ``volume`` lots; price matters for CFD-like modes only."""
        mode = spec.trade_calc_mode
        leverage = 1 if mode in _UNLEVERAGED_MODES else max(self.leverage, 1)
        if mode in _FOREX_MODES:
            amount = volume * spec.trade_contract_size / leverage
            return cents(self.to_account(amount, spec.currency_margin))
        if mode == mc.SYMBOL_CALC_MODE_FUTURES and spec.margin_initial > 0:
            return cents(self.to_account(volume * spec.margin_initial, spec.currency_margin))
        # CFD, CFD index, CFD leverage, crypto: the notional is quoted in the profit currency.
        amount = volume * spec.trade_contract_size * price / leverage
        return cents(self.to_account(amount, spec.currency_profit))

    def profit(
        self, spec, order_type: int, volume: float, price_open: float, price_close: float
    ) -> float:
        """Profit of buying (or selling) at ``price_open`` and closing at ``price_close``."""
        move = price_close - price_open if is_buy(order_type) else price_open - price_close
        amount = move * volume * spec.trade_contract_size
        return cents(self.to_account(amount, spec.currency_profit))

    def commission(self, volume: float) -> float:
        """Commission charged on each deal (entry and exit), as a negative amount."""
        return cents(-abs(self.commission_per_lot) * volume)

    def swap(self, spec, position_type: int, volume: float, price: float) -> float:
        """Swap for one night of ``volume`` lots; 0 for modes not modelled."""
        rate = spec.swap_long if position_type == mc.POSITION_TYPE_BUY else spec.swap_short
        mode = spec.swap_mode
        if mode == mc.SYMBOL_SWAP_MODE_POINTS:
            amount, currency = rate * spec.point * spec.trade_contract_size * volume, None
        elif mode == mc.SYMBOL_SWAP_MODE_CURRENCY_SYMBOL:
            amount, currency = rate * volume, spec.currency_base
        elif mode == mc.SYMBOL_SWAP_MODE_CURRENCY_MARGIN:
            amount, currency = rate * volume, spec.currency_margin
        elif mode == mc.SYMBOL_SWAP_MODE_CURRENCY_DEPOSIT:
            amount, currency = rate * volume, self.currency
        elif mode in (mc.SYMBOL_SWAP_MODE_INTEREST_CURRENT, mc.SYMBOL_SWAP_MODE_INTEREST_OPEN):
            amount = price * spec.trade_contract_size * volume * rate / 100.0 / 360.0
            currency = None
        else:
            return 0.0
        return cents(self.to_account(amount, currency or spec.currency_profit))
