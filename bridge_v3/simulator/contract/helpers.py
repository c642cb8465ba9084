"""``Buy``/``Sell``/``Close`` and the private ``_RawOrder`` behind them: the pure-Python
helpers of the real wheel's ``__init__.py``.

They are reproduced with their quirks, because code that uses them on a real terminal
meets those quirks: no ``type_filling`` (so FOK), no magic, no SL/TP, ``deviation`` 10;
without a price they retry up to 10 times on REQUOTE/PRICE_OFF at a fresh tick; an
unknown symbol's missing tick raises AttributeError (the wheel does not guard it);
``Close`` closes every BUY/SELL position of the symbol, whoever opened it.
"""

from __future__ import annotations

from typing import Any

from bridge_v3.services.mt5.contract import constants as mc

_TRIES = 10
_RETRY_ON = (mc.TRADE_RETCODE_REQUOTE, mc.TRADE_RETCODE_PRICE_OFF)


def raw_order(
    mt5: Any, order_type: int, symbol: str, volume: Any, price: Any, comment=None, ticket=None
) -> Any:
    """_RawOrder of the wheel: one market deal at ``price`` (deviation 10, no filling)."""
    order = {
        "action": mc.TRADE_ACTION_DEAL,
        "symbol": symbol,
        "volume": volume,
        "type": order_type,
        "price": price,
        "deviation": 10,
    }
    if comment is not None:
        order["comment"] = comment
    if ticket is not None:
        order["position"] = ticket
    return mt5.order_send(order)


def _deal(
    mt5: Any, side: int, symbol: str, volume: Any, price: Any, comment: Any, ticket: Any
) -> Any:
    if price is not None:
        return raw_order(mt5, side, symbol, volume, price, comment, ticket)
    quote = "ask" if side == mc.ORDER_TYPE_BUY else "bid"
    result = None
    for _ in range(_TRIES):
        price = getattr(mt5.symbol_info_tick(symbol), quote)
        result = raw_order(mt5, side, symbol, volume, price, comment, ticket)
        if result is None or result.retcode not in _RETRY_ON:
            break
    return result


def buy(mt5: Any, symbol: str, volume: Any, price: Any = None, *, comment=None, ticket=None):
    """Buy(symbol, volume, price=None, *, comment=None, ticket=None) of the wheel."""
    return _deal(mt5, mc.ORDER_TYPE_BUY, symbol, volume, price, comment, ticket)


def sell(mt5: Any, symbol: str, volume: Any, price: Any = None, *, comment=None, ticket=None):
    """Sell(symbol, volume, price=None, *, comment=None, ticket=None) of the wheel."""
    return _deal(mt5, mc.ORDER_TYPE_SELL, symbol, volume, price, comment, ticket)


def close(mt5: Any, symbol: str, *, comment: Any = None, ticket: Any = None) -> Any:
    """Close(symbol, *, comment=None, ticket=None): True, 'Partially', False, or None."""
    if ticket is not None:
        positions = mt5.positions_get(ticket=ticket)
    else:
        positions = mt5.positions_get(symbol=symbol)
    if positions is None:
        return None
    tried = done = 0
    for position in positions:
        if position.type not in (mc.POSITION_TYPE_BUY, mc.POSITION_TYPE_SELL):
            continue
        tried += 1
        result = _close_one(mt5, symbol, position, comment)
        if result is None:
            return None
        done += result.retcode == mc.TRADE_RETCODE_DONE
    if done == 0:
        return False
    return True if done == tried else "Partially"


def _close_one(mt5: Any, symbol: str, position: Any, comment: Any) -> Any:
    result = None
    for _ in range(_TRIES):
        tick = mt5.symbol_info_tick(symbol)
        if tick is None:
            return None
        if position.type == mc.POSITION_TYPE_BUY:
            result = sell(
                mt5, symbol, position.volume, tick.bid, comment=comment, ticket=position.ticket
            )
        else:
            result = buy(
                mt5, symbol, position.volume, tick.ask, comment=comment, ticket=position.ticket
            )
        if result is None or result.retcode not in _RETRY_ON:
            break
    return result


class WheelHelpers:
    """The wheel's helpers as methods of the module face (a mixin of ``SimulatedTerminal``)."""

    def Buy(self, symbol: str, volume: Any, price: Any = None, *, comment=None, ticket=None):  # noqa: N802
        """Buy(symbol, volume, price=None, *, comment=None, ticket=None), as in the wheel."""
        return buy(self, symbol, volume, price, comment=comment, ticket=ticket)

    def Sell(self, symbol: str, volume: Any, price: Any = None, *, comment=None, ticket=None):  # noqa: N802
        """Sell(symbol, volume, price=None, *, comment=None, ticket=None), as in the wheel."""
        return sell(self, symbol, volume, price, comment=comment, ticket=ticket)

    def Close(self, symbol: str, *, comment: Any = None, ticket: Any = None) -> Any:  # noqa: N802
        """Close(symbol, *, comment=None, ticket=None), as in the wheel."""
        return close(self, symbol, comment=comment, ticket=ticket)

    def _RawOrder(self, order_type, symbol, volume, price, comment=None, ticket=None):  # noqa: N802
        """_RawOrder(order_type, symbol, volume, price, comment=None, ticket=None): the wheel's
        private helper, still reached by code written for the real module."""
        return raw_order(self, order_type, symbol, volume, price, comment, ticket)
