"""An RPyC classic server in whose process ``import MetaTrader5`` is the simulated terminal.

This is how the mt5linux server exposes a real terminal under Wine, so the same client
code works against both: ``rpyc.classic.connect(host, port).modules.MetaTrader5``. The
simulator's own controls (the price shock) are a separate module beside it, see
:mod:`bridge_v3.simulator.served_control`.
One terminal serves every client; its account and positions outlive client connections,
and with a state file the server's own restarts.

An RPyC classic port runs any code it is sent, with this process's rights. It binds to
localhost unless told otherwise.
"""

from __future__ import annotations

import ipaddress
import logging
import sys
import threading
from typing import Any

import rpyc
from rpyc.utils.server import ThreadedServer

from bridge_v3.simulator import served_control
from bridge_v3.simulator.factory import Simulation
from bridge_v3.simulator.saver import StateSaver
from bridge_v3.simulator.served_module import install

logger = logging.getLogger(__name__)

_JOIN_SECONDS = 5.0


class SimulatorServer:
    """Serves one simulation over RPyC classic. ``start()`` returns once listening."""

    def __init__(
        self,
        simulation: Simulation,
        host: str = "127.0.0.1",
        port: int = 18812,
        modules: dict[str, Any] | None = None,
    ) -> None:
        self.simulation = simulation
        self.lock = threading.RLock()
        target = sys.modules if modules is None else modules
        self.module = install(simulation.terminal, self.lock, target)
        self.controls = served_control.install(simulation, self.lock, target)
        self._server = ThreadedServer(
            rpyc.SlaveService,
            hostname=host,
            ipv6=":" in host,
            port=port,
            reuse_addr=True,
            logger=logging.getLogger("bridge_v3.simulator.rpyc"),
        )
        self._thread = threading.Thread(target=self._server.start, name="sim-rpyc-accept")
        self._saver = self._state_saver()

    @property
    def address(self) -> tuple[str, int]:
        return self._server.host, self._server.port

    def start(self) -> None:
        warn_if_exposed(self._server.host)
        # Listen before returning, so a client connecting right after start() is not refused
        # (ThreadedServer.start() skips this step when it has already been done).
        self._server._listen()
        self._thread.start()
        if self._saver is not None:
            self._saver.start()

    def stop(self) -> None:
        """Close the port and every client, then save the state a last time."""
        self._server.close()
        if self._thread.is_alive():
            self._thread.join(_JOIN_SECONDS)
        if self._saver is not None:
            self._saver.stop()
            self._saver.save()
            logger.info("terminal state saved to %s", self.simulation.config.state_file)

    def _state_saver(self) -> StateSaver | None:
        config = self.simulation.config
        if not config.state_file:
            return None
        return StateSaver(self.simulation, self.lock, config.save_interval)


def warn_if_exposed(host: str) -> bool:
    """Log a loud warning when ``host`` is not a loopback address. True if it warned."""
    if is_loopback(host):
        return False
    logger.warning(
        "RPyC classic port bound to %s, reachable from other machines: anyone who can "
        "connect can run ANY code on this machine as this user. Bind to 127.0.0.1 and "
        "tunnel (ssh -L) instead, or firewall the port.",
        host,
    )
    return True


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
