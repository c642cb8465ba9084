"""Attaching to a terminal: initialize, log in when needed, select the symbols.

A real terminal may be up with nobody logged in (``account_info()`` is None), logged in to
another account, or still starting; ``initialize`` blocks the whole process (it never
releases the GIL) for as long as its timeout, so only the very first attempt may wait long.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from bridge_v3.config.settings import MT5Settings
from bridge_v3.exceptions import BridgeError, FatalError, TemporaryError, TerminalDisconnectedError

logger = logging.getLogger(__name__)

REATTACH_TIMEOUT_MS = 5_000  # later attempts: short, so heartbeat and signals do not freeze

Call = Callable[..., Any]  # raises the bridge's exceptions on failure
Peek = Callable[..., Any]  # returns the raw result (None on failure), never raises


def initialize_arguments(settings: MT5Settings, *, first: bool) -> dict[str, Any]:
    """``initialize`` keywords: the configured timeout only for the first attempt."""
    timeout = settings.timeout_ms if first else min(settings.timeout_ms, REATTACH_TIMEOUT_MS)
    kwargs: dict[str, Any] = {"timeout": timeout}
    if settings.path:
        kwargs["path"] = settings.path
    return kwargs


def log_in(call: Call, peek: Peek, settings: MT5Settings) -> dict:
    """The account the terminal is on, logging in to MT5_ACCOUNT first if it is not.

    TemporaryError when nobody is logged in and no account is configured (a person may
    log in on the terminal); FatalError when the terminal ends up on another account.
    """
    current = peek("account_info")
    wanted = settings.account
    if wanted is None:
        if not current:
            raise TemporaryError(
                "MT5 terminal has no account logged in and MT5_ACCOUNT is not set: log in "
                "on the terminal, or set MT5_ACCOUNT, MT5_PASSWORD and MT5_SERVER"
            )
        return current
    if current and current.get("login") == wanted:
        return current  # already logged in: logging in again would drop the session
    call("login", wanted, **_login_keywords(settings))
    account = call("account_info")
    if account.get("login") != wanted:
        raise FatalError(f"MT5 terminal is logged in to {account.get('login')}, not {wanted}")
    logger.info("Logged in to account %s on the terminal", wanted)
    return account


def _login_keywords(settings: MT5Settings) -> dict[str, Any]:
    """Only what is set: an empty password lets the terminal use the one it saved."""
    kwargs: dict[str, Any] = {"timeout": settings.timeout_ms}
    if settings.password:
        kwargs["password"] = settings.password.reveal()
    if settings.server:
        kwargs["server"] = settings.server
    return kwargs


def select_symbols(call: Call, symbols: Iterable[str]) -> list[str]:
    """Put ``symbols`` in Market Watch; return those that could not be (they are retried
    when a call about them fails)."""
    missing = []
    for symbol in symbols:
        try:
            call("symbol_select", symbol, True)
        except TerminalDisconnectedError:
            raise
        except BridgeError as error:
            missing.append(symbol)
            logger.warning(
                "Symbol %s could not be put in Market Watch (%s): its requests fail until it can",
                symbol,
                error,
            )
    return missing
