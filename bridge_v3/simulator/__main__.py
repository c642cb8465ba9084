"""Command line: ``python -m bridge_v3.simulator serve [options]``.

Exit codes: 0 after a clean stop (SIGINT/SIGTERM), 2 for a bad option or an unusable
state or replay file (one line naming the option or file and the problem), 1 when the
port cannot be opened.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import signal
import sys
import threading
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bridge_v3.exceptions import ConfigError
from bridge_v3.simulator.factory import SimulatorConfig, create_simulation
from bridge_v3.simulator.market.errors import ReplayFileError
from bridge_v3.simulator.state import StateFileError

logger = logging.getLogger("bridge_v3.simulator")

EXIT_BAD_INPUT = 2
EXIT_CANNOT_SERVE = 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bridge_v3.simulator",
        description="Simulated MetaTrader 5 terminal (paper broker).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = commands.add_parser(
        "serve",
        help="serve the terminal over RPyC classic (client: "
        "rpyc.classic.connect(host, port).modules.MetaTrader5)",
        description="Serve one simulated terminal over RPyC classic. WARNING: an RPyC "
        "classic port runs any code it is sent; keep it on localhost.",
    )
    _add_serve_options(serve)
    return parser


def _add_serve_options(serve: argparse.ArgumentParser) -> None:
    add = serve.add_argument
    add("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    add("--port", type=_port, default=18812, help="TCP port (default 18812; 0 = any free)")
    add("--seed", type=_whole, default=0, help="price generator seed (default 0)")
    add(
        "--server-timezone",
        type=_zone,
        default="Europe/Athens",
        metavar="ZONE",
        help="broker server time zone, IANA name (default Europe/Athens)",
    )
    add("--speed", type=_positive, default=1.0, help="clock speed vs wall time (default 1)")
    add(
        "--start",
        type=_utc_time,
        default=None,
        metavar="TIME",
        help="simulated start time, ISO-8601 (UTC if no offset) or unix seconds",
    )
    add(
        "--state",
        type=_state_path,
        default=None,
        metavar="FILE",
        help="keep the account, positions and history in FILE across restarts",
    )
    add(
        "--save-interval",
        type=_positive,
        default=60.0,
        metavar="SECONDS",
        help="how often the state file is saved while running (default 60)",
    )
    add("--balance", type=_positive, default=10000.0, help="opening balance (default 10000)")
    add("--leverage", type=_at_least_one, default=100, help="account leverage (default 100)")
    add("--netting", action="store_true", help="netting account instead of hedging")
    add("--login", type=_at_least_one, default=10000001, help="account number (default 10000001)")
    add("--symbols-suffix", default="", metavar="S", help="broker symbol suffix, e.g. .m")
    add(
        "--replay",
        type=_replay,
        action="append",
        default=[],
        metavar="SYMBOL=FILE",
        help="replay a price file for SYMBOL instead of generated prices (repeatable)",
    )
    add(
        "--log-level",
        type=str.upper,
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="log level (default INFO)",
    )


def config_from_args(args: argparse.Namespace) -> SimulatorConfig:
    """The SimulatorConfig the parsed options describe; the password comes from the env."""
    return SimulatorConfig(
        seed=args.seed,
        server_timezone=args.server_timezone,
        speed=args.speed,
        start=args.start,
        symbols_suffix=args.symbols_suffix,
        replays=dict(args.replay),
        balance=args.balance,
        leverage=args.leverage,
        hedging=not args.netting,
        login=args.login,
        password=os.environ.get("BRIDGE_SIM_PASSWORD", "sim"),
        state_file=args.state,
        save_interval=args.save_interval,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        config = config_from_args(args)
    except ConfigError as error:
        parser.error(str(error))
    return _serve(config, args.host, args.port)


def _serve(config: SimulatorConfig, host: str, port: int) -> int:
    from bridge_v3.simulator.server import SimulatorServer

    try:
        simulation = create_simulation(config)
    except StateFileError as error:
        return _fail(str(error))
    except ReplayFileError as error:
        return _fail(str(error))
    try:
        server = SimulatorServer(simulation, host=host, port=port)
    except OSError as error:
        logger.error("cannot listen on %s:%s: %s", host, port, error.strerror or error)
        return EXIT_CANNOT_SERVE
    return _run_until_signalled(server, config)


def _run_until_signalled(server, config: SimulatorConfig) -> int:
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
    server.stop()
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


# --- option parsers: each raises ArgumentTypeError, which argparse reports with the option


def _whole(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {value}")
    return value


def _port(text: str) -> int:
    value = _whole(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"must be 0..65535, got {value}")
    return value


def _at_least_one(text: str) -> int:
    value = _whole(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
    return value


def _zone(text: str) -> str:
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise argparse.ArgumentTypeError(
            f"unknown IANA time zone {text!r} (example: Europe/Athens)"
        ) from None
    return text


def _utc_time(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected ISO-8601 or unix seconds, got {text!r} (example: 2026-03-02T08:00:00Z)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def _state_path(text: str) -> str:
    path = Path(text)
    if path.exists() and not path.is_file():
        raise argparse.ArgumentTypeError(f"{text} exists and is not a file")
    if not path.parent.is_dir():
        raise argparse.ArgumentTypeError(f"directory {path.parent} does not exist")
    return str(path)


def _replay(text: str) -> tuple[str, str]:
    symbol, sep, file = text.partition("=")
    if not sep or not symbol.strip() or not file.strip():
        raise argparse.ArgumentTypeError(f"expected SYMBOL=FILE, got {text!r}")
    if not Path(file).is_file():
        raise argparse.ArgumentTypeError(f"{file}: no such file")
    return symbol.strip(), file


if __name__ == "__main__":
    sys.exit(main())
