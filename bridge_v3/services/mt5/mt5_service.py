"""The one door to the MT5 terminal.

Every terminal call goes through ``MT5Service``: one lock (the ``MetaTrader5`` package is
process-global and never releases the GIL), trading calls served before history pulls,
``last_error()`` translated into our exceptions, reconnection with capped jittered backoff,
and broker server time converted to UTC on the way out (the clock kept right by a
``ClockWatch``).

A passing IPC fault costs the call a short retry, not the connection: the terminal is
dropped only when it stops answering ``terminal_info()`` or a call fails that way several
times in a row. A symbol that left Market Watch is selected again once and the call retried.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from bridge_v3.config.constants import Priority
from bridge_v3.config.settings import MT5Settings
from bridge_v3.exceptions import (
    BridgeError,
    FatalError,
    SymbolNotFoundError,
    TemporaryError,
    TerminalDisconnectedError,
    TerminalError,
    TerminalOutcomeUnknownError,
)
from bridge_v3.services.dependency import Dependency
from bridge_v3.services.mt5 import session
from bridge_v3.services.mt5.call_stats import CallStats
from bridge_v3.services.mt5.clients import TerminalClient
from bridge_v3.services.mt5.clock_watch import ClockWatch
from bridge_v3.services.mt5.contract.dtypes import RATES_DTYPE, TICKS_DTYPE
from bridge_v3.services.mt5.errors import translate
from bridge_v3.services.mt5.priority_lock import PriorityLock
from bridge_v3.services.mt5.time_fields import to_utc_fields
from bridge_v3.services.retry import Backoff
from bridge_v3.services.server_time import ServerTime

logger = logging.getLogger(__name__)

NO_DATA_CODE = -3  # copy_* with nothing in the range: (-3, 'No memory') and None
IPC_TIMEOUT_CODE = -10005
CALL_RETRIES = 2  # further attempts of a call after a passing IPC fault
RETRY_PAUSE = 0.05  # seconds, times the attempt number
TIMEOUTS_BEFORE_PROBE = 3  # consecutive IPC timeouts before terminal_info() is asked
SHUTDOWN_WAIT = 10.0  # seconds shutdown() waits for a call in progress
# Calls that change nothing (or nothing twice): the only ones repeated after an IPC fault.
# An order_send or login that timed out may have happened: it is never sent again here.
REPEATABLE = frozenset(
    {
        "copy_rates_from", "copy_rates_from_pos", "copy_rates_range", "copy_ticks_from",
        "copy_ticks_range", "symbols_total", "symbols_get", "symbol_info", "symbol_info_tick",
        "symbol_select", "account_info", "terminal_info", "version", "positions_total",
        "positions_get", "orders_total", "orders_get", "history_orders_total",
        "history_orders_get", "history_deals_total", "history_deals_get", "order_calc_margin",
        "order_calc_profit", "order_check", "market_book_get",
    }
)  # fmt: skip

ClientFactory = Callable[[], TerminalClient]


class MT5Service:
    """Serialised, reconnecting access to one terminal, with times in UTC."""

    def __init__(
        self,
        open_client: ClientFactory,
        settings: MT5Settings,
        server_time: ServerTime,
        *,
        clock: Callable[[], float] = time.time,
        backoff: Backoff | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        dependency: Dependency | None = None,
    ) -> None:
        self._open_client = open_client
        self.dependency = dependency or Dependency(
            "MT5 terminal",
            "the configured backend",
            meanwhile="reconnecting with backoff; every series resumes from its watermark",
            clock=clock,
        )
        self._settings = settings
        self.server_time = server_time
        self.clock_watch = ClockWatch(server_time, clock=clock, monotonic=monotonic)
        self._clock = clock
        self._monotonic = monotonic
        self._sleep = sleep
        self._backoff = backoff or Backoff(base=1.0, cap=60.0)
        self._lock = PriorityLock()
        self._client: TerminalClient | None = None
        self._failures = 0
        self._timeouts_in_a_row = 0
        self._next_attempt = 0.0
        self._symbols: tuple[str, ...] = ()
        self._unselectable: set[str] = set()
        self._reconnect_listeners: list[Callable[[], None]] = []
        self._attached_before = False
        self._closed = False
        self.stats = CallStats()
        self.reconnects = 0
        self.backend_name = ""

    # -- connection -------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._client is not None

    def on_reconnect(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` (outside the terminal lock) after every successful reconnection."""
        self._reconnect_listeners.append(listener)

    def connect(self, symbols: Iterable[str] = ()) -> dict:
        """Attach to the terminal, log in if an account is configured, select ``symbols``,
        read and check the broker clock.

        Returns the account info. Raises TemporaryError (retry later) or FatalError
        (credentials, versions: a person must act).
        """
        self._symbols = tuple(symbols)
        with self._lock.hold(Priority.CRITICAL):
            self._closed = False
            account = self._attach()
        return account

    def ensure_connected(self) -> None:
        """Reconnect if the terminal was lost and the backoff allows another attempt now."""
        if self._closed:
            raise TerminalDisconnectedError("MT5 service shut down: no further calls")
        if self._client is not None:
            return
        if self._monotonic() < self._next_attempt:
            wait = self._next_attempt - self._monotonic()
            raise TerminalDisconnectedError(
                f"MT5 terminal not connected; next attempt in {wait:.0f}s"
            )
        with self._lock.hold(Priority.CRITICAL):
            if self._closed:
                raise TerminalDisconnectedError("MT5 service shut down: no further calls")
            if self._client is not None:
                return  # another thread reconnected while this one waited for the lock
            again = self._attached_before
            try:
                self._attach()
            except FatalError as error:
                if not again:
                    raise
                # Told once by the dependency (a stale saved password, another account):
                # the bridge keeps retrying on its backoff and keeps its other work going.
                raise TerminalDisconnectedError(f"MT5 terminal refused: {error}") from error
            if not again:
                return  # a first connection made on demand: nothing was missed
            self.reconnects += 1
        self.dependency.succeeded("reconnected; the gap is filled from the watermarks")
        for listener in self._reconnect_listeners:
            listener()

    def shutdown(self, wait: float = SHUTDOWN_WAIT) -> None:
        """``mt5.shutdown()`` and close the client. Safe to call twice. Later calls are refused
        (a task abandoned at shutdown must not initialize the terminal again). Waits at most
        ``wait`` seconds for a call in progress, then leaves without ``mt5.shutdown()``."""
        self._closed = True
        try:
            with self._lock.hold(Priority.CRITICAL, timeout=wait):
                self._close_client()
        except TimeoutError:
            logger.warning(
                "A terminal call was still running after %g s: leaving without mt5.shutdown()",
                wait,
            )

    def _close_client(self) -> None:
        self._closed = True
        client, self._client = self._client, None
        if client is None:
            return
        try:
            client.call("shutdown")
        except Exception:  # the terminal may already be gone; we are leaving anyway
            logger.debug("mt5.shutdown() failed", exc_info=True)
        client.close()
        logger.info("MT5 terminal connection closed")

    def _attach(self) -> dict:
        try:
            client = self._open_client()
        except (OSError, EOFError) as error:
            self._schedule_retry(error)
            raise TerminalDisconnectedError(f"MT5 terminal unreachable: {error}") from error
        self.backend_name = client.name
        try:
            account = self._set_up(client)
        except TemporaryError as error:
            client.close()
            self._schedule_retry(error)
            raise
        except BridgeError as error:
            client.close()
            self._schedule_retry(error)  # a refused login must not be retried at every call
            raise
        self._client = client
        self._failures = 0
        self._attached_before = True
        return account

    def _set_up(self, client: TerminalClient) -> dict:
        """initialize, log in, select symbols, check the clock: all on ``client``."""
        first = not self._attached_before
        self._raw(client, "initialize", **session.initialize_arguments(self._settings, first=first))
        call = functools.partial(self._locked_call, client)
        account = session.log_in(call, functools.partial(self._peek, client), self._settings)
        self._unselectable = set(session.select_symbols(call, self._symbols))
        self._timeouts_in_a_row = 0
        self.clock_watch.check(call, self._symbols, redetect=True)
        return account

    def _schedule_retry(self, error: Exception) -> None:
        """A failed attempt: counted (the loss was told once), next attempt after backoff.
        Failures of the very first connection are the start-up retry's to tell."""
        if self._attached_before:
            self.dependency.failed(error)
        self._failures += 1
        self._next_attempt = self._monotonic() + self._backoff.delay(self._failures - 1)

    def _drop_connection(self, error: Exception) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()
            self._schedule_retry(error)

    # -- calls --------------------------------------------------------------------------

    def _raw(self, client: TerminalClient, function: str, *args: Any, **kwargs: Any) -> Any:
        """One call on ``client`` (lock already held); failures become our exceptions."""
        result, (code, message) = self._timed(client, function, args, kwargs)
        if result is None or result is False:
            subject = args[0] if args and isinstance(args[0], str) else kwargs.get("symbol", "")
            raise translate(function, code, message, subject)
        return result

    def _peek(self, client: TerminalClient, function: str, *args: Any, **kwargs: Any) -> Any:
        """The raw result (None or False on failure) of a call whose failure is an answer."""
        return self._timed(client, function, args, kwargs)[0]

    def _timed(self, client: TerminalClient, function: str, args: tuple, kwargs: dict) -> tuple:
        started = time.perf_counter()
        try:
            return client.call(function, *args, **kwargs)
        except (OSError, EOFError) as error:
            raise TerminalDisconnectedError(f"MT5 {function}: connection lost: {error}") from error
        finally:
            self.stats.add(function, time.perf_counter() - started)

    def _locked_call(self, client: TerminalClient, function: str, *args: Any, **kwargs: Any) -> Any:
        """One call, lock held: a repeatable one retried after a passing IPC fault, its symbol
        selected again if it left Market Watch. TerminalDisconnectedError only when the
        terminal is gone; TerminalOutcomeUnknownError when a call that must not be repeated
        (``order_send``, ``login``) failed that way with the terminal still there."""
        attempts = 1 + CALL_RETRIES if function in REPEATABLE else 1
        for attempt in range(attempts):
            try:
                result = self._reselecting(client, function, args, kwargs)
            except TerminalDisconnectedError as error:
                if not self._answers(client, error):
                    raise
                last = error
                if attempt + 1 < attempts:
                    self._sleep(RETRY_PAUSE * (attempt + 1))
                continue
            self._timeouts_in_a_row = 0
            return result
        if function not in REPEATABLE:
            raise TerminalOutcomeUnknownError(
                f"{last}: it may have taken effect; look it up, do not send it again", last.code
            ) from last
        raise TerminalError(f"{last} ({attempts} attempts)", last.code) from last

    def _reselecting(self, client: TerminalClient, function: str, args: tuple, kwargs: dict) -> Any:
        try:
            return self._raw(client, function, *args, **kwargs)
        except SymbolNotFoundError:
            symbol = args[0] if args and isinstance(args[0], str) else ""
            if not symbol or function == "symbol_select" or not self._reselect(client, symbol):
                raise
        return self._raw(client, function, *args, **kwargs)

    def _reselect(self, client: TerminalClient, symbol: str) -> bool:
        """Put a symbol back in Market Watch once; False if the terminal will not."""
        if symbol in self._unselectable:
            return False
        if self._peek(client, "symbol_select", symbol, True):
            logger.info("%s was missing from Market Watch: selected it again", symbol)
            return True
        self._unselectable.add(symbol)
        return False

    def _answers(self, client: TerminalClient, error: TerminalDisconnectedError) -> bool:
        """After a failed call: is the terminal still there? A lone IPC timeout is taken as
        passing; anything else, or timeouts in a row, asks ``terminal_info()`` (twice)."""
        self._timeouts_in_a_row += 1
        if error.code == IPC_TIMEOUT_CODE and self._timeouts_in_a_row < TIMEOUTS_BEFORE_PROBE:
            return True
        for _ in range(2):
            try:
                if self._peek(client, "terminal_info") is not None:
                    return True
            except TerminalDisconnectedError:
                return False
        return False

    def call(
        self, function: str, *args: Any, priority: Priority = Priority.NORMAL, **kwargs: Any
    ) -> Any:
        """Call a terminal function under the lock; reconnects first if needed."""
        self.ensure_connected()
        with self._lock.hold(priority):
            client = self._client
            if client is None:
                raise TerminalDisconnectedError("MT5 terminal not connected")
            try:
                return self._locked_call(client, function, *args, **kwargs)
            except TerminalDisconnectedError as error:
                self._drop_connection(error)
                raise

    def check_clock(self) -> dict:
        """Re-check the broker clock against the terminal now; returns its status."""
        self.ensure_connected()
        with self._lock.hold(Priority.HIGH):
            client = self._client
            if client is None:
                raise TerminalDisconnectedError("MT5 terminal not connected")
            try:
                self.clock_watch.check(functools.partial(self._locked_call, client), self._symbols)
            except TerminalDisconnectedError as error:
                self._drop_connection(error)
                raise
        return self.clock_watch.status()

    # -- typed helpers (times converted to UTC) ------------------------------------------

    def rates_range(
        self,
        symbol: str,
        timeframe: int,
        utc_from: float,
        utc_to: float,
        *,
        priority: Priority = Priority.NORMAL,
    ) -> np.ndarray:
        """Bars with open time in [utc_from, utc_to], oldest first, ``time`` in UTC seconds."""
        start = self.server_time.to_server(utc_from)
        end = self.server_time.to_server(utc_to)
        rates = self._copy(
            "copy_rates_range", RATES_DTYPE, symbol, timeframe, start, end, priority=priority
        )
        return self._rates_to_utc(rates)

    def rates_from_pos(
        self,
        symbol: str,
        timeframe: int,
        start: int,
        count: int,
        *,
        priority: Priority = Priority.NORMAL,
    ) -> np.ndarray:
        rates = self.call("copy_rates_from_pos", symbol, timeframe, start, count, priority=priority)
        return self._rates_to_utc(rates)

    def ticks_range(
        self, symbol: str, utc_from_msc: int, utc_to_msc: int, flags: int
    ) -> np.ndarray:
        """Ticks in [from, to] (milliseconds, UTC), ``time`` and ``time_msc`` in UTC."""
        start = self.server_time.to_server(utc_from_msc / 1000)
        end = self.server_time.to_server(utc_to_msc / 1000) + 1
        ticks = self._copy("copy_ticks_range", TICKS_DTYPE, symbol, start, end, flags)
        return self._ticks_to_utc(ticks)

    def tick(self, symbol: str) -> dict:
        return to_utc_fields(self.call("symbol_info_tick", symbol), self.server_time)

    def account_info(self) -> dict:
        return self.call("account_info", priority=Priority.HIGH)

    def terminal_info(self) -> dict:
        return self.call("terminal_info", priority=Priority.HIGH)

    def symbol_info(self, symbol: str) -> dict:
        return self.call("symbol_info", symbol)

    def positions(self, *, utc: bool = True) -> list[dict]:
        """Open positions. ``utc=False`` leaves their times on the broker's clock, so they
        can be read while that clock is distrusted (the risk gate must always see them)."""
        found = self.call("positions_get", priority=Priority.HIGH)
        return [to_utc_fields(p, self.server_time) for p in found] if utc else list(found)

    def orders(self, *, utc: bool = True) -> list[dict]:
        """Pending orders; ``utc`` as for ``positions``."""
        found = self.call("orders_get", priority=Priority.HIGH)
        return [to_utc_fields(o, self.server_time) for o in found] if utc else list(found)

    def deals(self, utc_from: float, utc_to: float) -> list[dict]:
        start = self.server_time.to_server(utc_from)
        end = self.server_time.to_server(utc_to)
        deals = self.call("history_deals_get", start, end, priority=Priority.HIGH)
        return [to_utc_fields(d, self.server_time) for d in deals]

    def history_orders(self, utc_from: float, utc_to: float) -> list[dict]:
        """Finished orders set up within [utc_from, utc_to]; bounds and times in UTC."""
        start = self.server_time.to_server(utc_from)
        end = self.server_time.to_server(utc_to)
        orders = self.call("history_orders_get", start, end, priority=Priority.HIGH)
        return [to_utc_fields(o, self.server_time) for o in orders]

    def history_order(self, ticket: int) -> dict | None:
        """One finished order by ticket (times in UTC); None while the terminal has none."""
        found = self.call("history_orders_get", ticket=int(ticket), priority=Priority.HIGH)
        return to_utc_fields(found[0], self.server_time) if found else None

    def position_deals(self, position: int) -> list[dict]:
        """Every deal of one position (by its identifier), times in UTC."""
        deals = self.call("history_deals_get", position=int(position), priority=Priority.HIGH)
        return [to_utc_fields(d, self.server_time) for d in deals]

    def order_check(self, request: dict) -> dict:
        """``order_check`` at HIGH priority: retcode 0 when the request would pass."""
        return self.call("order_check", dict(request), priority=Priority.HIGH)

    def order_send(self, request: dict) -> dict:
        """``order_send`` at HIGH priority, ahead of history pulls; sent once only. A failure
        that leaves the order's fate open raises TerminalOutcomeUnknownError or
        TerminalDisconnectedError: look the order up, never send it again."""
        return self.call("order_send", dict(request), priority=Priority.HIGH)

    def order_deals(self, order: int) -> list[dict]:
        """The deals an order made (times in UTC)."""
        deals = self.call("history_deals_get", ticket=int(order), priority=Priority.HIGH)
        return [to_utc_fields(d, self.server_time) for d in deals]

    def server_now(self) -> int:
        """Now on the broker's clock (seconds), for deciding which bar is still forming."""
        return self.server_time.to_server(self._clock())

    def _copy(self, function: str, dtype: np.dtype, *args: Any, **kwargs: Any) -> np.ndarray:
        """A ``copy_*`` call; "no data" (the terminal sends no buffer) is an empty array."""
        try:
            return self.call(function, *args, **kwargs)
        except TerminalError as error:
            if error.code != NO_DATA_CODE:
                raise
            return np.empty(0, dtype=dtype)

    def _rates_to_utc(self, rates: np.ndarray) -> np.ndarray:
        converted = np.array(rates, copy=True)
        if len(converted):
            converted["time"] = self.server_time.to_utc_array(converted["time"].astype(np.int64))
        return converted

    def _ticks_to_utc(self, ticks: np.ndarray) -> np.ndarray:
        converted = np.array(ticks, copy=True)
        if len(converted):
            utc_msc = self.server_time.to_utc_msc_array(converted["time_msc"].astype(np.int64))
            converted["time_msc"] = utc_msc
            converted["time"] = utc_msc // 1000
        return converted
