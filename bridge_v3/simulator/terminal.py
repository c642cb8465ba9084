"""The simulated terminal as the ``MetaTrader5`` module: stands wherever ``mt5`` stands.

``SimulatedTerminal`` offers the module's 32 functions with the real calling conventions,
failure values and ``last_error()`` codes, its 223 constants and 11 result types as
attributes, ``__version__``/``__author__`` and the wheel's ``Buy``/``Sell``/``Close`` helpers
with their private ``_RawOrder``. Prices
come from a ``Market``, trading from a ``PaperBroker``, faults from a ``FaultPlan``.

This file holds the session and market-data functions; the trading functions live in
``contract.trading``. Everything the caller sees is server time (the broker's wall clock
written as an epoch), as the market and the broker give it.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from bridge_v3.services.mt5.contract import constants as mc
from bridge_v3.services.mt5.contract.dtypes import RATES_DTYPE, TICKS_DTYPE
from bridge_v3.simulator.accounts import Accounts
from bridge_v3.simulator.contract import arguments as args_
from bridge_v3.simulator.contract import errors, groups, structs
from bridge_v3.simulator.contract import symbol_view as view
from bridge_v3.simulator.contract.call import KEYWORDS, NOARGS, VARARGS, api
from bridge_v3.simulator.contract.errors import CallFailed
from bridge_v3.simulator.contract.helpers import WheelHelpers
from bridge_v3.simulator.contract.trading import TradingFunctions
from bridge_v3.simulator.faults import FaultInjector, FaultPlan

DEFAULT_PATH = "C:\\Program Files\\BridgeSim MetaTrader 5"
_BUILD_DATES = {5120: "20 Jun 2025"}
_MARKET_WATCH_LOST = errors.RES_E_FAIL


class SimulatedTerminal(TradingFunctions, WheelHelpers):
    """One simulated MT5 terminal and the paper accounts it can log in to.

    ``broker`` is the account it starts logged in to (unless ``logged_in`` is False: then
    nobody is logged in until login()/initialize(login=...)); ``other_accounts`` are more
    paper brokers it knows. ``market_watch`` is the initial Market Watch (None: every
    symbol). ``password``, when given, is what initialize()/login() must be passed if they
    pass one. ``sleep`` is how faults spend time (latency, a blocking initialize), so tests
    can record instead of wait.
    """

    __version__ = "5.0.6231"
    __author__ = "MetaQuotes Ltd."

    def __init__(
        self,
        market: Any,
        broker: Any,
        *,
        faults: FaultPlan | None = None,
        terminal_path: str = DEFAULT_PATH,
        build: int = 5120,
        max_bars: int = 100000,
        password: str | None = None,
        market_watch: list[str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        other_accounts: Sequence[Any] = (),
        logged_in: bool = True,
    ) -> None:
        self._market = market
        self._accounts = Accounts(broker, password, other_accounts, logged_in=logged_in)
        self._path = terminal_path
        self._build = build
        self._max_bars = max_bars
        self._sleep = sleep
        self._lock = threading.RLock()
        self._calls: Counter[str] = Counter()  # module functions called, by name
        self._last_error = errors.LastError()
        self._connected = False
        self._books: set[str] = set()
        names = [spec.name for spec in market.symbols()]
        self._selected = set(names if market_watch is None else market_watch)
        self._set_fault_plan(faults)

    def _set_fault_plan(self, plan: FaultPlan | None) -> None:
        """Apply a new fault plan (also switches AutoTrading as the plan says)."""
        with self._lock:
            clock = self._market.clock
            speed = float(getattr(clock, "speed", 1.0))
            self._faults = FaultInjector(plan, clock.now, self._sleep, speed)
            for broker in self._accounts.brokers():
                broker.set_trade_allowed(not self._faults.plan.autotrading_off)

    def __repr__(self) -> str:
        state = "connected" if self._connected else "not connected"
        return f"<SimulatedTerminal build {self._build}, {state}>"

    # -- the pipe ---------------------------------------------------------------------

    def _pipe(self) -> None:
        """Every call that would cross the terminal's pipe: connection, then faults."""
        if not self._connected:
            raise CallFailed(errors.RES_E_INTERNAL_FAIL_CONNECT)
        try:
            self._faults.on_call()
        except CallFailed as failed:
            if failed.error == errors.RES_E_INTERNAL_FAIL_SEND:
                self._connected = False  # the pipe is broken until initialize() again
            raise

    def _spec(self, symbol: str) -> Any:
        spec = None if self._faults.hides(symbol) else self._market.spec(symbol)
        if spec is None:
            raise CallFailed(errors.RES_E_FAIL)
        return spec

    def _specs(self) -> list[Any]:
        return [s for s in self._market.symbols() if not self._faults.hides(s.name)]

    def _watched(self, symbol: str) -> Any:
        spec = self._spec(symbol)
        if symbol not in self._selected:
            raise CallFailed(_MARKET_WATCH_LOST)
        return spec

    @property
    def _broker(self) -> Any:
        """The paper broker of the account logged in to; CallFailed when there is none."""
        return self._accounts.logged_in()

    # -- session ----------------------------------------------------------------------

    @api(KEYWORDS, failure=False)
    def initialize(self, *args: Any, **kwargs: Any) -> bool:
        credentials = args_.initialize_args(args, kwargs)
        self._connected = False  # a second initialize() drops the first connection
        self._faults.on_initialize(credentials.timeout)
        self._accounts.authorise(credentials)
        self._connected = True
        return True

    @api(KEYWORDS, failure=False)
    def login(self, *args: Any, **kwargs: Any) -> bool:
        credentials = args_.login_args(args, kwargs)
        self._pipe()
        self._accounts.authorise(credentials)
        return True

    @api(NOARGS)
    def shutdown(self) -> bool:
        self._connected = False
        return True

    @api(NOARGS)
    def version(self) -> tuple[int, int, str] | None:
        self._pipe()
        return (500, self._build, _BUILD_DATES.get(self._build, "20 Jun 2025"))

    def last_error(self, *args: Any, **kwargs: Any) -> tuple[int, str]:
        args_.reject_arguments("last_error", args, kwargs)
        return self._last_error.get()  # the one function that does not reset it

    @api(NOARGS)
    def account_info(self) -> Any:
        self._pipe()
        return structs.build(structs.AccountInfo, self._broker.account())

    @api(NOARGS)
    def terminal_info(self) -> Any:
        self._pipe()
        return structs.build(structs.TerminalInfo, self._terminal_dict())

    def _terminal_dict(self) -> dict[str, Any]:
        info: dict[str, Any] = {n: False for n in _TERMINAL_FLAGS}
        info.update(
            connected=self._trade_server_reachable(),
            trade_allowed=not self._faults.plan.autotrading_off,
            tradeapi_disabled=self._faults.plan.tradeapi_disabled,
            build=self._build,
            maxbars=self._max_bars,
            codepage=0,
            ping_last=31250 if self._trade_server_reachable() else 0,
            community_balance=0.0,
            retransmission=0.0,
            company=self._accounts.any_broker().config.company,
            name="BridgeSim MetaTrader 5",
            language="English",
            path=self._path,
            data_path=self._path,
            commondata_path="C:\\Users\\Public\\MetaQuotes\\Terminal\\Common",
        )
        return info

    def _trade_server_reachable(self) -> bool:
        """Linked to a trade server: someone is logged in and the link is not down."""
        return self._accounts.current is not None and not self._faults.server_offline()

    # -- symbols ----------------------------------------------------------------------

    @api(NOARGS)
    def symbols_total(self) -> int | None:
        self._pipe()
        return len(self._specs())

    @api(KEYWORDS)
    def symbols_get(self, *args: Any, **kwargs: Any) -> tuple | None:
        group = args_.symbols_get_args(args, kwargs)
        self._pipe()
        specs = [s for s in self._specs() if group is None or groups.matches(group, s.name)]
        return tuple(self._symbol_info(spec) for spec in specs)

    @api(VARARGS)
    def symbol_info(self, *args: Any) -> Any:
        args_.expect_count(args, 1)
        symbol = args_.symbol_arg(args[0])
        self._pipe()
        return self._symbol_info(self._spec(symbol))

    def _symbol_info(self, spec: Any) -> Any:
        tick = self._tick(spec.name)
        days = self._market.rates_from_pos(spec.name, mc.TIMEFRAME_D1, 0, 2)
        tick_values = self._tick_values(spec, tick)
        selected = spec.name in self._selected
        info = view.symbol_info_dict(
            spec, tick, selected, view.day_stats(spec, days, tick), tick_values
        )
        return structs.build(structs.SymbolInfo, info)

    def _tick_values(self, spec: Any, tick: np.void) -> tuple[float, float]:
        bid, size = float(tick["bid"]), spec.trade_tick_size
        calc = self._accounts.any_broker().calc_profit
        profit = calc(mc.ORDER_TYPE_BUY, spec.name, 1.0, bid, bid + size) or 0.0
        loss = calc(mc.ORDER_TYPE_BUY, spec.name, 1.0, bid, bid - size) or 0.0
        return (float(profit), float(abs(loss)))

    def _tick(self, symbol: str) -> np.void:
        tick = self._market.tick(symbol)
        if tick is None:
            raise CallFailed(errors.RES_E_FAIL)
        return tick

    @api(VARARGS)
    def symbol_info_tick(self, *args: Any) -> Any:
        args_.expect_count(args, 1)
        symbol = args_.symbol_arg(args[0])
        self._pipe()
        self._watched(symbol)
        return structs.build(structs.Tick, view.tick_dict(self._tick(symbol)))

    @api(VARARGS, failure=False)
    def symbol_select(self, *args: Any) -> bool:
        args_.expect_count(args, 1, 2)
        symbol = args_.symbol_arg(args[0])
        enable = bool(args[1]) if len(args) == 2 else True
        self._pipe()
        self._spec(symbol)
        if enable:
            self._selected.add(symbol)
        elif symbol in self._selected:
            self._unselect(symbol)
        return True

    def _unselect(self, symbol: str) -> None:
        broker = self._accounts.current
        trading = broker.positions() + broker.orders() if broker else []
        if any(row["symbol"] == symbol for row in trading):
            raise CallFailed(errors.RES_E_FAIL)  # the terminal keeps symbols in use
        self._selected.discard(symbol)
        self._books.discard(symbol)

    # -- depth of market ----------------------------------------------------------------

    @api(VARARGS)
    def market_book_add(self, *args: Any) -> bool | None:
        args_.expect_count(args, 1)
        symbol = args_.symbol_arg(args[0])
        self._quietly(self._pipe, self._spec, symbol)
        self._selected.add(symbol)
        self._books.add(symbol)
        return True

    @api(VARARGS)
    def market_book_release(self, *args: Any) -> bool | None:
        args_.expect_count(args, 1)
        symbol = args_.symbol_arg(args[0])
        self._quietly(self._pipe, self._spec, symbol)
        if symbol not in self._books:
            raise CallFailed(errors.RES_S_OK, result=False)
        self._books.discard(symbol)
        return True

    @staticmethod
    def _quietly(pipe: Callable[[], None], spec: Callable[[str], Any], symbol: str) -> None:
        # market_book_add/release answer False without touching last_error() on failure.
        try:
            pipe()
            spec(symbol)
        except CallFailed as failed:
            raise CallFailed(errors.RES_S_OK, result=False) from failed

    @api(VARARGS)
    def market_book_get(self, *args: Any) -> tuple | None:
        args_.expect_count(args, 1)
        symbol = args_.symbol_arg(args[0])
        self._pipe()
        spec = self._spec(symbol)
        if symbol not in self._books:
            raise CallFailed(errors.RES_E_FAIL)
        return structs.build_all(structs.BookInfo, view.book_rows(spec, self._tick(symbol)))

    # -- history of prices ----------------------------------------------------------------

    @api(VARARGS)
    def copy_rates_from(self, *args: Any) -> np.ndarray | None:
        args_.expect_count(args, 4)
        timeframe = args_.parse_int("copy_rates_from", args[1])
        count = args_.parse_int("copy_rates_from", args[3])
        symbol, date_from = args_.symbol_arg(args[0]), args_.date_arg(args[2])
        self._before_copy(symbol, count)
        rates = self._market.rates_from(symbol, timeframe, date_from, count)
        return _owned(rates, RATES_DTYPE)

    @api(VARARGS)
    def copy_rates_from_pos(self, *args: Any) -> np.ndarray | None:
        args_.expect_count(args, 4)
        timeframe = args_.parse_int("copy_rates_from_pos", args[1])
        start = args_.parse_int("copy_rates_from_pos", args[2])
        count = args_.parse_int("copy_rates_from_pos", args[3])
        symbol = args_.symbol_arg(args[0])
        self._before_copy(symbol, count, start)
        rates = self._market.rates_from_pos(symbol, timeframe, start, count)
        return _owned(rates, RATES_DTYPE)

    @api(VARARGS)
    def copy_rates_range(self, *args: Any) -> np.ndarray | None:
        args_.expect_count(args, 4)
        timeframe = args_.parse_int("copy_rates_range", args[1])
        symbol = args_.symbol_arg(args[0])
        date_from, date_to = args_.date_arg(args[2]), args_.date_arg(args[3])
        self._before_copy(symbol, 0)
        rates = self._market.rates_range(symbol, timeframe, date_from, date_to)
        return _owned(rates, RATES_DTYPE)

    @api(VARARGS)
    def copy_ticks_from(self, *args: Any) -> np.ndarray | None:
        args_.expect_count(args, 4)
        count = args_.parse_int("copy_ticks_from", args[2])
        flags = args_.parse_int("copy_ticks_from", args[3])
        symbol, date_from = args_.symbol_arg(args[0]), args_.date_arg(args[1])
        self._before_copy(symbol, count, bars=False)
        ticks = self._market.ticks_from(symbol, date_from * 1000, count, flags)
        return _owned(ticks, TICKS_DTYPE)

    @api(VARARGS)
    def copy_ticks_range(self, *args: Any) -> np.ndarray | None:
        args_.expect_count(args, 4)
        flags = args_.parse_int("copy_ticks_range", args[3])
        symbol = args_.symbol_arg(args[0])
        date_from, date_to = args_.date_arg(args[1]), args_.date_arg(args[2])
        self._before_copy(symbol, 0, bars=False)
        ticks = self._market.ticks_range(symbol, date_from * 1000, date_to * 1000, flags)
        return _owned(ticks, TICKS_DTYPE)

    def _before_copy(self, symbol: str, count: int, start: int = 0, bars: bool = True) -> None:
        """Checks every copy_* makes; 'Max bars in chart' limits bars, never ticks."""
        if count < 0 or start < 0:
            raise CallFailed(errors.INVALID_ARGUMENTS)
        self._pipe()
        self._watched(symbol)
        if bars and start + count > self._max_bars:
            raise CallFailed(errors.RES_E_FAIL)


_TERMINAL_FLAGS = [
    "community_account",
    "community_connection",
    "dlls_allowed",
    "email_enabled",
    "ftp_enabled",
    "notifications_enabled",
    "mqid",
]


def _owned(array: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """A 1-D C-contiguous array owning its data, as the real module returns."""
    if array.dtype != dtype or array.ndim != 1:
        raise structs.StructBuildError(f"market returned {array.dtype} {array.shape}, not {dtype}")
    return np.array(array, dtype=dtype, copy=True, order="C")


for _name, _value in {**mc.EXPORTED, **structs.STRUCT_TYPES}.items():
    setattr(SimulatedTerminal, _name, _value)
del _name, _value
