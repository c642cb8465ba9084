"""The start-up banner and the ``--check`` status table. Never shows a secret."""

from __future__ import annotations

from dataclasses import dataclass

from bridge_v3 import __version__
from bridge_v3.config.constants import TradingMode
from bridge_v3.config.settings import Settings

RULE = "=" * 64


@dataclass(frozen=True)
class CheckRow:
    part: str
    ok: bool
    detail: str


def _timeframes(timeframes) -> str:
    return ", ".join(tf.name for tf in timeframes)


def banner_lines(settings: Settings, backend: str, account: str = "") -> list[str]:
    pg, rd, market, risk, worker = (
        settings.postgres,
        settings.redis,
        settings.market,
        settings.risk,
        settings.worker,
    )
    mode = (
        f"LIVE (orders are sent for account {settings.mt5.account}, through the risk gate)"
        if risk.trading_mode is TradingMode.LIVE
        else "SAFETY (signals only, no orders are sent)"
    )
    crypto = (
        f"{', '.join(market.crypto_pairs)} ({_timeframes(market.crypto_timeframes)})"
        if market.crypto_enabled
        else "disabled"
    )
    lines = [
        RULE,
        f"  MT5 Bridge v{__version__}",
        RULE,
        "  Configuration validated",
        f"  Terminal:      {backend}",
        f"  Account:       {account or 'as logged in on the terminal'}",
        f"  PostgreSQL:    {pg.user}@{pg.host}:{pg.port}/{pg.db} (pool {pg.pool_min}-{pg.pool_max})",
        f"  Redis:         {rd.host}:{rd.port} db {rd.db}, prefix '{rd.prefix}'",
        f"  Trading mode:  {mode}",
        f"  Workers:       {worker.max_workers} (task timeout {worker.worker_timeout:g}s)",
        f"  Forex pairs:   {', '.join(market.forex_pairs)} ({_timeframes(market.forex_timeframes)})",
        f"  Crypto pairs:  {crypto}",
        f"  Strategies:    {', '.join(settings.trading.strategies) or 'none'}",
        f"  Log file:      {settings.logging.file}",
        f"  Operations:    {_operations(settings)}",
        RULE,
    ]
    return lines


def _operations(settings: Settings) -> str:
    ops = settings.operations
    endpoint = (
        f"endpoint http://{ops.metrics_host}:{ops.metrics_port}"
        if ops.metrics_port
        else "no endpoint"
    )
    control = "remote control on" if ops.control_secret else "remote control off"
    targets = len([u for u in ops.notify_urls.reveal().split(",") if u.strip()])
    return f"{endpoint}, {control}, notifications to {targets} endpoint(s)"


def check_table(rows: list[CheckRow]) -> str:
    width = max(len(row.part) for row in rows)
    lines = [f"{'PART'.ljust(width)}  STATE  DETAIL"]
    for row in rows:
        lines.append(f"{row.part.ljust(width)}  {'OK   ' if row.ok else 'FAIL '}  {row.detail}")
    return "\n".join(lines)
