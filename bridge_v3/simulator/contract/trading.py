"""The trading functions of the simulated terminal (a mixin of ``SimulatedTerminal``).

Orders, positions, deals, margin and profit belong to the paper broker; this layer parses
the arguments as the real module does, applies the face's faults (requotes, AutoTrading,
lost trade server, the Python API switch) and lays the broker's dicts out as structs.
The broker is brought up to the clock (``update()``) before anything reads or changes
trading state, so pending orders, SL/TP and stop-outs have happened when the caller looks.
While nobody is logged in the getters fail as ``account_info()`` does and trade requests
are answered 10031 (no connection with the trade server).
"""

from __future__ import annotations

from typing import Any

from bridge_v3.services.mt5.contract import constants as mc
from bridge_v3.simulator.contract import arguments as args_
from bridge_v3.simulator.contract import errors, groups, structs
from bridge_v3.simulator.contract.call import KEYWORDS, NOARGS, VARARGS, api
from bridge_v3.simulator.contract.errors import CallFailed
from bridge_v3.simulator.contract.request import request_from_call, validate_request

_ALL_TIME = (0, 2**31 - 1)
_NO_CONNECTION = (mc.TRADE_RETCODE_CONNECTION, "No connection with the trade server")
_REQUOTE = (mc.TRADE_RETCODE_REQUOTE, "Requote")
_NOT_FOUND_SYMBOL = (mc.TRADE_RETCODE_INVALID, "Invalid request")


def _selected(query: args_.Filter, row: dict[str, Any]) -> bool:
    if query.ticket is not None:
        return row["ticket"] == query.ticket
    if query.symbol is not None:
        return row["symbol"] == query.symbol
    if query.group is not None:
        return groups.matches(query.group, row["symbol"])
    return True


