"""Generated prices: determinism, timeframe aggregation, ticks vs rates, sessions, now."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge_v3.services.mt5.contract.dtypes import RATES_DTYPE, TICKS_DTYPE
from bridge_v3.simulator.clock import BrokerTime, ManualClock
from bridge_v3.simulator.market.market import Market
from tests.simulator.market_support import (
    CONSTANTS,
    TF,
    as_tuples,
    reference_aggregate,
    ticks_by_minute,
    utc,
    wall,
)

NOW = utc(2024, 6, 12, 13, 30, 15) + 0.25  # a Wednesday afternoon
ALL = CONSTANTS["COPY_TICKS_ALL"]
QUOTE_FLAGS = CONSTANTS["TICK_FLAG_BID"] | CONSTANTS["TICK_FLAG_ASK"]


def make_market(now: float = NOW, seed: int = 7, **kwargs) -> tuple[Market, ManualClock]:
    clock = ManualClock(now)
    return Market(clock, BrokerTime(), seed=seed, **kwargs), clock


@pytest.fixture(scope="module")
def market() -> Market:
    return make_market()[0]


def server_now(market: Market) -> int:
    return market.broker_time.to_server(market.clock.now())


def day_range(market: Market, name: str, server_day_start: int) -> np.ndarray:
    return market.rates_range(name, TF["M1"], server_day_start, server_day_start + 86_399)


def test_arrays_have_the_contract_dtypes_and_own_their_data(market):
    rates = market.rates_from_pos("EURUSD", TF["H1"], 0, 10)
    ticks = market.ticks_from("EURUSD", (server_now(market) - 600) * 1000, 50, ALL)
    assert rates.dtype == RATES_DTYPE and ticks.dtype == TICKS_DTYPE
    for array in (rates, ticks):
        assert array.flags["OWNDATA"] and array.flags["C_CONTIGUOUS"] and array.flags["WRITEABLE"]


def test_same_seed_gives_the_same_prices_and_another_seed_does_not():
    first, second, other = make_market()[0], make_market()[0], make_market(seed=8)[0]
    start = server_now(first) // 86_400 * 86_400 - 86_400
    assert np.array_equal(day_range(first, "GBPUSD", start), day_range(second, "GBPUSD", start))
    ticks = [
        m.ticks_range("GBPUSD", start * 1000, (start + 3600) * 1000, ALL) for m in (first, second)
    ]
    assert np.array_equal(*ticks) and len(ticks[0]) > 0
    assert not np.array_equal(
        day_range(first, "GBPUSD", start)["close"], day_range(other, "GBPUSD", start)["close"]
    )


def test_now_only_truncates_history():
    early, _ = make_market(NOW)
    late, _ = make_market(NOW + 9 * 86_400)
    start = server_now(early) // 86_400 * 86_400 - 2 * 86_400
    assert np.array_equal(day_range(early, "XAUUSD", start), day_range(late, "XAUUSD", start))


def test_prices_do_not_depend_on_the_broker_name_suffix():
    from bridge_v3.simulator.market.symbols import default_catalogue

    plain = make_market()[0]
    suffixed = Market(ManualClock(NOW), BrokerTime(), seed=7, symbols=default_catalogue(".m"))
    assert np.array_equal(
        plain.rates_from_pos("EURUSD", TF["H1"], 0, 48),
        suffixed.rates_from_pos("EURUSD.m", TF["H1"], 0, 48),
    )


@pytest.mark.parametrize("name", ["EURUSD", "BTCUSD"])
@pytest.mark.parametrize("timeframe", ["M5", "M15", "M30", "H1", "H4", "D1", "W1", "MN1"])
def test_higher_timeframes_are_exact_aggregates_of_m1(market, name, timeframe):
    # Sunday 3 March 2024 (server time) opens a bar of every timeframe but MN1.
    since = int(utc(2024, 3, 1 if timeframe == "MN1" else 3))
    if timeframe not in ("W1", "MN1"):
        since = int(utc(2024, 5, 19))  # three weeks are enough for the shorter ones
    now = server_now(market)
    m1 = market.rates_range(name, TF["M1"], since, now)
    bars = market.rates_range(name, TF[timeframe], since, now)
    assert as_tuples(bars) == reference_aggregate(m1, timeframe)


@settings(max_examples=12, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    minutes=st.integers(0, 60 * 24 * 30),
    timeframe=st.sampled_from(
        ["M2", "M3", "M6", "M10", "M12", "M20", "H2", "H3", "H6", "H8", "H12"]
    ),
    name=st.sampled_from(["USDJPY", "ETHUSD", "XAUUSD"]),
)
def test_any_timeframe_aggregates_m1_at_any_moment(seed, minutes, timeframe, name):
    market, _ = make_market(NOW - minutes * 60 - 17.5, seed=seed)
    now = server_now(market)
    since = now // 86_400 * 86_400 - 2 * 86_400
    m1 = market.rates_range(name, TF["M1"], since, now)
    assert as_tuples(market.rates_range(name, TF[timeframe], since, now)) == reference_aggregate(
        m1, timeframe
    )


@pytest.mark.parametrize("name", ["EURUSD", "USDJPY", "BTCUSD", "XRPUSD"])
def test_ticks_rebuild_their_m1_bars_exactly(market, name):
    spec = market.spec(name)
    start = server_now(market) // 86_400 * 86_400 - 86_400
    m1 = day_range(market, name, start)
    ticks = market.ticks_range(name, start * 1000, (start + 86_400) * 1000 - 1, ALL)
    rebuilt = []
    for minute, group in ticks_by_minute(ticks):
        bids = [float(t["bid"]) for t in group]
        spreads = [round((float(t["ask"]) - float(t["bid"])) / spec.point) for t in group]
        rebuilt.append((minute, bids[0], max(bids), min(bids), bids[-1], len(group), min(spreads)))
    assert rebuilt == as_tuples(m1)


def test_ticks_are_well_formed(market):
    start = (server_now(market) - 6 * 3600) * 1000
    ticks = market.ticks_range("EURUSD", start, start + 3 * 3_600_000, ALL)
    assert len(ticks) > 1000
    assert np.all(np.diff(ticks["time_msc"]) > 0)
    assert np.array_equal(ticks["time"], ticks["time_msc"] // 1000)
    assert np.all(ticks["ask"] > ticks["bid"])
    assert set(np.unique(ticks["flags"]).tolist()) <= {
        CONSTANTS["TICK_FLAG_BID"],
        CONSTANTS["TICK_FLAG_ASK"],
        QUOTE_FLAGS,
    }
    changed = (np.diff(ticks["bid"]) != 0) | (np.diff(ticks["ask"]) != 0)
    assert changed.all()  # every tick changes the bid or the ask
    same_minute = np.diff(ticks["time_msc"] // 60_000) == 0
    bid_flag = (ticks["flags"][1:] & CONSTANTS["TICK_FLAG_BID"]) != 0
    ask_flag = (ticks["flags"][1:] & CONSTANTS["TICK_FLAG_ASK"]) != 0
    assert np.array_equal(bid_flag[same_minute], (np.diff(ticks["bid"]) != 0)[same_minute])
    assert np.array_equal(ask_flag[same_minute], (np.diff(ticks["ask"]) != 0)[same_minute])


def test_copy_ticks_kinds(market):
    start = (server_now(market) - 3600) * 1000
    every = market.ticks_from("EURUSD", start, 500, ALL)
    info = market.ticks_from("EURUSD", start, 500, CONSTANTS["COPY_TICKS_INFO"])
    trade = market.ticks_from("EURUSD", start, 500, CONSTANTS["COPY_TICKS_TRADE"])
    assert np.array_equal(every, info) and len(every) == 500
    assert len(trade) == 0  # quotes only: no last price, no volume on a forex CFD


def test_forex_is_closed_at_the_weekend_and_crypto_is_not(market):
    # Friday and Sunday 17:00 New York: 21:00 UTC under US summer time.
    friday_close, sunday_open = utc(2024, 6, 7, 21), utc(2024, 6, 9, 21)
    server = market.broker_time
    # Friday 20:00..20:59 and Sunday 21:00..22:00 UTC inclusive: 60 + 61 minutes.
    low, high = server.to_server(friday_close - 3600), server.to_server(sunday_open + 3600)
    fx = market.rates_range("EURUSD", TF["M1"], low, high)
    fx_utc = server.to_utc_array(fx["time"])
    assert len(fx) == 60 + 61 and not np.any((fx_utc >= friday_close) & (fx_utc < sunday_open))
    crypto = market.rates_range("BTCUSD", TF["M1"], low, high)
    assert len(crypto) == (high - low) // 60 + 1
    assert not market.is_open("EURUSD", utc(2024, 6, 8, 12)) and market.is_open(
        "BTCUSD", utc(2024, 6, 8, 12)
    )
    assert market.is_open("EURUSD", utc(2024, 6, 10, 12))


def test_weekend_tick_is_fridays_last(market):
    market_at_weekend, _ = make_market(utc(2024, 6, 8, 12))
    tick = market_at_weekend.tick("EURUSD")
    assert wall(int(tick["time"])) < wall(
        market_at_weekend.broker_time.to_server(utc(2024, 6, 7, 21))
    )
    last = market_at_weekend.rates_from_pos("EURUSD", TF["M1"], 0, 1)[0]
    assert float(tick["bid"]) == float(last["close"])


def test_forming_bar_moves_with_the_clock():
    market, clock = make_market(utc(2024, 6, 12, 13, 30) + 0.5)
    seen = []
    for _ in range(12):
        seen.append(market.rates_from_pos("EURUSD", TF["H1"], 0, 1)[0].copy())
        tick = market.tick("EURUSD")
        assert float(seen[-1]["close"]) == float(tick["bid"])
        assert int(tick["time_msc"]) <= market.broker_time.server_msc(clock.now())
        clock.advance(5)
    assert len({int(bar["time"]) for bar in seen}) == 1
    volumes = [int(bar["tick_volume"]) for bar in seen]
    assert volumes == sorted(volumes) and volumes[-1] > volumes[0]
    assert all(
        a["high"] <= b["high"] and a["low"] >= b["low"]
        for a, b in zip(seen, seen[1:], strict=False)
    )


def test_a_finished_bar_is_final(market):
    early, clock = make_market(NOW)
    clock.advance(3600)
    late, _ = make_market(NOW + 3 * 86_400)
    hour = server_now(early) // 3600 * 3600 - 3600
    finished = early.rates_range("EURUSD", TF["H1"], hour, hour)
    assert np.array_equal(finished, late.rates_range("EURUSD", TF["H1"], hour, hour))


def test_nothing_after_now_is_shown(market):
    now_msc = market.broker_time.server_msc(market.clock.now())
    ticks = market.ticks_range("EURUSD", now_msc - 60_000, now_msc + 86_400_000, ALL)
    assert len(ticks) and ticks["time_msc"].max() <= now_msc
    bars = market.rates_range("EURUSD", TF["M1"], now_msc // 1000 - 600, now_msc // 1000 + 86_400)
    assert bars["time"].max() == now_msc // 1000 // 60 * 60


def test_rates_from_pos_from_and_range_agree(market):
    by_pos = market.rates_from_pos("AUDUSD", TF["M15"], 3, 200)
    by_date = market.rates_from("AUDUSD", TF["M15"], int(by_pos["time"][-1]) + 899, 200)
    by_range = market.rates_range(
        "AUDUSD", TF["M15"], int(by_pos["time"][0]), int(by_pos["time"][-1])
    )
    latest = market.rates_from_pos("AUDUSD", TF["M15"], 0, 4)
    assert np.array_equal(by_pos, by_date) and np.array_equal(by_pos, by_range)
    assert int(latest["time"][0]) == int(by_pos["time"][-1])


def test_ticks_from_and_range_agree(market):
    start = (server_now(market) - 7200) * 1000
    first = market.ticks_from("USDCAD", start, 3000, ALL)
    ranged = market.ticks_range("USDCAD", start, int(first["time_msc"][-1]), ALL)
    assert np.array_equal(first, ranged)


def test_at_least_a_year_of_m1_history(market):
    oldest = market.rates_from_pos("EURUSD", TF["D1"], 0, 100_000)[0]
    assert server_now(market) - int(oldest["time"]) >= 400 * 86_400 - 86_400
    year_ago = server_now(market) - 366 * 86_400
    assert len(market.rates_range("USDCHF", TF["M1"], year_ago, year_ago + 7 * 86_400)) > 5 * 1300


def test_spread_column_comes_from_the_spread(market):
    bars = market.rates_from_pos("EURUSD", TF["M1"], 0, 2000)
    spec = market.spec("EURUSD")
    assert bars["spread"].min() >= spec.spread and np.median(bars["spread"]) < 2 * spec.spread


def test_prices_stay_near_their_level_for_years():
    market, _ = make_market(utc(2024, 6, 12))
    for name in ("EURUSD", "BTCUSD"):
        closes = market.rates_from_pos(name, TF["D1"], 0, 400)["close"]
        level = market.spec(name).start_price
        assert np.all(closes > level / 10) and np.all(closes < level * 10)
