"""``python -m bridge_v3.dashboard [--host H] [--port P] [--env-file .env]``.

Serves the live dashboard at ``http://DASHBOARD_HOST:DASHBOARD_PORT/`` (default
127.0.0.1:8050) until SIGINT or SIGTERM, with the bridge's own settings (POSTGRES_*,
REDIS_*, HEARTBEAT_INTERVAL, DASHBOARD_*). Exit codes: 0 stopped, 2 a bad argument or
setting, or the port cannot be opened.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import sys
import threading
from dataclasses import replace
from pathlib import Path

from bridge_v3.config.loader import load_settings
from bridge_v3.config.parsers import InvalidValue, parse_host
from bridge_v3.config.settings import Settings
from bridge_v3.dashboard.app import Dashboard
from bridge_v3.dashboard.server import DashboardServer
from bridge_v3.exceptions import ConfigError
from bridge_v3.services.logger_service import setup_logging, shutdown_logging
from bridge_v3.signals import install_stop_handlers

logger = logging.getLogger("bridge_v3.dashboard")

EXIT_OK, EXIT_USAGE = 0, 2
DEFAULT_ENV_FILE = ".env"
LOG_NAME = "dashboard.log"  # beside LOG_FILE: the bridge's own file is the bridge's alone
WAIT_SLICE = 0.5


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bridge_v3.dashboard", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--host", help="address to listen on (default: DASHBOARD_HOST)")
    parser.add_argument("--port", type=_port, help="TCP port (default: DASHBOARD_PORT, 8050)")
    parser.add_argument(
        "--env-file", default=DEFAULT_ENV_FILE, help="settings file (default: .env)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        settings = _settings(args)
        log_settings = replace(
            settings.logging, file=str(Path(settings.logging.file).with_name(LOG_NAME))
        )
        setup_logging(log_settings, settings.secrets())
    except ConfigError as error:
        sys.stderr.write(f"Configuration error: {error}\n")
        return EXIT_USAGE
    try:
        return serve(settings)
    finally:
        shutdown_logging()


def serve(settings: Settings, stop: threading.Event | None = None) -> int:
    """Run the dashboard until ``stop`` is set (by default: a stop signal)."""
    dashboard = Dashboard(settings)
    server = _listen(settings, dashboard)
    if server is None:
        return EXIT_USAGE
    if stop is None:
        stop = threading.Event()
        install_stop_handlers(stop)
    dashboard.start()
    thread = threading.Thread(target=server.serve_forever, name="dashboard-http", daemon=True)
    thread.start()
    logger.info(
        "Dashboard at http://%s:%d/ (PostgreSQL %s, Redis prefix %r)",
        _shown_host(settings.dashboard.host),
        server.port,
        dashboard.db.address,
        settings.redis.prefix,
    )
    while not stop.wait(WAIT_SLICE):
        pass
    logger.info("Dashboard stopping")
    server.stopping.set()
    dashboard.hub.close()
    server.shutdown()
    server.server_close()
    dashboard.stop()
    return EXIT_OK


def _listen(settings: Settings, dashboard: Dashboard) -> DashboardServer | None:
    web = settings.dashboard
    try:
        server = DashboardServer(
            (web.host, web.port), dashboard, user=web.user, password=web.password.reveal()
        )
    except OSError as error:
        logger.error(
            "Dashboard cannot listen on %s:%d (%s): another program may hold the port; "
            "set DASHBOARD_PORT or --port",
            web.host,
            web.port,
            error.strerror or error,
        )
        return None
    if not _is_loopback(web.host):
        logger.warning(
            "Dashboard listens on %s, beyond this machine: anyone who reaches the port sees the "
            "account%s. Prefer 127.0.0.1 behind an SSH tunnel or a reverse proxy with TLS",
            web.host,
            "" if web.password else " (no DASHBOARD_PASSWORD set)",
        )
    return server


def _settings(args: argparse.Namespace) -> Settings:
    if args.env_file != DEFAULT_ENV_FILE and not Path(args.env_file).is_file():
        raise ConfigError("--env-file", f"no such file: {args.env_file}", ".env")
    settings = load_settings(env_file=args.env_file)
    web = settings.dashboard
    overrides = {"host": _host(args.host) if args.host else web.host, "port": args.port or web.port}
    return replace(settings, dashboard=replace(web, **overrides))


def _host(text: str) -> str:
    try:
        return parse_host(text.strip())
    except InvalidValue as error:
        raise ConfigError("--host", str(error), "127.0.0.1") from None


def _port(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port from 1 to 65535, got {text!r}")
    return int(text)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _shown_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