class TradingFunctions:
    """orders/positions/history, order_calc_*, order_check and order_send."""

    _broker: Any
    _accounts: Any
    _faults: Any

    def _trading(self) -> None:
        self._pipe()  # type: ignore[attr-defined]
        self._broker.update()

    # -- what is open -------------------------------------------------------------------

    @api(NOARGS)
    def orders_total(self) -> int | None:
        self._trading()
        return len(self._broker.orders())

    @api(NOARGS)
    def positions_total(self) -> int | None:
        self._trading()
        return len(self._broker.positions())

    @api(KEYWORDS)
    def orders_get(self, *args: Any, **kwargs: Any) -> tuple | None:
        query = args_.filter_args(args, kwargs)
        self._trading()
        rows = [row for row in self._broker.orders() if _selected(query, row)]
        return structs.build_all(structs.TradeOrder, rows)

    @api(KEYWORDS)
    def positions_get(self, *args: Any, **kwargs: Any) -> tuple | None:
        query = args_.filter_args(args, kwargs)
        self._trading()
        rows = [row for row in self._broker.positions() if _selected(query, row)]
        return structs.build_all(structs.TradePosition, rows)

    # -- history ------------------------------------------------------------------------

    @api(VARARGS)
    def history_orders_total(self, *args: Any) -> int | None:
        args_.expect_count(args, 2)
        date_from, date_to = args_.date_arg(args[0]), args_.date_arg(args[1])
        self._trading()
        return len(self._broker.history_orders(date_from, date_to))

    @api(VARARGS)
    def history_deals_total(self, *args: Any) -> int | None:
        args_.expect_count(args, 2)
        date_from, date_to = args_.date_arg(args[0]), args_.date_arg(args[1])
        self._trading()
        return len(self._broker.history_deals(date_from, date_to))

    @api(KEYWORDS)
    def history_orders_get(self, *args: Any, **kwargs: Any) -> tuple | None:
        query = args_.history_args(args, kwargs)
        self._trading()
        if query.ticket is not None:
            rows = self._broker.history_order(query.ticket)
        elif query.position is not None:
            everything = self._broker.history_orders(*_ALL_TIME)
            rows = [row for row in everything if row["position_id"] == query.position]
        else:
            rows = self._in_group(
                self._broker.history_orders(query.date_from, query.date_to), query
            )
        return structs.build_all(structs.TradeOrder, rows)

    @api(KEYWORDS)
    def history_deals_get(self, *args: Any, **kwargs: Any) -> tuple | None:
        query = args_.history_args(args, kwargs)
        self._trading()
        if query.ticket is not None:  # deals of that order (DEAL_ORDER), as the docs say
            everything = self._broker.history_deals(*_ALL_TIME)
            rows = [row for row in everything if row["order"] == query.ticket]
        elif query.position is not None:
            rows = self._broker.history_deals_by_position(query.position)
        else:
            rows = self._in_group(self._broker.history_deals(query.date_from, query.date_to), query)
        return structs.build_all(structs.TradeDeal, rows)

    @staticmethod
    def _in_group(rows: list[dict], query: args_.HistoryQuery) -> list[dict]:
        if query.group is None:
            return rows
        return [row for row in rows if groups.matches(query.group, row["symbol"])]

    # -- calculations -------------------------------------------------------------------

    @api(VARARGS)
    def order_calc_margin(self, *args: Any) -> float | None:
        args_.expect_count(args, 4)
        action = args_.parse_unsigned("order_calc_margin", args[0])
        volume = args_.parse_double("order_calc_margin", args[2])
        price = args_.parse_double("order_calc_margin", args[3])
        symbol = args_.symbol_arg(args[1])
        self._trading()
        self._spec(symbol)  # type: ignore[attr-defined]
        return _number(self._broker.calc_margin(action, symbol, volume, price))

    @api(VARARGS)
    def order_calc_profit(self, *args: Any) -> float | None:
        args_.expect_count(args, 5)
        action = args_.parse_unsigned("order_calc_profit", args[0])
        volume = args_.parse_double("order_calc_profit", args[2])
        price_open = args_.parse_double("order_calc_profit", args[3])
        price_close = args_.parse_double("order_calc_profit", args[4])
        symbol = args_.symbol_arg(args[1])
        self._trading()
        self._spec(symbol)  # type: ignore[attr-defined]
        profit = self._broker.calc_profit(action, symbol, volume, price_open, price_close)
        return _number(profit)

    # -- requests -----------------------------------------------------------------------

    @api(KEYWORDS)
    def order_check(self, *args: Any, **kwargs: Any) -> Any:
        request = validate_request("order_check", request_from_call("order_check", args, kwargs))
        self._pipe()  # type: ignore[attr-defined]
        if self._accounts.current is None:
            result = self._answer(request, _NO_CONNECTION, check=True)
        elif self._faults.hides(request["symbol"]):
            result = self._answer(request, _NOT_FOUND_SYMBOL, check=True)
        else:
            result = self._broker.check(dict(request))
        return structs.build(structs.OrderCheckResult, {**result, "request": request})

    @api(KEYWORDS)
    def order_send(self, *args: Any, **kwargs: Any) -> Any:
        request = validate_request("order_send", request_from_call("order_send", args, kwargs))
        self._pipe()  # type: ignore[attr-defined]
        if self._faults.plan.tradeapi_disabled:
            raise CallFailed(errors.RES_E_AUTO_TRADING_DISABLED)
        result = self._face_answer(request) or self._broker.send(dict(request))
        return structs.build(structs.OrderSendResult, {**result, "request": request})

    def _face_answer(self, request: dict[str, Any]) -> dict[str, Any] | None:
        """An answer the face gives itself (faults, nobody logged in), or None to let the
        broker decide."""
        if self._accounts.current is None or self._faults.server_offline():
            return self._answer(request, _NO_CONNECTION)
        if self._faults.hides(request["symbol"]):
            return self._answer(request, _NOT_FOUND_SYMBOL)
        is_deal = request["action"] == mc.TRADE_ACTION_DEAL
        if is_deal and self._faults.requote():
            return self._answer(request, _REQUOTE)
        return None

    def _answer(
        self, request: dict[str, Any], outcome: tuple[int, str], check: bool = False
    ) -> dict[str, Any]:
        retcode, comment = outcome
        if check:
            broker = self._accounts.current
            account = broker.account() if broker else {}
            figures = ("balance", "equity", "profit", "margin", "margin_free", "margin_level")
            values = {k: float(account.get(k, 0.0)) for k in figures}
            return {"retcode": retcode, "comment": comment, **values}
        bid, ask = self._quote(request["symbol"])
        return {
            "retcode": retcode,
            "deal": 0,
            "order": 0,
            "volume": 0.0,
            "price": 0.0,
            "bid": bid,
            "ask": ask,
            "comment": comment,
            "request_id": 0,
            "retcode_external": 0,
        }

    def _quote(self, symbol: str) -> tuple[float, float]:
        if self._faults.hides(symbol):
            return (0.0, 0.0)
        tick = self._market.tick(symbol) if self._market.spec(symbol) else None  # type: ignore[attr-defined]
        return (0.0, 0.0) if tick is None else (float(tick["bid"]), float(tick["ask"]))


def _number(value: float | None) -> float:
    if value is None:
        raise CallFailed(errors.RES_E_FAIL)
    return float(value)
