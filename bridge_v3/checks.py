"""``--check``: reach every part once, print a status table, exit 0 if all answer, else 1.

It only looks: no migration is applied, no outbox file is created or moved.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from bridge_v3.banner import CheckRow, check_table
from bridge_v3.config.settings import Settings
from bridge_v3.exceptions import BridgeError
from bridge_v3.services.database_service import DatabaseService
from bridge_v3.services.migrations import MIGRATIONS_DIR
from bridge_v3.services.migrations.runner import load_migrations
from bridge_v3.services.mt5.backends import TerminalBackend, choose_backend
from bridge_v3.services.mt5.mt5_service import MT5Service
from bridge_v3.services.outbox import inspect_outbox
from bridge_v3.services.redis_service import RedisService
from bridge_v3.services.server_time import ServerTime


def _guard(part: str, probe: Callable[[], str]) -> CheckRow:
    try:
        return CheckRow(part, True, probe())
    except (BridgeError, OSError) as error:
        return CheckRow(part, False, str(error))
    except Exception as error:  # a diagnostic must report every part, whatever one raises
        return CheckRow(part, False, f"unexpected {type(error).__name__}: {error}")


def pending_migrations(database: DatabaseService) -> list[str]:
    """Names of the migrations start-up would apply. Read-only: ``--check`` changes nothing."""
    (exists,) = database.fetch_all("SELECT to_regclass('schema_migrations') IS NOT NULL")[0]
    applied = (
        {version for (version,) in database.fetch_all("SELECT version FROM schema_migrations")}
        if exists
        else set()
    )
    return [m.name for m in load_migrations(MIGRATIONS_DIR) if m.version not in applied]


def check_postgres(settings: Settings) -> str:
    pg = settings.postgres
    database = DatabaseService(pg)
    database.start()
    try:
        pending = pending_migrations(database)
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
    try:
        return _probe_terminal(settings, backend)
    except (BridgeError, OSError) as error:
        # Say which terminal did not answer: the error alone does not name host and port.
        raise BridgeError(f"{backend.description}: {error}") from error


def _probe_terminal(settings: Settings, backend: TerminalBackend) -> str:
    mt5 = MT5Service(
        backend.open_client,
        settings.mt5,
        ServerTime(settings.mt5.server_timezone),
        clock=backend.clock,
    )
    try:
        account = mt5.connect(settings.market.forex_pairs)
        terminal = mt5.terminal_info()
        clock = mt5.clock_watch.status()
    finally:
        mt5.shutdown()
        backend.close()
    trading = "AutoTrading on" if terminal.get("trade_allowed") else "AutoTrading OFF"
    about = f"account {account.get('login')} on {account.get('server')}, {trading}"
    if not clock["trusted"]:
        raise BridgeError(f"{backend.description}: {about}; broker clock: {describe_clock(clock)}")
    return f"{backend.description}: {about}; broker clock {describe_clock(clock)}"


def describe_clock(status: dict) -> str:
    """The broker clock in one phrase: zone, how it was found and how sure, any problem."""
    if status["configured"].lower() != "auto":
        text = f"{status['zone']} (set by MT5_SERVER_TIMEZONE)"
    else:
        text = f"detected {status['detected']}" if status["detected"] else "not detected yet"
    if status["problem"]:
        text += f"; NOT TRUSTED: {status['problem']}"
    return text


def check_spool(settings: Settings) -> str:
    return inspect_outbox(settings.spool_path)


def run_check(
    settings: Settings, *, unknown: Sequence[str] = (), out: Callable[[str], None] = print
) -> int:
    valid = f"valid; unknown names ignored: {'; '.join(unknown)}" if unknown else "valid"
    rows = [
        CheckRow("settings", True, valid),
        _guard("postgresql", lambda: check_postgres(settings)),
        _guard("redis", lambda: check_redis(settings)),
        _guard("mt5 terminal", lambda: check_terminal(settings)),
        _guard("outbox", lambda: check_spool(settings)),
    ]
    out(check_table(rows))
    return 0 if all(row.ok for row in rows) else 1
