"""Choosing the terminal behind the MT5 service: the real package, a remote one, or the simulator."""

from __future__ import annotations

import importlib
import logging
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
    known_timezone: str = ""  # the broker clock, when the backend knows it (the simulator)

    def server_timezone(self, configured: str) -> str:
        """MT5_SERVER_TIMEZONE, except that ``auto`` takes the zone the backend knows.

        The simulated broker's zone is a setting, so guessing it from a tick (which fails
        while the market is closed) is never needed.
        """
        if configured == "auto" and self.known_timezone:
            return self.known_timezone
        return configured


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
) -> TerminalBackend:
    """Resolve MT5_BACKEND (``auto`` = the real package if importable, else the simulator)."""
    kind = mt5.backend
    module = None
    if kind in (Backend.AUTO, Backend.METATRADER5):
        module = importer()
        if module is None and kind is Backend.METATRADER5:
            raise ConfigError(
                "MT5_BACKEND",
                "is 'metatrader5' but the MetaTrader5 package cannot be imported "
                "(it exists only for Windows: pip install MetaTrader5)",
                "simulator",
            )
        if module is None:
            logger.warning("MetaTrader5 package not importable: using the SIMULATED terminal")
            kind = Backend.SIMULATOR
    if kind in (Backend.AUTO, Backend.METATRADER5):
        return TerminalBackend(
            Backend.METATRADER5,
            "MetaTrader5 package (real terminal)",
            lambda: ModuleClient(module, "metatrader5"),
        )
    if kind is Backend.REMOTE:
        host, port = mt5.remote_host, mt5.remote_port
        return TerminalBackend(
            Backend.REMOTE,
            f"remote terminal over RPyC at {host}:{port}",
            lambda: RemoteClient(host, port, timeout=mt5.timeout_ms / 1000),
        )
    return simulator_backend(simulator)


def simulator_backend(settings: SimulatorSettings, clock: Any = None) -> TerminalBackend:
    """The simulated terminal in this process (paper trading). Its clock drives the bridge."""
    from bridge_v3.simulator.factory import SimulatorConfig, create_simulation

    config = SimulatorConfig(
        seed=settings.seed,
        server_timezone=settings.server_timezone,
        speed=settings.speed,
        balance=settings.balance,
        state_file=settings.state_file or None,
    )
    simulation = create_simulation(config, clock)

    def close() -> None:
        if settings.state_file:
            simulation.save()

    description = (
        f"SIMULATED terminal (paper trading, seed {settings.seed}, "
        f"broker zone {settings.server_timezone})"
    )
    return TerminalBackend(
        Backend.SIMULATOR,
        description,
        lambda: ModuleClient(simulation.terminal, "simulator"),
        clock=simulation.clock.now,
        close=close,
        known_timezone=settings.server_timezone,
    )
