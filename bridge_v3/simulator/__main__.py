"""Command line: ``python -m bridge_v3.simulator serve [options]`` and
``python -m bridge_v3.simulator shock --symbol S --percent P [--host H --port N]``.

Exit codes: 0 after a clean stop (SIGINT/SIGTERM) or a shock applied, 2 for a bad option,
an unusable state or replay file, or a shock the server refuses (one line naming the
option or file and the problem), 1 when the port cannot be opened or the server reached.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

from bridge_v3.exceptions import ConfigError
from bridge_v3.simulator.cli import build_parser, config_from_args
from bridge_v3.simulator.factory import SimulatorConfig, create_simulation
from bridge_v3.simulator.market.errors import ReplayFileError
from bridge_v3.simulator.state import StateFileError

if TYPE_CHECKING:
    from bridge_v3.simulator.server import SimulatorServer

logger = logging.getLogger("bridge_v3.simulator")

EXIT_BAD_INPUT = 2
EXIT_CANNOT_SERVE = 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=getattr(args, "log_level", "INFO"),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.command == "shock":
        from bridge_v3.simulator.shock_command import send_shock

        return send_shock(args.host, args.port, args.symbol, args.percent)
    try:
        config = config_from_args(args)
    except ConfigError as error:
        parser.error(str(error))
    return _serve(config, args.host, args.port)


def _serve(config: SimulatorConfig, host: str, port: int) -> int:
    from bridge_v3.simulator.server import SimulatorServer

    try:
        simulation = create_simulation(config)
    except (StateFileError, ReplayFileError) as error:
        return _fail(str(error))
    try:
        server = SimulatorServer(simulation, host=host, port=port)
    except OSError as error:
        logger.error("cannot listen on %s:%s: %s", host, port, error.strerror or error)
        return EXIT_CANNOT_SERVE
    return _run_until_signalled(server, config)


def _run_until_signalled(server: SimulatorServer, config: SimulatorConfig) -> int:
    stop = threading.Event()
    _install_signal_handlers(stop)
    server.start()
    bound_host, bound_port = server.address
    logger.info(
        "simulated MetaTrader5 terminal serving on %s:%d (seed %d, server time zone %s, "
        "speed %g, login %d, state %s); stop with SIGINT or SIGTERM",
        bound_host,
        bound_port,
        config.seed,
        config.server_timezone,
        config.speed,
        server.simulation.broker.config.login,
        config.state_file or "not kept",
    )
    while not stop.wait(1.0):
        pass
    logger.info("stopping: closing the port and client connections")
    try:
        server.stop()
    except OSError as error:
        logger.error("could not save the terminal state on the way out: %s", error)
        return EXIT_CANNOT_SERVE
    logger.info("simulator stopped")
    return 0


def _install_signal_handlers(stop: threading.Event) -> None:
    def handle(signum: int, _frame: object) -> None:
        if stop.is_set():
            logger.warning("second %s: exiting now without saving", signal.Signals(signum).name)
            os._exit(128 + signum)
        logger.info("%s received", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)


def _fail(message: str) -> int:
    logger.error("%s; not starting", message)
    return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
