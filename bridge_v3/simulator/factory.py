"""Assembles a simulated terminal (clock, market, paper broker, module face) from a config.

``create_terminal`` is the one call an embedding program needs and ``save_state`` keeps
its account across restarts; ``create_simulation`` also hands back the parts.
"""

from __future__ import annotations

import logging
import math
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from bridge_v3.exceptions import ConfigError
from bridge_v3.simulator.state import StateFileError, load_state
from bridge_v3.simulator.state import save_state as write_state

if TYPE_CHECKING:
    from bridge_v3.simulator.broker.broker import PaperBroker
    from bridge_v3.simulator.clock import SimClock
    from bridge_v3.simulator.market.market import Market
    from bridge_v3.simulator.terminal import SimulatedTerminal

logger = logging.getLogger(__name__)

_MASKED = ("password",)


@dataclass(frozen=True, repr=False)
class SimulatorConfig:
    """Everything that shapes one simulated terminal. Validated on construction.

    ``start`` is the simulated UTC time (unix seconds) the clock starts from; None means
    now. ``replays`` maps a symbol (suffix included) to a price file it replays instead of
    generated prices. ``state_file``, when set, is where the account and its trading
    history are kept across restarts. ``faults`` is a ``FaultPlan`` (None = no faults).
    """

    seed: int = 0
    server_timezone: str = "Europe/Athens"
    speed: float = 1.0
    start: float | None = None
    symbols_suffix: str = ""
    replays: Mapping[str, str] = field(default_factory=dict)
    balance: float = 10000.0
    leverage: int = 100
    hedging: bool = True
    login: int = 10000001
    password: str = "sim"
    server: str = "BridgeSim-Demo"
    currency: str = "USD"
    commission_per_lot: float = 0.0
    history_days: int = 400
    state_file: str | None = None
    save_interval: float = 60.0
    faults: Any = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "replays", MappingProxyType(dict(self.replays)))
        _check_zone(self.server_timezone)
        _check_positive("speed", self.speed)
        _check_positive("balance", self.balance)
        _check_positive("save_interval", self.save_interval)
        _check_whole("leverage", self.leverage, minimum=1)
        _check_whole("login", self.login, minimum=1)
        _check_whole("history_days", self.history_days, minimum=1)
        _check_whole("seed", self.seed, minimum=0)
        if self.start is not None and not math.isfinite(self.start):
            raise ConfigError("start", "must be a finite UTC unix time", "1763800000")

    def __repr__(self) -> str:
        parts = []
        for item in fields(self):
            value = getattr(self, item.name)
            shown = "'***'" if item.name in _MASKED else repr(value)
            if item.name == "replays":
                shown = repr(dict(value))
            parts.append(f"{item.name}={shown}")
        return f"SimulatorConfig({', '.join(parts)})"


@dataclass(frozen=True)
class _Persisted:
    """What a terminal's state is made of (the terminal itself holds no state of its own)."""

    config: SimulatorConfig
    clock: SimClock
    broker: PaperBroker

    def snapshot(self) -> dict[str, Any]:
        return {
            "clock_utc": float(self.clock.now()),
            "config": {
                "seed": self.config.seed,
                "server_timezone": self.config.server_timezone,
                "symbols_suffix": self.config.symbols_suffix,
            },
            "broker": self.broker.to_state(),
        }


# Terminal -> its persistent parts, so ``save_state(terminal)`` needs nothing else. Weak:
# an entry lives exactly as long as its terminal.
_PERSISTED: weakref.WeakKeyDictionary[Any, _Persisted] = weakref.WeakKeyDictionary()


@dataclass
class Simulation:
    """The assembled parts of one simulated terminal."""

    config: SimulatorConfig
    clock: SimClock
    market: Market
    broker: PaperBroker
    terminal: SimulatedTerminal

    def snapshot(self) -> dict[str, Any]:
        """The persistent state as a JSON-ready dict. Take it under the terminal's lock."""
        return _Persisted(self.config, self.clock, self.broker).snapshot()

    def save(self, path: str | None = None) -> str:
        """Write the state atomically to ``path`` (default: the config's state file)."""
        return save_state(self.terminal, path)


