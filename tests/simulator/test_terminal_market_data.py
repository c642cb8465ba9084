"""Symbols, Market Watch, ticks, rates and depth of market as the face shows them."""

from __future__ import annotations

import numpy as np
import pytest

from bridge_v3.services.mt5.contract.dtypes import RATES_DTYPE, TICKS_DTYPE
from tests.simulator.face_support import CONTRACT, build_terminal, clock_of

SYMBOL_KINDS = {f["name"]: f["type"] for f in CONTRACT["structs"]["SymbolInfo"]["fields"]}
PY_TYPES = {"int": int, "float": float, "bool": bool, "str": str}


@pytest.fixture(scope="module")
def mt5():
    terminal = build_terminal()
    assert terminal.initialize()
    return terminal


def server_now(mt5) -> int:
    return mt5._market.broker_time.to_server(clock_of(mt5).now())


def test_symbol_info_has_96_fields_of_the_contract_kinds(mt5) -> None:
    info = mt5.symbol_info("EURUSD")
    assert len(info) == 96
    for name, kind in SYMBOL_KINDS.items():
        assert type(getattr(info, name)) is PY_TYPES[kind], name


def test_symbol_info_agrees_with_the_market_spec_and_tick(mt5) -> None:
    info, spec, tick = (
        mt5.symbol_info("USDJPY"),
        mt5._market.spec("USDJPY"),
        mt5.symbol_info_tick("USDJPY"),
    )
    assert (info.name, info.digits, info.point) == ("USDJPY", spec.digits, spec.point)
    assert info.filling_mode == spec.filling_mode and info.trade_exemode == spec.trade_exemode
    assert (info.bid, info.ask, info.time) == (tick.bid, tick.ask, tick.time)
    assert info.spread == round((tick.ask - tick.bid) / spec.point)
    assert info.bidlow <= info.bid <= info.bidhigh


def test_tick_value_agrees_with_order_calc_profit(mt5) -> None:
    info = mt5.symbol_info("USDJPY")
    profit = mt5.order_calc_profit(
        mt5.ORDER_TYPE_BUY, "USDJPY", 1.0, info.bid, info.bid + info.trade_tick_size
    )
    assert info.trade_tick_value == pytest.approx(profit)
    assert info.trade_tick_value > 0


def test_symbols_get_group_masks(mt5) -> None:
    every = {s.name for s in mt5.symbols_get()}
    assert len(every) == mt5.symbols_total()
    usd = {s.name for s in mt5.symbols_get("*USD*")}
    assert usd == {n for n in every if "USD" in n}
    no_usd = {s.name for s in mt5.symbols_get(group="*,!*USD*")}
    assert no_usd == every - usd and no_usd
    assert mt5.symbols_get("NOTHING*") == ()


def test_market_watch_controls_ticks_and_copies() -> None:
    terminal = build_terminal(market_watch=["EURUSD"])
    terminal.initialize()
    assert terminal.symbol_info("GBPUSD").visible is False
    assert terminal.symbol_info_tick("GBPUSD") is None
    assert terminal.last_error() == (-1, "Terminal: Call failed")
    assert terminal.symbol_select("GBPUSD") is True
    assert terminal.symbol_info("GBPUSD").select is True
    assert terminal.symbol_info_tick("GBPUSD") is not None
    assert terminal.symbol_select("GBPUSD", False) is True
    assert terminal.copy_rates_from_pos("GBPUSD", terminal.TIMEFRAME_M1, 0, 5) is None


def test_symbol_select_of_unknown_symbol_is_false(mt5) -> None:
    assert mt5.symbol_select("NOPE", True) is False
    assert mt5.last_error()[0] < 0


def test_tick_agrees_with_the_latest_copied_tick(mt5) -> None:
    tick = mt5.symbol_info_tick("EURUSD")
    ticks = mt5.copy_ticks_from("EURUSD", tick.time - 120, 100000, mt5.COPY_TICKS_ALL)
    assert ticks[-1]["time_msc"] == tick.time_msc
    assert (ticks[-1]["bid"], ticks[-1]["ask"]) == (tick.bid, tick.ask)


@pytest.mark.parametrize(
    "call",
    [
        lambda m, now: m.copy_rates_from("EURUSD", m.TIMEFRAME_H1, now, 24),
        lambda m, now: m.copy_rates_from_pos("EURUSD", m.TIMEFRAME_M5, 0, 50),
        lambda m, now: m.copy_rates_range("EURUSD", m.TIMEFRAME_M1, now - 3600, now),
    ],
)
def test_rates_arrays_have_the_real_shape(mt5, call) -> None:
    rates = call(mt5, server_now(mt5))
    assert rates.dtype == RATES_DTYPE and rates.ndim == 1 and len(rates) > 0
    assert rates.flags.owndata and rates.flags.c_contiguous
    assert np.all(np.diff(rates["time"]) > 0)


@pytest.mark.parametrize("flags", ["COPY_TICKS_ALL", "COPY_TICKS_INFO", "COPY_TICKS_TRADE"])
def test_ticks_arrays_have_the_real_shape(mt5, flags: str) -> None:
    now = server_now(mt5)
    ticks = mt5.copy_ticks_range("EURUSD", now - 600, now, getattr(mt5, flags))
    assert ticks.dtype == TICKS_DTYPE and ticks.ndim == 1
    assert ticks.flags.owndata and ticks.flags.c_contiguous
    assert np.all(np.diff(ticks["time_msc"]) >= 0)


def test_copy_beyond_max_bars_fails() -> None:
    terminal = build_terminal(max_bars=100)
    terminal.initialize()
    assert len(terminal.copy_rates_from_pos("EURUSD", terminal.TIMEFRAME_M1, 0, 100)) == 100
    assert terminal.copy_rates_from_pos("EURUSD", terminal.TIMEFRAME_M1, 50, 51) is None
    assert terminal.last_error() == (-1, "Terminal: Call failed")


def test_market_book_needs_a_subscription(mt5) -> None:
    assert mt5.market_book_get("EURUSD") is None
    assert mt5.market_book_add("EURUSD") is True
    book = mt5.market_book_get("EURUSD")
    tick = mt5.symbol_info_tick("EURUSD")
    sells = [row for row in book if row.type == mt5.BOOK_TYPE_SELL]
    buys = [row for row in book if row.type == mt5.BOOK_TYPE_BUY]
    assert book[: len(sells)] == tuple(sells) and sells and buys
    assert min(r.price for r in sells) == pytest.approx(tick.ask)
    assert max(r.price for r in buys) == pytest.approx(tick.bid)
    assert list(book[0]._asdict()) == ["type", "price", "volume", "volume_dbl"]
    assert mt5.market_book_release("EURUSD") is True
    assert mt5.market_book_get("EURUSD") is None


def test_market_book_add_of_unknown_symbol_is_false_without_an_error(mt5) -> None:
    assert mt5.market_book_add("NOPE") is False
    assert mt5.last_error() == (1, "Success")


def test_forming_bar_moves_with_the_clock() -> None:
    terminal = build_terminal()
    terminal.initialize()
    first = terminal.copy_rates_from_pos("EURUSD", terminal.TIMEFRAME_M1, 0, 1)[0]
    clock_of(terminal).advance(60)
    second = terminal.copy_rates_from_pos("EURUSD", terminal.TIMEFRAME_M1, 0, 2)
    assert second[0]["time"] == first["time"] and second[1]["time"] == first["time"] + 60
