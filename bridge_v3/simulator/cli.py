"""The simulator's command line options, and the SimulatorConfig they describe.

Every option is checked as it is parsed, so a bad value exits 2 with a message naming
the option (argparse's own reporting), before anything is built.
"""

from __future__ import annotations

import argparse
import math
import os
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bridge_v3.simulator.factory import SimulatorConfig
from bridge_v3.simulator.faults import FaultPlan

PASSWORD_VARIABLE = "BRIDGE_SIM_PASSWORD"


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
        epilog=f"The account password initialize()/login() accept is read from "
        f"{PASSWORD_VARIABLE} (default 'sim'). With --state, a saved account wins over "
        "--balance/--leverage/--login/--netting, and the clock resumes where it stopped "
        "if that is later than --start or now.",
    )
    _add_serve_options(serve)
    shock = commands.add_parser(
        "shock",
        help="shift one symbol's prices on a running simulator server (a gap, from now on)",
        description="Shift one symbol's prices by a percentage on a running simulator "
        "server, from now on, as on a news spike: e.g. --percent -3 to force a loss.",
    )
    _add_shock_options(shock)
    return parser


def _add_shock_options(shock: argparse.ArgumentParser) -> None:
    add = shock.add_argument
    add("--host", default="127.0.0.1", help="the server's address (default 127.0.0.1)")
    add("--port", type=_port, default=18812, help="the server's TCP port (default 18812)")
    add("--symbol", required=True, help="symbol whose prices move, e.g. EURUSD")
    add(
        "--percent",
        type=_shock_percent,
        required=True,
        help="shift in percent, from -99 to 1000 (negative: prices fall)",
    )


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
    _add_account_options(serve.add_argument_group("account and market"))
    _add_fault_options(serve.add_argument_group("faults (deterministic for --fault-seed)"))
    add(
        "--log-level",
        type=str.upper,
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="log level (default INFO)",
    )


def _add_account_options(group: argparse._ArgumentGroup) -> None:
    add = group.add_argument
    add("--balance", type=_positive, default=10000.0, help="opening balance (default 10000)")
    add("--leverage", type=_at_least_one, default=100, help="account leverage (default 100)")
    add("--netting", action="store_true", help="netting account instead of hedging")
    add("--login", type=_at_least_one, default=10000001, help="account number (default 10000001)")
    add(
        "--other-login",
        type=_at_least_one,
        action="append",
        default=[],
        metavar="N",
        help="another account on the same server that login() can switch to (repeatable)",
    )
    add(
        "--not-logged-in",
        action="store_true",
        help="start with nobody logged in: account_info() is None until login()",
    )
    add("--symbols-suffix", default="", metavar="S", help="broker symbol suffix, e.g. .m")
    add(
        "--replay",
        type=_replay,
        action="append",
        default=[],
        metavar="SYMBOL=FILE",
        help="replay a price file for SYMBOL instead of generated prices (repeatable)",
    )


def _add_fault_options(group: argparse._ArgumentGroup) -> None:
    add = group.add_argument
    add("--fault-seed", type=_whole, default=0, metavar="N", help="seed of the fault draws")
    add(
        "--ipc-timeout-rate",
        type=_share,
        default=0.0,
        metavar="SHARE",
        help="share of calls failing with (-10005, 'IPC timeout'), 0..1",
    )
    add(
        "--requote-rate",
        type=_share,
        default=0.0,
        metavar="SHARE",
        help="share of market deals answered 10004 Requote, 0..1",
    )
    add(
        "--latency",
        type=_non_negative,
        default=0.0,
        metavar="SECONDS",
        help="extra time spent in every call",
    )
    add(
        "--initialize-fails",
        type=_whole,
        default=0,
        metavar="N",
        help="the first N initialize() calls fail",
    )
    add(
        "--starting-seconds",
        type=_non_negative,
        default=0.0,
        metavar="SECONDS",
        help="the terminal is still starting for that long: initialize() blocks up to its "
        "timeout meanwhile, then fails with (-10005, 'IPC timeout')",
    )
    add(
        "--initialize-blocks",
        action="store_true",
        help="initialize() waits its whole timeout before failing while the terminal is gone",
    )
    add(
        "--autotrading-off",
        action="store_true",
        help="Algo Trading switched off: order_send answers 10027",
    )
    add(
        "--missing-symbol",
        action="append",
        default=[],
        metavar="SYMBOL",
        help="a symbol this broker does not offer (repeatable)",
    )


def faults_from_args(args: argparse.Namespace) -> FaultPlan | None:
    """The FaultPlan the fault options describe; None when none is asked for."""
    plan = FaultPlan(
        seed=args.fault_seed,
        ipc_timeout_rate=args.ipc_timeout_rate,
        requote_rate=args.requote_rate,
        latency_seconds=args.latency,
        initialize_fails=args.initialize_fails,
        initialize_blocks=args.initialize_blocks,
        starting_seconds=args.starting_seconds,
        autotrading_off=args.autotrading_off,
        missing_symbols=frozenset(args.missing_symbol),
    )
    return None if plan == FaultPlan(seed=args.fault_seed) else plan


def config_from_args(args: argparse.Namespace) -> SimulatorConfig:
    """The SimulatorConfig the parsed options describe; the password comes from the
    environment (``BRIDGE_SIM_PASSWORD``, default "sim"), never from the command line,
    where every user of the machine could read it."""
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
        other_logins=tuple(args.other_login),
        logged_in=not args.not_logged_in,
        password=os.environ.get(PASSWORD_VARIABLE, "sim"),
        state_file=args.state,
        save_interval=args.save_interval,
        faults=faults_from_args(args),
    )


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


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def _positive(text: str) -> float:
    value = _number(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
    return value


def _non_negative(text: str) -> float:
    value = _number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {text!r}")
    return value


def _share(text: str) -> float:
    value = _non_negative(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"must be a share between 0 and 1, got {text!r}")
    return value


def _shock_percent(text: str) -> float:
    value = _number(text)
    if not -99 <= value <= 1000:
        raise argparse.ArgumentTypeError(f"must be from -99 to 1000, got {text!r}")
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
