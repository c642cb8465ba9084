"""``--check``: reach every part once, print a status table, exit 0 if all answer, else 1."""

from __future__ import annotations

from collections.abc import Callable

from bridge_v3.banner import CheckRow, check_table
from bridge_v3.config.settings import Settings
from bridge_v3.exceptions import BridgeError
from bridge_v3.services.database_service import DatabaseService
from bridge_v3.services.mt5.backends import choose_backend
from bridge_v3.services.mt5.mt5_service import MT5Service
from bridge_v3.services.redis_service import RedisService
from bridge_v3.services.server_time import ServerTime


def _guard(part: str, probe: Callable[[], str]) -> CheckRow:
    try:
        return CheckRow(part, True, probe())
    except (BridgeError, OSError) as error:
        return CheckRow(part, False, str(error))


def check_postgres(settings: Settings) -> str:
    pg = settings.postgres
    database = DatabaseService(pg)
    database.start()
    try:
        pending = database.pending_migrations()
    finally:
        database.close()
    state = f"{len(pending)} migration(s) to apply at start" if pending else "schema up to date"
    return f"{pg.host}:{pg.port}/{pg.db}: {state}"


def check_redis(settings: Settings) -> str:
    rd = settings.redis
    redis = RedisService(rd, source="check")
    redis.start()
    redis.close()
    return f"{rd.host}:{rd.port} db {rd.db}: answers"


def check_terminal(settings: Settings) -> str:
    backend = choose_backend(settings.mt5, settings.simulator)
    mt5 = MT5Service(
        backend.open_client,
        settings.mt5,
        ServerTime(settings.mt5.server_timezone),
        clock=backend.clock,
    )
    try:
        account = mt5.connect(settings.market.forex_pairs)
        terminal = mt5.terminal_info()
    finally:
        mt5.shutdown()
        backend.close()
    trading = "AutoTrading on" if terminal.get("trade_allowed") else "AutoTrading OFF"
    return f"{backend.description}: account {account.get('login')} on {account.get('server')}, {trading}"


def run_check(settings: Settings, *, out: Callable[[str], None] = print) -> int:
    rows = [
        CheckRow("settings", True, "valid"),
        _guard("postgresql", lambda: check_postgres(settings)),
        _guard("redis", lambda: check_redis(settings)),
        _guard("mt5 terminal", lambda: check_terminal(settings)),
    ]
    out(check_table(rows))
    return 0 if all(row.ok for row in rows) else 1