def save_state(terminal: SimulatedTerminal, path: str | None = None) -> str:
    """Write the state of a terminal made here atomically to ``path`` (default: its config's
    state file) and return the path. Not thread-safe against calls into the terminal:
    callers that share the terminal between threads hold their lock around this."""
    try:
        parts = _PERSISTED.get(terminal)
    except TypeError:  # not weak-referenceable, so certainly not one of ours
        parts = None
    if parts is None:
        raise ValueError("this terminal was not made by create_terminal/create_simulation")
    target = path or parts.config.state_file
    if not target:
        raise ValueError("no state file configured and no path given")
    write_state(target, parts.snapshot())
    return target


def create_simulation(config: SimulatorConfig, clock: SimClock | None = None) -> Simulation:
    """Build the clock, market, broker and terminal; restore the broker from the state file.

    Raises StateFileError when the state file exists but cannot be used, and whatever the
    market raises for a replay file it cannot read.
    """
    state = load_state(config.state_file) if config.state_file else None
    # The parts are imported here, not at the top: ``import bridge_v3.simulator`` (which
    # every user of its dtypes triggers) stays light and free of import cycles.
    from bridge_v3.simulator.clock import BrokerTime
    from bridge_v3.simulator.market.market import Market
    from bridge_v3.simulator.market.symbols import default_catalogue

    if state is not None:
        _warn_on_changed_identity(config, state)
    clock = clock or _wall_clock(config, state)
    market = Market(
        clock,
        BrokerTime(config.server_timezone),
        seed=config.seed,
        symbols=default_catalogue(config.symbols_suffix),
        replays=dict(config.replays) or None,
        history_days=config.history_days,
    )
    broker = _broker(config, market, state)
    terminal = _terminal(config, market, broker)
    _PERSISTED[terminal] = _Persisted(config, clock, broker)
    return Simulation(config, clock, market, broker, terminal)


def create_terminal(config: SimulatorConfig, clock: SimClock | None = None) -> SimulatedTerminal:
    """A ready simulated terminal: use it wherever ``import MetaTrader5 as mt5`` stands."""
    return create_simulation(config, clock).terminal


def _wall_clock(config: SimulatorConfig, state: dict | None) -> SimClock:
    """A wall clock that never starts before the saved clock: time must not run backwards."""
    from bridge_v3.simulator.clock import WallClock

    start = config.start
    saved = state.get("clock_utc") if state else None
    if saved is not None and saved > (start if start is not None else time.time()):
        start = float(saved)
    return WallClock(start=start, speed=config.speed)


def _broker(config: SimulatorConfig, market: Market, state: dict | None) -> PaperBroker:
    from bridge_v3.simulator.broker.broker import PaperBroker
    from bridge_v3.simulator.broker.state import BrokerStateError

    if state is not None:
        logger.info("restoring the paper account from %s", config.state_file)
        try:
            return PaperBroker.from_state(market, state["broker"])
        except BrokerStateError as error:
            raise StateFileError(config.state_file, f"broker state: {error}") from error
    return PaperBroker(
        market,
        login=config.login,
        balance=config.balance,
        leverage=config.leverage,
        currency=config.currency,
        hedging=config.hedging,
        commission_per_lot=config.commission_per_lot,
        server=config.server,
    )


def _terminal(config: SimulatorConfig, market: Market, broker: PaperBroker) -> SimulatedTerminal:
    from bridge_v3.simulator.terminal import SimulatedTerminal

    return SimulatedTerminal(market, broker, faults=config.faults, password=config.password)


def _warn_on_changed_identity(config: SimulatorConfig, state: dict) -> None:
    saved = state.get("config") or {}
    for name in ("seed", "server_timezone", "symbols_suffix"):
        if name in saved and saved[name] != getattr(config, name):
            logger.warning(
                "state file %s was saved with %s=%r, now %r: prices and symbol names may "
                "not match its positions",
                config.state_file,
                name,
                saved[name],
                getattr(config, name),
            )


def _check_zone(zone: str) -> None:
    from bridge_v3.simulator.clock import split_zone

    try:
        split_zone(zone)
    except (ValueError, TypeError) as error:
        raise ConfigError(
            "server_timezone",
            f"unknown time zone {zone!r} (an IANA zone, or one plus hours)",
            "Europe/Athens",
        ) from error


def _check_positive(name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(name, f"must be a number, got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(name, f"must be a positive finite number, got {value!r}")


def _check_whole(name: str, value: int, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(name, f"must be a whole number >= {minimum}, got {value!r}")
