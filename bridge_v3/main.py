"""``python -m bridge_v3.main``: run the bridge, check it, run it once, or load history.

Exit codes: 0 ok, 1 runtime failure, 2 configuration error.
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading
from functools import partial
from pathlib import Path

from bridge_v3.banner import banner_lines
from bridge_v3.checks import run_check
from bridge_v3.config.loader import load_settings, unknown_names
from bridge_v3.config.parsers import InvalidValue, parse_float, parse_symbols, parse_timeframes
from bridge_v3.config.settings import Settings
from bridge_v3.daemon import Bridge
from bridge_v3.exceptions import ConfigError, FatalError, TemporaryError
from bridge_v3.services.logger_service import setup_logging, shutdown_logging
from bridge_v3.services.retry import RetryAborted
from bridge_v3.signals import install_stop_handlers
from bridge_v3.stop_file import StopFileWatcher, request_stop, stop_file_for

logger = logging.getLogger("bridge_v3")

EXIT_OK, EXIT_FAILURE, EXIT_CONFIG = 0, 1, 2
DEFAULT_ENV_FILE = ".env"
ONE_SHOT_ATTEMPTS = 5  # --once and --backfill give up after this many start-up attempts
MAX_BACKFILL_DAYS = 100_000  # history before 1970 does not exist: the start is clamped there


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bridge_v3.main", description=__doc__)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--check",
        action="store_true",
        help="validate settings, reach the terminal, PostgreSQL and Redis, print a table",
    )
    mode.add_argument("--once", action="store_true", help="run every job once, then exit")
    mode.add_argument(
        "--backfill",
        type=_argument(partial(parse_float, low=0.0, high=MAX_BACKFILL_DAYS, low_open=True)),
        metavar="DAYS",
        help=f"load DAYS of history (above 0, at most {MAX_BACKFILL_DAYS}), then exit",
    )
    parser.add_argument(
        "--symbols",
        type=_argument(parse_symbols),
        help="with --backfill: comma list, exactly as the broker names them (default: all configured)",
    )
    parser.add_argument(
        "--timeframes",
        type=_argument(parse_timeframes),
        help="with --backfill: comma list such as M1,H1 (default: each symbol's configured ones)",
    )
    mode.add_argument(
        "--stop",
        action="store_true",
        help="ask the bridge running with these settings to stop in order, and wait for it",
    )
    parser.add_argument(
        "--wait", type=float, default=60.0, metavar="SECONDS", help="with --stop (default: 60)"
    )
    mode.add_argument("--risk-status", action="store_true", help="print the risk state, then exit")
    mode.add_argument("--risk-reset", action="store_true", help="lift a risk HALT (with --by)")
    parser.add_argument("--by", metavar="NAME", help="with --risk-reset: who lifts the halt")
    parser.add_argument(
        "--env-file", default=DEFAULT_ENV_FILE, help="settings file (default: .env)"
    )
    args = parser.parse_args(argv)
    if args.backfill is None and (args.symbols or args.timeframes):
        parser.error("--symbols and --timeframes only go with --backfill")
    if args.risk_reset != (args.by is not None):
        parser.error("--risk-reset and --by NAME go together (NAME: who lifts the halt)")
    return args


def _argument(parse):
    """An argparse type from a settings parser: a bad value exits 2 naming the argument."""

    def convert(raw: str):
        try:
            return parse(raw.strip())
        except InvalidValue as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return convert


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        settings = _load(args.env_file)
        setup_logging(settings.logging, settings.secrets())
    except ConfigError as error:
        _print_error(f"Configuration error: {error}")
        return EXIT_CONFIG
    unknown = unknown_names(env_file=args.env_file)
    for warning in unknown:
        logger.warning(warning)
    try:
        return _run(args, settings, unknown)
    finally:
        shutdown_logging()


def _load(env_file: str) -> Settings:
    """Settings from the environment and ``env_file``; a file named explicitly must exist."""
    if env_file != DEFAULT_ENV_FILE and not Path(env_file).is_file():
        raise ConfigError("--env-file", f"no such file: {env_file}", ".env")
    return load_settings(env_file=env_file)


def _print_error(text: str) -> None:
    """To stderr, never failing on a console that cannot encode a character."""
    stream = sys.stderr
    encoding = getattr(stream, "encoding", None) or "utf-8"
    stream.write(text.encode(encoding, "backslashreplace").decode(encoding) + "\n")
    stream.flush()


def _run(args: argparse.Namespace, settings: Settings, unknown: list[str]) -> int:
    if args.check:
        return run_check(settings, unknown=unknown)
    if args.stop:
        return _request_stop(settings, args.wait)
    if args.risk_status or args.risk_reset:
        from bridge_v3.risk_commands import run_risk_command

        return run_risk_command(settings, reset_by=args.by)
    stop = threading.Event()
    install_stop_handlers(stop)
    watcher = StopFileWatcher(stop_file_for(settings.spool_path), stop)
    watcher.start()
    try:
        return _run_bridge(args, settings, stop)
    finally:
        watcher.stop()
        watcher.acknowledge()


def _request_stop(settings: Settings, wait: float) -> int:
    path = stop_file_for(settings.spool_path)
    if request_stop(path, wait):
        print(f"The bridge has stopped ({path} answered)")
        return EXIT_OK
    _print_error(f"No bridge stopped within {wait:g} s (none running with this SPOOL_PATH? {path})")
    return EXIT_FAILURE


def _run_bridge(args: argparse.Namespace, settings: Settings, stop: threading.Event) -> int:
    try:
        one_shot = args.once or args.backfill is not None
        bridge = Bridge(
            settings,
            stop,
            connect_attempts=ONE_SHOT_ATTEMPTS if one_shot else None,
            settings_source=lambda: _load(args.env_file),
        )
    except ConfigError as error:
        logger.error("Configuration error: %s", error)
        return EXIT_CONFIG
    for line in banner_lines(settings, bridge.backend.description, str(settings.mt5.account or "")):
        logger.info(line)
    try:
        if not one_shot:
            bridge.operations.open_endpoint()
        return _serve(args, bridge)
    except ConfigError as error:  # the endpoint's port
        logger.error("Configuration error: %s", error)
        return EXIT_CONFIG
    finally:
        bridge.shutdown()


def _serve(args: argparse.Namespace, bridge: Bridge) -> int:
    try:
        bridge.connect(args.symbols or ())
        if args.backfill is not None:
            from bridge_v3.backfill import run_backfill

            return run_backfill(bridge, args.backfill, args.symbols, args.timeframes)
        if args.once:
            bridge.run_once()
        else:
            bridge.run()
    except RetryAborted:
        logger.info("Stopped before start-up completed")
    except ConfigError as error:  # before FatalError: a ConfigError is one
        logger.error("Configuration error: %s", error)
        return EXIT_CONFIG
    except FatalError as error:
        logger.error("Cannot continue: %s", error)
        return EXIT_FAILURE
    except TemporaryError as error:
        logger.error("Giving up after %d attempts: %s", ONE_SHOT_ATTEMPTS, error)
        return EXIT_FAILURE
    except Exception:
        logger.exception("Unexpected failure; the bridge stops")
        return EXIT_FAILURE
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
