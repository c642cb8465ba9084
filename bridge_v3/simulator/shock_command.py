"""``python -m bridge_v3.simulator shock``: move a running simulator server's market.

Connects as any RPyC classic client does and calls the server's control module
(:mod:`bridge_v3.simulator.served_control`); the served ``MetaTrader5`` is not touched.
"""

from __future__ import annotations

import logging
import sys
from datetime import datetime, timezone

from bridge_v3.simulator.served_control import MODULE_NAME

logger = logging.getLogger("bridge_v3.simulator")

EXIT_OK, EXIT_UNREACHABLE, EXIT_REFUSED = 0, 1, 2


def send_shock(host: str, port: int, symbol: str, percent: float) -> int:
    """Shift ``symbol`` by ``percent`` on the server at host:port; print what was done."""
    import rpyc

    try:
        connection = rpyc.classic.connect(host, port)
    except OSError as error:
        logger.error("cannot reach the simulator at %s:%s: %s", host, port, error)
        return EXIT_UNREACHABLE
    try:
        start, factor = connection.modules[MODULE_NAME].shock(symbol, percent)
        start, factor = int(start), float(factor)
    except Exception as error:  # the command's edge: the server's refusal, shown in one line
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        logger.error("the simulator refused the shock of %s: %s", symbol, reason)
        return EXIT_REFUSED
    finally:
        connection.close()
    sys.stdout.write(
        f"{symbol}: prices shifted by {percent:+g}% (factor {factor:g}) from server "
        f"time {_server_time(start)} on\n"
    )
    return EXIT_OK


def _server_time(msc: int) -> str:
    """A server millisecond as the broker's wall clock reads it."""
    moment = datetime.fromtimestamp(msc / 1000, tz=timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{msc % 1000:03d}"
