"""Each built-in strategy, run through the bridge in live mode on the paper account over real
EURUSD H1 prices (replayed by the simulated terminal), enters and exits on the same bars and
sides as the same rules run in ``backtesting.py``, an independent backtester.

The bridge runs as in production, one closed bar at a time: the price cycle stores the bar,
the strategy task reads it back from PostgreSQL and signals, the executor sizes the order,
passes the risk gate and order_check, journals it and sends it; SL and TP are hit by the
paper broker's ticks. The backtester sees the same bars, fills market orders at the next
bar's open (``trade_on_close=False``) and SL/TP within a bar's range; the rules are written
again below with pandas, independently of ``bridge_v3.strategies``.

Where they may differ (each difference found must be one of these, and is shown):
- *both stops in one bar*: a bar whose range holds both SL and TP. The backtester assumes the
  stop was hit first; the simulated terminal walks the bar open -> low -> high -> close when
  it rises (open -> high -> low -> close when it falls), so a rising bar hits a long's stop
  first too but a falling one reaches its take-profit first. From the first such bar on, the
  two runs hold different positions, so the comparison stops there.
- *spread*: the replay here has a zero spread, but the paper broker's ask still alternates
  one point above the bid, so a short's stop that the bar's high touches to the point may
  trigger in the bridge and not in the backtester. Same consequence, same treatment.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
from backtesting import Backtest
from backtesting import Strategy as BacktestStrategy

from bridge_v3.config.constants import TIMEFRAMES
from tests.controllers.execution_support import configured, start
from tests.controllers.trade_support import make_desk

DATA = Path(__file__).resolve().parents[1] / "data" / "EURUSD_H1.csv"
H1 = TIMEFRAMES["H1"]
FIRST, BARS = 200, 600  # the stretch of the file replayed (rows), after a warm-up
SERVER_OFFSET = {False: 2 * 3600, True: 3 * 3600}  # Europe/Athens: winter, summer


def replay_file(tmp_path: Path) -> tuple[Path, pd.DataFrame]:
    """The real prices with a zero spread column, as the terminal will replay them."""
    frame = pd.read_csv(DATA, index_col=0, parse_dates=True)
    frame["Spread"] = 0
    path = tmp_path / "EURUSD_H1.csv"
    frame.to_csv(path)
    return path, frame


def utc_of(server: pd.Timestamp) -> float:
    """The UTC instant of a server wall-clock time (the simulated broker is Europe/Athens)."""
    local = server.tz_localize("Europe/Athens", ambiguous=True, nonexistent="shift_forward")
    return local.tz_convert("UTC").timestamp()


def run_bridge(tmp_path, fresh_database, redis_prefix, prices: pd.DataFrame, names):
    path, _ = replay_file(tmp_path)
    first_open = prices.index[FIRST]
    desk = make_desk(
        fresh_database,
        redis_prefix,
        tmp_path,
        start=utc_of(first_open) + 60,
        replays={"EURUSD": str(path)},
    )
    settings = configured(
        desk, live=True, strategies=tuple(names), price_tolerance_pct=5.0, order_retries=3
    )
    market = replace(
        settings.market, forex_pairs=("EURUSD",), forex_timeframes=(H1,), initial_history_days=15
    )
    bridge = start(desk, replace(settings, market=market))
    try:
        for when in prices.index[FIRST + 1 : FIRST + BARS]:
            desk.clock.set(utc_of(when) + 60)  # a minute into the bar: the one before closed
            bridge.risk.run_check()  # the risk job runs every few seconds meanwhile
            bridge.prices.sync_all()
            bridge.run_strategies()
        deals = desk.mt5.history_deals_get(0, 2**31 - 1)
        magics = {s.name: s.magic for s in bridge.strategy_set}
    finally:
        for made in list(desk.bridges):
            desk.stop(made)
    return deals, magics


def bridge_trades(deals, magic: int) -> list[tuple]:
    """(bar, 'in'/'out', side) of each deal of one strategy, bars in server time."""
    found = []
    for deal in deals:
        if deal.magic != magic or deal.entry not in (0, 1):
            continue
        bar = datetime.fromtimestamp(deal.time - deal.time % 3600, tz=timezone.utc)
        side = "buy" if deal.type == 0 else "sell"
        found.append(
            (pd.Timestamp(bar.replace(tzinfo=None)), "in" if deal.entry == 0 else "out", side)
        )
    return sorted(found, key=lambda t: (t[0], t[1] == "in"))


# -- the same rules, written again for the backtester ------------------------------------------


def atr(high, low, close, period):
    high, low, close = pd.Series(high), pd.Series(low), pd.Series(close)
    previous = close.shift()
    ranges = np.maximum(high - low, np.maximum((high - previous).abs(), (low - previous).abs()))
    ranges[previous.isna()] = np.nan
    return ranges.rolling(period).mean().to_numpy()


class Rules(BacktestStrategy):
    first_bar = None

    def next(self):
        if self.data.index[-1] < self.first_bar or len(self.data) < 3:
            return
        found = self.signal()
        if found is None:
            return
        side, sl, tp = found
        if self.position and self.position.is_long == (side == "buy"):
            return  # already holds that way: one position per strategy and symbol
        if self.position:
            self.position.close()
        (self.buy if side == "buy" else self.sell)(size=1, sl=sl, tp=tp)


class CrossRules(Rules):
    def init(self):
        close = pd.Series(self.data.Close)
        self.fast = self.I(lambda c: pd.Series(c).rolling(10).mean().to_numpy(), close)
        self.slow = self.I(lambda c: pd.Series(c).rolling(30).mean().to_numpy(), close)
        self.atr = self.I(atr, self.data.High, self.data.Low, self.data.Close, 14)

    def signal(self):
        before = self.fast[-2] - self.slow[-2]
        now = self.fast[-1] - self.slow[-1]
        close, band = self.data.Close[-1], self.atr[-1]
        if before <= 0 < now:
            return "buy", close - 2 * band, close + 3 * band
        if before >= 0 > now:
            return "sell", close + 2 * band, close - 3 * band
        return None


class BreakoutRules(Rules):
    def init(self):
        high, low = pd.Series(self.data.High), pd.Series(self.data.Low)
        self.upper = self.I(lambda h: pd.Series(h).rolling(20).max().shift().to_numpy(), high)
        self.lower = self.I(lambda x: pd.Series(x).rolling(20).min().shift().to_numpy(), low)

    def signal(self):
        close = self.data.Close
        middle = (self.upper[-1] + self.lower[-1]) / 2
        risk = abs(close[-1] - middle)
        if close[-1] > self.upper[-1] and not close[-2] > self.upper[-2]:
            return "buy", middle, close[-1] + 2 * risk
        if close[-1] < self.lower[-1] and not close[-2] < self.lower[-2]:
            return "sell", middle, close[-1] - 2 * risk
        return None


def backtester_trades(
    prices: pd.DataFrame, rules: type[Rules], first_bar
) -> tuple[list, pd.DataFrame]:
    stretch = prices.iloc[: FIRST + BARS]
    rules.first_bar = first_bar
    test = Backtest(stretch, rules, cash=1_000_000, trade_on_close=False, finalize_trades=True)
    stats = test.run()
    found = []
    for trade in stats["_trades"].itertuples():
        side = "buy" if trade.Size > 0 else "sell"
        found.append((trade.EntryTime, "in", side))
        exit_side = "sell" if side == "buy" else "buy"
        if trade.ExitTime is not None and not pd.isna(trade.ExitTime):
            found.append((trade.ExitTime, "out", exit_side))
    return sorted(found, key=lambda t: (t[0], t[1] == "in")), stats["_trades"]


def explained(prices: pd.DataFrame, bar, trades: pd.DataFrame) -> str | None:
    """Why the two may part at ``bar``: both stops in the bar's range, or a stop touched
    to the point (the ask one point above the bid). None: no reason known."""
    row = prices.loc[bar]
    for trade in trades.itertuples():
        if trade.EntryTime <= bar and (pd.isna(trade.ExitTime) or trade.ExitTime >= bar):
            if row.Low <= trade.SL <= row.High and row.Low <= trade.TP <= row.High:
                return "both stops in one bar"
            if trade.Size < 0 and abs(row.High - trade.SL) <= 2e-5:
                return "a short's stop touched to the point"
    return None


def test_the_bridge_trades_the_bars_the_backtester_trades(tmp_path, fresh_database, redis_prefix):
    _, prices = replay_file(tmp_path)
    rules = {"ma_cross": CrossRules, "donchian": BreakoutRules}
    deals, magics = run_bridge(tmp_path, fresh_database, redis_prefix, prices, list(rules))
    # The last bar both saw whole; the backtester closes what is open on the bar after.
    horizon = prices.index[FIRST + BARS - 2]

    for name, written_again in rules.items():
        ours = [t for t in bridge_trades(deals, magics[name]) if t[0] <= horizon]
        # The bridge's first evaluated bar is the one that closed as it started.
        theirs, trades = backtester_trades(prices, written_again, prices.index[FIRST])
        theirs = [t for t in theirs if t[0] <= horizon]
        agreed = compare(name, ours, theirs, prices, trades)
        assert agreed >= 10, (name, agreed, ours[:12], theirs[:12])


def compare(name: str, ours: list, theirs: list, prices: pd.DataFrame, trades) -> int:
    """How many deals agree in order; the first difference must have a known reason."""
    agreed = 0
    for mine, other in zip(ours, theirs, strict=False):
        if mine != other:
            bar = min(mine[0], other[0])
            why = explained(prices, bar, trades)
            assert why is not None, (
                f"{name}: bridge {mine} vs backtester {other}, unexplained",
                ours[max(0, agreed - 4) : agreed + 3],
                theirs[max(0, agreed - 4) : agreed + 3],
            )
            print(f"{name}: they part at {bar} ({why}) after {agreed} agreeing deals")
            return agreed
        agreed += 1
    assert len(ours) == len(theirs), (name, ours[agreed:], theirs[agreed:])
    return agreed
