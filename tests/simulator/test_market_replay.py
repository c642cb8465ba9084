"""Replaying real price files: the file's bars come back exactly, finer views agree."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge_v3.simulator.clock import BrokerTime, ManualClock
from bridge_v3.simulator.market.errors import MarketError, ReplayFileError
from bridge_v3.simulator.market.market import Market
from bridge_v3.simulator.market.symbols import default_catalogue
from tests.simulator.market_support import TF, as_tuples, reference_aggregate, ticks_by_minute, utc

DATA = Path(__file__).resolve().parents[1] / "data" / "EURUSD_H1.csv"
AFTER_FILE = utc(2018, 3, 1)
ALL = -1


def file_bars(path: Path = DATA) -> pd.DataFrame:
    frame = pd.read_csv(path, index_col=0, parse_dates=True)
    frame["time"] = (frame.index - pd.Timestamp("1970-01-01")) // pd.Timedelta(seconds=1)
    return frame


def replay_market(
    now: float = AFTER_FILE, path: Path = DATA, **kwargs
) -> tuple[Market, ManualClock]:
    clock = ManualClock(now)
    return Market(clock, BrokerTime(), seed=5, replays={"EURUSD": path}, **kwargs), clock


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return file_bars()


@pytest.fixture(scope="module")
def market() -> Market:
    return replay_market()[0]


def expected_rows(frame: pd.DataFrame, spread: int) -> list[tuple]:
    return [
        (int(r.time), r.Open, r.High, r.Low, r.Close, int(r.Volume), spread)
        for r in frame.itertuples()
    ]


def test_h1_gives_back_the_file_exactly(market, frame):
    first, last = int(frame["time"].iloc[0]), int(frame["time"].iloc[-1])
    bars = market.rates_range("EURUSD", TF["H1"], first, last)
    assert as_tuples(bars) == expected_rows(frame, market.spec("EURUSD").spread)
    assert market.is_replayed("EURUSD") and not market.is_replayed("GBPUSD")


def test_m1_aggregates_to_the_file_bars(market, frame):
    week = frame.iloc[100:220]
    first, last = int(week["time"].iloc[0]), int(week["time"].iloc[-1])
    m1 = market.rates_range("EURUSD", TF["M1"], first, last + 3599)
    assert reference_aggregate(m1, "H1") == expected_rows(week, market.spec("EURUSD").spread)


def test_m5_and_m20_aggregate_m1_too(market, frame):
    first = int(frame["time"].iloc[300])
    m1 = market.rates_range("EURUSD", TF["M1"], first, first + 2 * 86_400 - 1)
    for timeframe in ("M5", "M20"):
        bars = market.rates_range("EURUSD", TF[timeframe], first, first + 2 * 86_400 - 1)
        assert as_tuples(bars) == reference_aggregate(m1, timeframe)


def test_coarser_timeframes_aggregate_the_file(market, frame):
    first, last = int(frame["time"].iloc[0]), int(frame["time"].iloc[-1])
    h1 = market.rates_range("EURUSD", TF["H1"], first, last)
    for timeframe in ("H4", "D1", "W1", "MN1"):
        bars = market.rates_range("EURUSD", TF[timeframe], 0, last)
        assert as_tuples(bars) == reference_aggregate(h1, timeframe)


def test_ticks_rebuild_the_m1_bars(market, frame):
    first = int(frame["time"].iloc[50])
    ticks = market.ticks_range("EURUSD", first * 1000, (first + 6 * 3600) * 1000 - 1, ALL)
    m1 = market.rates_range("EURUSD", TF["M1"], first, first + 6 * 3600 - 1)
    rebuilt = [
        (minute, float(g[0]["bid"]), max(float(t["bid"]) for t in g), min(float(t["bid"]) for t in g),
         float(g[-1]["bid"]), len(g))
        for minute, g in ticks_by_minute(ticks)
    ]  # fmt: skip
    assert rebuilt == [row[:6] for row in as_tuples(m1)]
    assert np.all(np.diff(ticks["time_msc"]) > 0)


def test_forming_bar_grows_inside_the_file_bar(frame):
    row = frame.iloc[400]
    market, clock = replay_market(now=BrokerTime().to_utc(int(row.time)) + 1200.5)
    forming = market.rates_from_pos("EURUSD", TF["H1"], 0, 1)[0]
    assert int(forming["time"]) == int(row.time) and float(forming["open"]) == row.Open
    assert row.Low <= forming["low"] <= forming["high"] <= row.High
    assert 0 < int(forming["tick_volume"]) < int(row.Volume)
    assert float(market.tick("EURUSD")["bid"]) == float(forming["close"])
    clock.advance(3600)
    finished = market.rates_range("EURUSD", TF["H1"], int(row.time), int(row.time))
    assert as_tuples(finished) == expected_rows(frame.iloc[400:401], market.spec("EURUSD").spread)


def test_after_the_file_the_last_price_stays_and_the_market_is_closed(market, frame):
    assert float(market.tick("EURUSD")["bid"]) == frame["Close"].iloc[-1]
    assert not market.is_open("EURUSD")
    inside = BrokerTime().to_utc(int(frame["time"].iloc[10])) + 60
    assert market.is_open("EURUSD", inside)


def test_before_the_file_there_is_nothing(frame):
    market, _ = replay_market(now=utc(2017, 1, 2))
    assert market.tick("EURUSD") is None
    with pytest.raises(MarketError) as caught:
        market.rates_from_pos("EURUSD", TF["H1"], 0, 10)
    assert caught.value.code == -1


def test_replay_by_pair_under_a_broker_suffix(frame):
    clock = ManualClock(AFTER_FILE)
    market = Market(clock, BrokerTime(), symbols=default_catalogue(".m"), replays={"EURUSD": DATA})
    assert market.is_replayed("EURUSD.m")
    first = int(frame["time"].iloc[0])
    assert (
        float(market.rates_range("EURUSD.m", TF["H1"], first, first)[0]["open"])
        == frame["Open"].iloc[0]
    )


def test_mt5_history_center_export_is_read(tmp_path, frame):
    export = tmp_path / "EURUSD_H1_export.csv"
    lines = ["<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>"]
    for stamp, r in frame.iloc[:300].iterrows():
        lines.append(
            f"{stamp:%Y.%m.%d}\t{stamp:%H:%M:%S}\t{r.Open}\t{r.High}\t{r.Low}\t{r.Close}\t{int(r.Volume)}\t0\t7"
        )
    export.write_text("\n".join(lines) + "\n")
    market, _ = replay_market(path=export)
    first, last = int(frame["time"].iloc[0]), int(frame["time"].iloc[299])
    bars = market.rates_range("EURUSD", TF["H1"], first, last)
    assert as_tuples(bars) == expected_rows(frame.iloc[:300], 7)


def test_unknown_replay_symbol_is_refused():
    with pytest.raises(ValueError, match="NOPE"):
        Market(ManualClock(AFTER_FILE), BrokerTime(), replays={"NOPE": DATA})


HEADER = ",Open,High,Low,Close,Volume"
GOOD = [
    "2017-04-19 09:00:00,1.0716,1.0722,1.07083,1.07219,1413",
    "2017-04-19 10:00:00,1.07214,1.07296,1.07214,1.0726,1241",
    "2017-04-19 11:00:00,1.07256,1.07299,1.0717,1.07192,1025",
    "2017-04-19 12:00:00,1.07195,1.0728,1.07195,1.07202,1460",
]
# {t}: the row's own time, {p}: the previous row's time, {h}: half past the row's hour.
CORRUPTIONS = {
    "high below low": ("{t},1.07214,1.07100,1.07214,1.0726,1241", "high must be"),
    "not a number": ("{t},1.07214,abc,1.07214,1.0726,1241", "not a number"),
    "bad time": ("{t}x,1.07214,1.07296,1.07214,1.0726,1241", "cannot read the time"),
    "too few fields": ("{t},1.07214,1.07296", "fields"),
    "time goes back": ("{p},1.07214,1.07296,1.07214,1.0726,1241", "not after"),
    "too many decimals": ("{t},1.072145,1.07296,1.07214,1.0726,1241", "decimals"),
    "negative price": ("{t},-1.07214,1.07296,1.07214,1.0726,1241", "positive"),
    "fractional volume": ("{t},1.07214,1.07296,1.07214,1.0726,12.5", "whole number"),
    "zone offset": ("{t}+00:00,1.07214,1.07296,1.07214,1.0726,1241", "zone"),
    "off the bar grid": ("{h},1.07214,1.07296,1.07214,1.0726,1241", "boundary"),
}


def load(text: str, directory: Path, name: str = "EURUSD_H1_broken.csv") -> ReplayFileError:
    path = directory / name
    path.write_text(text)
    with pytest.raises(ReplayFileError) as caught:
        replay_market(path=path)
    assert str(path) in str(caught.value)
    return caught.value


@settings(max_examples=30, deadline=None)
@given(kind=st.sampled_from(sorted(CORRUPTIONS)), row=st.integers(1, len(GOOD) - 1))
def test_a_corrupt_row_is_named_by_file_and_line(kind, row):
    template, problem = CORRUPTIONS[kind]
    times = [line.split(",")[0] for line in GOOD]
    rows = list(GOOD)
    rows[row] = template.format(t=times[row], p=times[row - 1], h=times[row][:14] + "30:00")
    with tempfile.TemporaryDirectory() as directory:
        error = load("\n".join([HEADER, *rows]) + "\n", Path(directory))
    assert error.line == row + 2 and f"line {row + 2}" in str(error)
    assert problem in str(error)


@pytest.mark.parametrize(
    ("name", "text", "problem"),
    [
        ("EURUSD_H1.csv", "", "empty"),
        ("EURUSD_H1.csv", HEADER + "\n", "no price rows"),
        ("prices.csv", HEADER + "\n" + GOOD[0] + "\n", "single row"),
        ("EURUSD_H1.csv", "time,open,high,close\n" + "\n".join(GOOD), "lacks the column"),
        ("prices.csv", "\n".join([HEADER, GOOD[0], GOOD[0].replace("04-19", "04-26")]), "M1 to D1"),
    ],
)
def test_a_file_that_cannot_be_replayed_says_why(tmp_path, name, text, problem):
    assert problem in str(load(text, tmp_path, name))


def test_a_missing_file_is_named(tmp_path):
    missing = tmp_path / "nowhere.csv"
    with pytest.raises(ReplayFileError, match="nowhere.csv"):
        replay_market(path=missing)
