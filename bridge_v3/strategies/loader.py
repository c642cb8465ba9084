"""Which strategies run, on what, with which parameters: ``STRATEGIES`` and ``STRATEGIES_FILE``.

``STRATEGIES`` lists built-in names (``ma_cross``, ``donchian``) or ``package.module:Class``
paths. The optional TOML file holds one ``[name]`` section per strategy (its ``name``):

.. code-block:: toml

    [ma_cross]
    symbols = ["EURUSD", "GBPUSD"]   # default: every configured symbol with that timeframe
    timeframe = "H1"                 # default: the first configured forex timeframe
    magic = 240101                   # default: derived from the name
    price_tolerance_pct = 0.2        # default: PRICE_TOLERANCE_PCT
    fast = 10                        # any other key is a parameter of the strategy
    slow = 30

Anything wrong (an unknown name, a class that cannot be imported, a section for a strategy
that is not listed, a parameter the strategy does not have, a series the bridge does not
store, two strategies with one magic number) is a ``ConfigError`` naming the entry: the
bridge does not start (exit 2).
"""

from __future__ import annotations

import importlib
import sys
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from bridge_v3.config.constants import Timeframe
from bridge_v3.config.parsers import InvalidValue, parse_timeframe
from bridge_v3.exceptions import ConfigError
from bridge_v3.strategies.base import Strategy
from bridge_v3.strategies.donchian import DonchianBreakout
from bridge_v3.strategies.ma_cross import MovingAverageCross

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser, from PyPI
    import tomli as tomllib

BUILT_IN: dict[str, type[Strategy]] = {
    MovingAverageCross.name: MovingAverageCross,
    DonchianBreakout.name: DonchianBreakout,
}
_RESERVED = ("symbols", "timeframe", "magic", "price_tolerance_pct")
MAGIC_BASE = 700_000  # derived magic numbers: 700000 .. 799999


@dataclass(frozen=True)
class Market:
    """What the bridge stores bars for: the series a strategy may run on."""

    series: tuple[tuple[str, Timeframe], ...]

    def symbols(self, timeframe: Timeframe) -> tuple[str, ...]:
        return tuple(s for s, tf in self.series if tf == timeframe)

    def first_timeframe(self) -> Timeframe | None:
        return self.series[0][1] if self.series else None


def load_strategies(names: Iterable[str], file: str, market: Market) -> list[Strategy]:
    """Build every listed strategy, configured from ``file`` (may be empty: no file)."""
    sections = read_file(file) if file else {}
    classes = [(entry, strategy_class(entry)) for entry in names]
    listed = {cls.name for _, cls in classes}
    for name in sections:
        if name not in listed:
            raise ConfigError(
                "STRATEGIES_FILE",
                f"{file}: section [{name}] is for a strategy that STRATEGIES does not list "
                f"(listed: {', '.join(sorted(listed)) or 'none'})",
            )
    built = [_build(entry, cls, sections.get(cls.name, {}), file, market) for entry, cls in classes]
    _check_unique(built)
    return built


def strategy_class(entry: str) -> type[Strategy]:
    """The class an entry of STRATEGIES names; ConfigError when there is none."""
    if ":" not in entry:
        if entry not in BUILT_IN:
            raise ConfigError(
                "STRATEGIES",
                f"{entry!r} is not a built-in strategy (built-in: {', '.join(BUILT_IN)}); "
                "for your own write package.module:Class",
                "ma_cross,donchian",
            )
        return BUILT_IN[entry]
    module_name, _, class_name = entry.partition(":")
    try:
        found = getattr(importlib.import_module(module_name), class_name)
    except Exception as error:  # any import failure is the user's entry, told as such
        raise ConfigError(
            "STRATEGIES", f"{entry}: cannot be imported ({type(error).__name__}: {error})"
        ) from None
    if not (isinstance(found, type) and issubclass(found, Strategy) and found.name):
        raise ConfigError(
            "STRATEGIES",
            f"{entry}: is not a subclass of bridge_v3.strategies.Strategy with a name",
        )
    return found


def read_file(file: str) -> dict[str, dict]:
    """The sections of a strategies file; ConfigError naming the file and the problem."""
    try:
        data = tomllib.loads(Path(file).read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError("STRATEGIES_FILE", f"{file}: cannot be read ({error.strerror})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError("STRATEGIES_FILE", f"{file}: not valid TOML ({error})") from None
    for name, section in data.items():
        if not isinstance(section, dict):
            raise ConfigError(
                "STRATEGIES_FILE", f"{file}: {name} must be a [section], got a plain value"
            )
    return data


def _build(
    entry: str, cls: type[Strategy], section: Mapping, file: str, market: Market
) -> Strategy:
    where = f"{file}: [{cls.name}]" if section else f"STRATEGIES entry {entry}"
    variable = "STRATEGIES_FILE" if section else "STRATEGIES"
    try:
        timeframe = _timeframe(section.get("timeframe"), market)
        symbols = _symbols(section.get("symbols"), timeframe, market)
        params = {k: v for k, v in section.items() if k not in _RESERVED}
        return cls(
            symbols=symbols,
            timeframe=timeframe,
            magic=_magic(section.get("magic"), cls.name),
            params=params,
            price_tolerance_pct=_tolerance(section.get("price_tolerance_pct")),
        )
    except (ValueError, TypeError, InvalidValue) as error:
        raise ConfigError(variable, f"{where}: {error}") from None


def _timeframe(raw: object, market: Market) -> Timeframe:
    if raw is None:
        first = market.first_timeframe()
        if first is None:
            raise ValueError("the bridge stores no bars (FOREX_PAIRS is empty)")
        return first
    return parse_timeframe(str(raw))


def _symbols(raw: object, timeframe: Timeframe, market: Market) -> tuple[str, ...]:
    stored = market.symbols(timeframe)
    if raw is None:
        if not stored:
            raise ValueError(f"the bridge stores no {timeframe.name} bars to run on")
        return stored
    if not isinstance(raw, list) or not raw or not all(isinstance(s, str) for s in raw):
        raise ValueError(f"symbols must be a list of names, got {raw!r}")
    missing = [s for s in raw if s not in stored]
    if missing:
        raise ValueError(
            f"{', '.join(missing)} {timeframe.name}: the bridge does not store these bars "
            "(add the symbol to FOREX_PAIRS/CRYPTO_PAIRS and the timeframe to its *_TIMEFRAME)"
        )
    return tuple(dict.fromkeys(raw))


def _magic(raw: object, name: str) -> int:
    if raw is None:
        return MAGIC_BASE + zlib.crc32(name.encode()) % 100_000
    if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw < 2**63:
        raise ValueError(f"magic must be a whole number from 1, got {raw!r}")
    return raw


def _tolerance(raw: object) -> float | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not 0 < raw <= 10:
        raise ValueError(f"price_tolerance_pct must be a number above 0, at most 10, got {raw!r}")
    return float(raw)


def _check_unique(strategies: list[Strategy]) -> None:
    seen_names: set[str] = set()
    seen_magic: dict[int, str] = {}
    for strategy in strategies:
        if strategy.name in seen_names:
            raise ConfigError("STRATEGIES", f"{strategy.name} is listed twice")
        seen_names.add(strategy.name)
        other = seen_magic.setdefault(strategy.magic, strategy.name)
        if other != strategy.name:
            raise ConfigError(
                "STRATEGIES_FILE",
                f"{strategy.name} and {other} have the same magic number {strategy.magic}: "
                "give each its own (magic = ... in its section)",
            )
