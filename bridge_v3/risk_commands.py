"""``--risk-status`` and ``--risk-reset --by NAME``: read or lift the risk latch.

Both need PostgreSQL only (not the terminal), so they work while the bridge runs or not.
A reset is written in one transaction with the row lock the running bridge takes for
its checks: the state becomes ACTIVE, recorded with who lifted it; the halt's events are
acknowledged; a ``reset`` event is added. The running bridge publishes the change at its
next check and measures the day's loss from the equity at that moment.

Exit codes: 0 done (also "nothing to lift"), 1 PostgreSQL unreachable, 2 bad input (which
account is meant cannot be told, a bad ``--by``).
"""

from __future__ import annotations

import re
import sys
from datetime import datetime, timezone

from bridge_v3.config.settings import Settings
from bridge_v3.exceptions import ConfigError, StorageError
from bridge_v3.models.risk import RiskState
from bridge_v3.services import bridge_state
from bridge_v3.services.database_service import DatabaseService
from bridge_v3.services.risk_latch import lift_halt
from bridge_v3.services.risk_store import STATE_KEY

EXIT_OK, EXIT_FAILURE, EXIT_CONFIG = 0, 1, 2
_NAME = re.compile(r"[^\x00-\x1f\x7f]{1,64}")
_RESET_HINT = "python -m bridge_v3.main --risk-reset --by NAME"


def run_risk_command(settings: Settings, *, reset_by: str | None) -> int:
    """``--risk-status`` (``reset_by`` None) or ``--risk-reset --by reset_by``."""
    database = DatabaseService(settings.postgres, application_name="bridge_v3 risk command")
    try:
        if reset_by is not None:
            check_name(reset_by)
        database.start()
        account = _account(database, settings)
        if account is None:
            _say("No risk state recorded yet: the bridge has not run a risk check.")
            return EXIT_OK
        if reset_by is None:
            return _status(database, settings, account)
        return _reset(database, account, reset_by.strip())
    except ConfigError as error:
        _complain(f"Configuration error: {error}")
        return EXIT_CONFIG
    except StorageError as error:
        _complain(f"Cannot read the risk state: {error}")
        return EXIT_FAILURE
    finally:
        database.close()


def check_name(name: str) -> None:
    if not _NAME.fullmatch(name.strip()):
        raise ConfigError(
            "--by", "must name who lifts the halt: 1 to 64 printable characters", "alice"
        )


def _account(database: DatabaseService, settings: Settings) -> int | None:
    """MT5_ACCOUNT when set, else the one account that has a risk state."""
    with database.connection() as conn, conn.cursor() as cursor:
        cursor.execute("SELECT to_regclass('bridge_state') IS NOT NULL")
        if not cursor.fetchone()[0]:
            return None  # the bridge has never run against this database
        if settings.mt5.account is not None:
            return settings.mt5.account
        accounts = bridge_state.accounts_with(cursor, STATE_KEY)
    if len(accounts) > 1:
        listed = ", ".join(map(str, accounts))
        raise ConfigError(
            "MT5_ACCOUNT",
            f"must say which account: this database has several ({listed})",
            str(accounts[0]),
        )
    return accounts[0] if accounts else None


# -- status -------------------------------------------------------------------------------


def _status(database: DatabaseService, settings: Settings, account: int) -> int:
    with database.connection() as conn, conn.cursor() as cursor:
        value = bridge_state.read(cursor, account, STATE_KEY)
    if value is None:
        _say(f"No risk state recorded yet for account {account}.")
        return EXIT_OK
    _say("\n".join(status_lines(account, value, settings)))
    return EXIT_OK


def status_lines(account: int, value: dict, settings: Settings) -> list[str]:
    risk = settings.risk
    lines = [
        f"Risk state of account {account}: {value['state']} since {value.get('since')}",
        f"  why: {value.get('reason')}",
        f"  daily loss: {value.get('daily_loss_pct', 0):.2f}% (equity {value.get('equity', 0):.2f} "
        f"against {value.get('day_start_equity', 0):.2f} at the start of {value.get('day')}, "
        f"{value.get('day_start_source')})",
        f"  open positions: {value.get('open_positions')}",
        f"  limits: MAX_DAILY_LOSS_PCT {risk.max_daily_loss_pct:g}%, REDUCING from "
        f"{risk.reducing_at_pct:g}% of it ({risk.max_daily_loss_pct * risk.reducing_at_pct / 100:.2f}%), "
        f"MIN_MARGIN_LEVEL {risk.min_margin_level:g}%, MAX_SIMULTANEOUS_TRADES "
        f"{risk.max_simultaneous_trades}, MAX_FOREX_POSITIONS {_limit(risk.max_forex_positions)}, "
        f"MAX_CRYPTO_POSITIONS {_limit(risk.max_crypto_positions)}",
        f"  last check: {value.get('last_check')}",
    ]
    if value.get("reset_by"):
        lines.append(f"  last halt lifted by {value['reset_by']} at {value.get('reset_at')}")
    if value["state"] == RiskState.HALTED.value:
        lines.append(f"  lift the halt with: {_RESET_HINT}")
    return lines


def _limit(value: int | None) -> str:
    return "none" if value is None else str(value)


# -- reset --------------------------------------------------------------------------------


def _reset(database: DatabaseService, account: int, by: str) -> int:
    now = datetime.now(timezone.utc)
    with database.connection() as conn, conn.cursor() as cursor:
        lifted, state = lift_halt(cursor, account, by, now)
    if lifted is None:
        _say(f"Account {account} is not halted (risk state {state}): nothing to lift.")
        return EXIT_OK
    _say(
        f"Risk halt of account {account} lifted by {by}. The running bridge applies it at its "
        "next risk check; the day's loss then counts from the equity at that moment."
    )
    return EXIT_OK


def _say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _complain(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()
