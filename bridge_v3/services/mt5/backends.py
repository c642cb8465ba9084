"""Choosing the terminal behind the MT5 service: the real package, a remote one, or the simulator.

The backend never tells the bridge the broker's clock: ``MT5_SERVER_TIMEZONE=auto`` reads it
from the terminal's history with every backend, the simulator included, as it must with a
real terminal.
"""

from __future__ import annotations

import importlib
import ipaddress
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bridge_v3.config.constants import Backend
from bridge_v3.config.settings import MT5Settings, SimulatorSettings
from bridge_v3.exceptions import ConfigError
from bridge_v3.services.mt5.clients import ModuleClient, RemoteClient, TerminalClient

logger = logging.getLogger(__name__)


@dataclass
class TerminalBackend:
    """How to open a client, which clock the bridge should follow, and what to call it."""

    kind: Backend
    description: str
    open_client: Callable[[], TerminalClient]
    clock: Callable[[], float] = time.time
    close: Callable[[], None] = field(default=lambda: None)


def import_metatrader5() -> Any | None:
    try:
        return importlib.import_module("MetaTrader5")
    except ImportError:
        return None


def choose_backend(
    mt5: MT5Settings,
    simulator: SimulatorSettings,
    *,
    importer: Callable[[], Any | None] = import_metatrader5,
    platform: str = sys.platform,
) -> TerminalBackend:
    """Resolve MT5_BACKEND: ``auto`` is the real package when it imports; on Linux (only)
    it falls back to the simulator, loudly. On Windows a failed import is an error: paper
    prices must never flow into a production database unnoticed."""
    kind = mt5.backend
    module = None
    if kind in (Backend.AUTO, Backend.METATRADER5):
        module = importer()
        if module is None and (kind is Backend.METATRADER5 or platform == "win32"):
            raise ConfigError(
                "MT5_BACKEND",
                f"is '{kind.value}' but the MetaTrader5 package cannot be imported "
                "(pip install MetaTrader5; it exists only for Windows). For paper trading "
                "set MT5_BACKEND=simulator",
                "metatrader5",
            )
        if module is None:
            logger.warning(
                "MetaTrader5 package not importable: MT5_BACKEND=auto uses the SIMULATED "
                "terminal (paper prices, not a broker's). Set MT5_BACKEND=simulator to say "
                "so, or MT5_BACKEND=remote to reach a real terminal"
            )
            kind = Backend.SIMULATOR
    if kind in (Backend.AUTO, Backend.METATRADER5):
        return TerminalBackend(
            Backend.METATRADER5,
            "MetaTrader5 package (real terminal)",
            lambda: ModuleClient(module, "metatrader5"),
        )
    if kind is Backend.REMOTE:
        return remote_backend(mt5)
    return simulator_backend(simulator)


def remote_backend(mt5: MT5Settings) -> TerminalBackend:
    """An RPyC classic server: mt5linux under Wine, or the simulator's server."""
    host, port = mt5.remote_host, mt5.remote_port
    if not is_loopback(host):
        logger.warning(
            "MT5_REMOTE_HOST=%s is not this machine: an RPyC classic server runs any code "
            "its peer sends, both ways. Reach it through an SSH tunnel or a private network",
            host,
        )
    return TerminalBackend(
        Backend.REMOTE,
        f"remote terminal over RPyC at {host}:{port}",
        lambda: RemoteClient(host, port, timeout=mt5.timeout_ms / 1000),
    )


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def simulator_backend(
    settings: SimulatorSettings,
    clock: Any = None,
    *,
    sleep: Callable[[float], None] = time.sleep,
    save_interval: float = 60.0,
) -> TerminalBackend:
    """The simulated terminal in this process (paper trading). Its clock drives the bridge
    (``SIM_HOST_CLOCK_SKEW`` puts the bridge's clock off the broker's, as a VPS's may be).

    With SIM_STATE_FILE the state is saved every ``save_interval`` seconds and at close, so
    a kill loses at most one interval and the simulated clock never goes back on restart.
    """
    from bridge_v3.simulator.factory import SimulatorConfig, create_simulation
    from bridge_v3.simulator.saver import StateSaver

    config = SimulatorConfig(
        seed=settings.seed,
        server_timezone=settings.server_timezone,
        speed=settings.speed,
        balance=settings.balance,
        state_file=settings.state_file or None,
        save_interval=save_interval,
    )
    simulation = create_simulation(config, clock, sleep=sleep)
    saver = StateSaver(simulation, simulation.lock, save_interval) if config.state_file else None
    if saver is not None:
        saver.start()

    def close() -> None:
        if saver is not None:
            saver.stop()
            saver.save()

    description = (
        f"SIMULATED terminal (paper trading, seed {settings.seed}, "
        f"broker zone {settings.server_timezone})"
    )
    skew = settings.host_clock_skew

    def host_clock() -> float:
        """The bridge's host clock: the simulated time, off by the configured skew."""
        return simulation.clock.now() + skew

    return TerminalBackend(
        Backend.SIMULATOR,
        description,
        lambda: ModuleClient(simulation.terminal, "simulator"),
        clock=host_clock,
        close=close,
    )
