"""The built-in strategies on bars written out by hand, the base class's checks, and the
loader of STRATEGIES / STRATEGIES_FILE with every kind of bad entry named."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bridge_v3.config.constants import TIMEFRAMES
from bridge_v3.exceptions import ConfigError
from bridge_v3.strategies.base import Signal
from bridge_v3.strategies.donchian import DonchianBreakout
from bridge_v3.strategies.loader import Market, load_strategies
from bridge_v3.strategies.ma_cross import MovingAverageCross
from tests.test_main_bad_input import NOWHERE, no_traceback
from tests.test_main_cli import bridge_env, run_cli

H1, M15 = TIMEFRAMES["H1"], TIMEFRAMES["M15"]
MARKET = Market((("EURUSD", H1), ("GBPUSD", H1), ("EURUSD", M15)))


def bars(closes, spread=0.0005) -> pd.DataFrame:
    closes = np.asarray(closes, dtype=float)
    index = pd.date_range("2026-03-02", periods=len(closes), freq="h", tz="UTC")
    opens = np.concatenate(([closes[0]], closes[:-1]))
    return pd.DataFrame(
        {
            "open": opens,
            "high": np.maximum(opens, closes) + spread,
            "low": np.minimum(opens, closes) - spread,
            "close": closes,
            "tick_volume": 100.0,
        },
        index=index,
    )


def ma(**params) -> MovingAverageCross:
    return MovingAverageCross(symbols=("EURUSD",), timeframe=H1, magic=1, params=params)


def test_ma_cross_signals_on_the_bar_of_the_cross_only_with_atr_stops():
    strategy = ma(fast=2, slow=4, atr_period=3, sl_atr=2, tp_atr=3)
    falling = [1.10 - 0.001 * i for i in range(8)]
    frame = bars([*falling, 1.11])  # the last close lifts the fast average over the slow

    signal = strategy.evaluate(frame)
    quiet = strategy.evaluate(bars([*falling, 1.092]))

    assert signal is not None and signal.side == "buy" and signal.price == 1.11
    tr = np.maximum(frame["high"] - frame["low"], (frame["high"] - frame["close"].shift()).abs())
    tr = np.maximum(tr, (frame["low"] - frame["close"].shift()).abs())
    atr = tr.iloc[-3:].mean()
    assert signal.sl == pytest.approx(1.11 - 2 * atr) and signal.tp == pytest.approx(1.11 + 3 * atr)
    assert quiet is None
    assert strategy.evaluate(bars([1.1 + 0.001 * i for i in range(8)] + [1.09])).side == "sell"


def test_donchian_enters_on_the_first_close_beyond_the_channel():
    strategy = DonchianBreakout(symbols=("EURUSD",), timeframe=H1, magic=2, params={"period": 5})
    flat = [1.10, 1.101, 1.099, 1.1005, 1.1, 1.1002, 1.0998]

    up = strategy.evaluate(bars([*flat, 1.105]))
    again = strategy.evaluate(bars([*flat, 1.105, 1.107]))
    down = strategy.evaluate(bars([*flat, 1.094]))

    assert up.side == "buy" and up.sl < up.price < up.tp
    assert up.tp - up.price == pytest.approx(2 * (up.price - up.sl))
    assert again is None  # already outside: not a new breakout
    assert down.side == "sell" and down.tp < down.price < down.sl


def test_a_signal_is_plain_finite_numbers_and_a_known_side():
    signal = Signal("buy", np.float64(1.1), sl=np.float64(1.0))
    assert type(signal.price) is float and type(signal.sl) is float
    for bad in ({"side": "long"}, {"price": float("nan")}, {"price": 0.0}, {"sl": "1.0"}):
        with pytest.raises(ValueError):
            Signal(**{"side": "buy", "price": 1.1, **bad})


def test_parameters_are_checked_by_name_and_value():
    with pytest.raises(ValueError, match="unknown parameter"):
        ma(fastest=3)
    with pytest.raises(ValueError, match="positive"):
        ma(fast=-1)
    with pytest.raises(ValueError, match="below slow"):
        ma(fast=30, slow=10)


def write(tmp_path, text: str) -> str:
    path = tmp_path / "strategies.toml"
    path.write_text(text)
    return str(path)


def test_the_loader_builds_each_listed_strategy_from_its_section(tmp_path):
    file = write(
        tmp_path,
        '[ma_cross]\nsymbols = ["GBPUSD"]\nmagic = 4242\nfast = 5\nprice_tolerance_pct = 0.3\n',
    )

    cross, donchian = load_strategies(("ma_cross", "donchian"), file, MARKET)

    assert (cross.symbols, cross.timeframe, cross.magic) == (("GBPUSD",), H1, 4242)
    assert cross.params["fast"] == 5 and cross.params["slow"] == 30
    assert cross.price_tolerance_pct == 0.3
    assert donchian.symbols == ("EURUSD", "GBPUSD") and donchian.timeframe == H1
    assert donchian.magic != cross.magic and 700_000 < donchian.magic < 800_000


@pytest.mark.parametrize(
    ("names", "text", "variable", "words"),
    [
        (("macross",), "", "STRATEGIES", "not a built-in strategy"),
        (("no.such.module:Thing",), "", "STRATEGIES", "cannot be imported"),
        (("bridge_v3.strategies.base:Signal",), "", "STRATEGIES", "not a subclass"),
        (("ma_cross",), "[donchian]\nperiod = 5\n", "STRATEGIES_FILE", "does not list"),
        (("ma_cross",), "[ma_cross]\nfastest = 5\n", "STRATEGIES_FILE", "unknown parameter"),
        (("ma_cross",), '[ma_cross]\nsymbols = ["USDJPY"]\n', "STRATEGIES_FILE", "does not store"),
        (("ma_cross",), '[ma_cross]\ntimeframe = "H7"\n', "STRATEGIES_FILE", "not a timeframe"),
        (("ma_cross",), "[ma_cross\n", "STRATEGIES_FILE", "not valid TOML"),
        (
            ("ma_cross", "donchian"),
            "[ma_cross]\nmagic = 7\n[donchian]\nmagic = 7\n",
            "STRATEGIES_FILE",
            "same magic number",
        ),
    ],
)
def test_a_bad_entry_is_a_configuration_error_naming_it(tmp_path, names, text, variable, words):
    file = write(tmp_path, text) if text else ""

    with pytest.raises(ConfigError) as caught:
        load_strategies(names, file, MARKET)

    assert caught.value.variable == variable and words in str(caught.value)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="cannot be read"):
        load_strategies(("ma_cross",), str(tmp_path / "none.toml"), MARKET)


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        ({"STRATEGIES": "macross"}, "STRATEGIES: 'macross' is not a built-in strategy"),
        ({"STRATEGIES": "ma_cross", "STRATEGIES_FILE": "broken.toml"}, "not valid TOML"),
    ],
)
def test_a_broken_strategy_setting_stops_start_up_with_exit_2(extra, words, redis_prefix, tmp_path):
    (tmp_path / "broken.toml").write_text("[ma_cross\n")
    env = bridge_env(NOWHERE, redis_prefix, tmp_path, **extra)

    result = run_cli(["--once"], env, tmp_path)

    assert result.returncode == 2, result.stderr[-2000:]
    assert words in result.stdout + result.stderr
    assert no_traceback(result)
