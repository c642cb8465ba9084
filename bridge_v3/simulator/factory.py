"""Assembles a simulated terminal (clock, market, paper broker, module face) from a config.

``create_terminal`` is the one call an embedding program needs and ``save_state`` keeps
its account across restarts; ``create_simulation`` also hands back the parts.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import weakref
from collections.abc import Callable, Mapping
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
    generated prices. ``state_file``, when set, is where the accounts and their trading
    history are kept across restarts. ``faults`` is a ``FaultPlan`` (None = no faults).

    The terminal starts logged in to ``login`` unless ``logged_in`` is False (a terminal
    nobody is logged in to). ``other_logins`` are more accounts on the same server, with
    the same password and opening figures, that login()/initialize(login=...) switch to.
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
    logged_in: bool = True
    other_logins: tuple[int, ...] = ()

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
        object.__setattr__(self, "other_logins", tuple(self.other_logins))
        _check_other_logins(self.login, self.other_logins)
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
    others: tuple[PaperBroker, ...] = ()
    wall_time: Callable[[], float] = time.time

    def snapshot(self, lease: float = 0.0) -> dict[str, Any]:
        return {
            "clock_utc": float(self.clock.now()),
            "clock_saved_at": float(self.wall_time()),
            "clock_lease": float(lease),
            "clock_speed": float(getattr(self.clock, "speed", 1.0)),
            "config": {
                "seed": self.config.seed,
                "server_timezone": self.config.server_timezone,
                "symbols_suffix": self.config.symbols_suffix,
            },
            "broker": self.broker.to_state(),
            "accounts": [broker.to_state() for broker in self.others],
            "shocks": self.broker.market.shocks_state(),
        }


# Terminal -> its persistent parts, so ``save_state(terminal)`` needs nothing else. Weak:
# an entry lives exactly as long as its terminal.
_PERSISTED: weakref.WeakKeyDictionary[Any, _Persisted] = weakref.WeakKeyDictionary()


@dataclass
class Simulation:
    """The assembled parts of one simulated terminal (``broker``: the configured account;
    ``others``: the other accounts it knows)."""

    config: SimulatorConfig
    clock: SimClock
    market: Market
    broker: PaperBroker
    terminal: SimulatedTerminal
    others: tuple[PaperBroker, ...] = ()

    @property
    def lock(self) -> threading.RLock:
        """The lock every call into the terminal holds: hold it to see no call half done."""
        return self.terminal._lock

    def calls(self) -> dict[str, int]:
        """How many times each module function has been called on this terminal (the count
        a test or a demo reads; e.g. ``order_send`` in safety mode must stay 0)."""
        with self.lock:
            return dict(self.terminal._calls)

    def snapshot(self, lease: float = 0.0) -> dict[str, Any]:
        """The persistent state as a JSON-ready dict. Take it under ``lock``. ``lease``:
        real seconds the clock may run on before the next snapshot (0: it stops here)."""
        return _PERSISTED[self.terminal].snapshot(lease)

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


def create_simulation(
    config: SimulatorConfig,
    clock: SimClock | None = None,
    *,
    sleep: Callable[[float], None] = time.sleep,
    wall_time: Callable[[], float] = time.time,
) -> Simulation:
    """Build the clock, market, brokers and terminal; restore the brokers from the state file.

    ``sleep`` is how the terminal's faults spend real time (latency, a blocking
    initialize): tests pass one that records, or that advances their ``clock``.
    ``wall_time`` is the host's clock, which decides where a restored clock resumes.

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
    clock = clock or _wall_clock(config, state, wall_time())
    market = Market(
        clock,
        BrokerTime(config.server_timezone),
        seed=config.seed,
        symbols=default_catalogue(config.symbols_suffix),
        replays=dict(config.replays) or None,
        history_days=config.history_days,
    )
    if state is not None:
        _restore_shocks(config, market, state)
    broker, *others = _brokers(config, market, state)
    terminal = _terminal(config, market, broker, others, sleep)
    _PERSISTED[terminal] = _Persisted(config, clock, broker, tuple(others), wall_time)
    return Simulation(config, clock, market, broker, terminal, tuple(others))


def create_terminal(
    config: SimulatorConfig,
    clock: SimClock | None = None,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> SimulatedTerminal:
    """A ready simulated terminal: use it wherever ``import MetaTrader5 as mt5`` stands."""
    return create_simulation(config, clock, sleep=sleep).terminal


def _wall_clock(config: SimulatorConfig, state: dict | None, now: float) -> SimClock:
    """A wall clock that never starts before the saved clock: time must not run backwards."""
    from bridge_v3.simulator.clock import WallClock

    start = config.start if config.start is not None else now
    resume = _resume_time(state, now) if state else None
    if resume is not None and resume > start:
        start = resume
    return WallClock(start=start, speed=config.speed)


def _resume_time(state: dict, now: float) -> float | None:
    """Where the saved clock may have got to by ``now`` (host time): its reading plus what
    it ran after the save, up to the save's lease (a killed process shows no later time)."""
    saved = state.get("clock_utc")
    if saved is None:
        return None
    ran = min(max(now - state.get("clock_saved_at", now), 0.0), state.get("clock_lease", 0.0))
    return float(saved) + state.get("clock_speed", 1.0) * ran


def _brokers(config: SimulatorConfig, market: Market, state: dict | None) -> list[PaperBroker]:
    """The configured account first, then the others: restored from the state, else new."""
    brokers = _saved_brokers(config, market, state) or [_new_broker(config, market, config.login)]
    known = {broker.config.login for broker in brokers}
    new = [login for login in config.other_logins if login not in known]
    return brokers + [_new_broker(config, market, login) for login in new]


def _saved_brokers(config: SimulatorConfig, market: Market, state: dict | None) -> list:
    from bridge_v3.simulator.broker.broker import PaperBroker
    from bridge_v3.simulator.broker.state import BrokerStateError

    if state is None:
        return []
    logger.info("restoring the paper accounts from %s", config.state_file)
    others = state.get("accounts", [])
    try:
        if not isinstance(others, list):
            raise BrokerStateError(f"'accounts' must be a list, found {type(others).__name__}")
        return [PaperBroker.from_state(market, part) for part in (state["broker"], *others)]
    except BrokerStateError as error:
        raise StateFileError(config.state_file, f"broker state: {error}") from error


def _new_broker(config: SimulatorConfig, market: Market, login: int) -> PaperBroker:
    from bridge_v3.simulator.broker.broker import PaperBroker

    return PaperBroker(
        market,
        login=login,
        balance=config.balance,
        leverage=config.leverage,
        currency=config.currency,
        hedging=config.hedging,
        commission_per_lot=config.commission_per_lot,
        server=config.server,
    )


def _restore_shocks(config: SimulatorConfig, market: Market, state: dict) -> None:
    """Prices shifted by the shock command stay shifted across restarts."""
    try:
        market.restore_shocks(dict(state.get("shocks") or {}))
    except (TypeError, ValueError) as error:
        raise StateFileError(config.state_file, f"shocks: {error}") from error


def _terminal(
    config: SimulatorConfig,
    market: Market,
    broker: PaperBroker,
    others: list[PaperBroker],
    sleep: Callable[[float], None],
) -> SimulatedTerminal:
    from bridge_v3.simulator.terminal import SimulatedTerminal

    return SimulatedTerminal(
        market,
        broker,
        faults=config.faults,
        password=config.password,
        other_accounts=others,
        logged_in=config.logged_in,
        sleep=sleep,
    )


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


def _check_other_logins(login: int, others: tuple[int, ...]) -> None:
    for other in others:
        _check_whole("other_logins", other, minimum=1)
    if len(set(others)) != len(others) or login in others:
        raise ConfigError("other_logins", f"must be distinct and differ from login {login}")


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
