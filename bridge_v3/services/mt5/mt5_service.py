"""The one door to the MT5 terminal.

Every terminal call goes through ``MT5Service``: one lock (the ``MetaTrader5`` package is
process-global and never releases the GIL), trading calls served before history pulls,
``last_error()`` translated into our exceptions, reconnection with capped jittered backoff,
and broker server time converted to UTC on the way out.
"""

from __future__ import annotations

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
    TemporaryError,
    TerminalDisconnectedError,
    TerminalError,
)
from bridge_v3.services.mt5.call_stats import CallStats
from bridge_v3.services.mt5.clients import TerminalClient
from bridge_v3.services.mt5.contract.dtypes import RATES_DTYPE, TICKS_DTYPE
from bridge_v3.services.mt5.errors import translate
from bridge_v3.services.mt5.priority_lock import PriorityLock
from bridge_v3.services.mt5.time_fields import to_utc_fields
from bridge_v3.services.retry import Backoff
from bridge_v3.services.server_time import ServerTime, StaleTickError

logger = logging.getLogger(__name__)

NO_DATA_CODE = -3  # copy_* with nothing in the range: (-3, 'No memory') and None

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
    ) -> None:
        self._open_client = open_client
        self._settings = settings
        self.server_time = server_time
        self._clock = clock
        self._monotonic = monotonic
        self._backoff = backoff or Backoff(base=1.0, cap=60.0)
        self._lock = PriorityLock()
        self._client: TerminalClient | None = None
        self._failures = 0
        self._next_attempt = 0.0
        self._symbols: tuple[str, ...] = ()
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
        """Attach to the terminal, log in if an account is configured, select ``symbols``.

        Returns the account info. Raises TerminalDisconnectedError (retry later) or
        FatalError (credentials, versions: a person must act).
        """
        self._symbols = tuple(symbols)
        with self._lock.hold(Priority.CRITICAL):
            self._closed = False
            account = self._attach()
        return account

    def ensure_connected(self) -> None:
        """Reconnect if the terminal was lost and the backoff allows another attempt now."""
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
            self._attach()
            if not again:
                return  # a first connection made on demand: nothing was missed
            self.reconnects += 1
        logger.info("MT5 terminal reconnected (%s)", self.backend_name)
        for listener in self._reconnect_listeners:
            listener()

    def shutdown(self) -> None:
        """``mt5.shutdown()`` and close the client. Safe to call twice. Later calls are refused
        (a task abandoned at shutdown must not initialize the terminal again)."""
        with self._lock.hold(Priority.CRITICAL):
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
            self._schedule_retry()
            raise TerminalDisconnectedError(f"MT5 terminal unreachable: {error}") from error
        self.backend_name = client.name
        try:
            self._initialize(client)
            account = self._raw(client, "account_info")
            self._check_account(account)
            self._select(client, self._symbols)
            self._calibrate_clock(client)
        except TemporaryError:
            client.close()
            self._schedule_retry()
            raise
        except BridgeError:
            client.close()
            raise
        self._client = client
        self._failures = 0
        self._attached_before = True
        return account

    def _initialize(self, client: TerminalClient) -> None:
        kwargs: dict[str, Any] = {"timeout": self._settings.timeout_ms}
        if self._settings.path:
            kwargs["path"] = self._settings.path
        self._raw(client, "initialize", **kwargs)
        account = self._settings.account
        if account is None:
            return
        current = self._raw(client, "account_info")
        if current and current.get("login") == account:
            return  # already logged in: logging in again would drop the session
        self._raw(
            client,
            "login",
            account,
            password=self._settings.password.reveal(),
            server=self._settings.server,
            timeout=self._settings.timeout_ms,
        )

    def _check_account(self, account: dict) -> None:
        wanted = self._settings.account
        if wanted is not None and account.get("login") != wanted:
            raise FatalError(f"MT5 terminal is logged in to {account.get('login')}, not {wanted}")

    def _select(self, client: TerminalClient, symbols: Iterable[str]) -> None:
        for symbol in symbols:
            selected, error = client.call("symbol_select", symbol, True)
            if not selected:
                logger.error("Symbol %s cannot be selected (%s, %r): skipped", symbol, *error)

    def _calibrate_clock(self, client: TerminalClient) -> None:
        if not self.server_time.is_auto:
            return
        times = []
        for symbol in self._symbols:
            tick, _ = client.call("symbol_info_tick", symbol)
            if tick:
                times.append(int(tick["time"]))
        if not times:
            raise TemporaryError("MT5_SERVER_TIMEZONE=auto: no tick yet to learn the offset from")
        try:
            self.server_time.calibrate(max(times), self._clock())
        except StaleTickError:
            if self.server_time.calibrated_offset is None:
                raise  # nothing to convert with yet: wait for a live tick (retried)
            logger.warning("Newest tick is stale; keeping the server offset learnt before")

    def _schedule_retry(self) -> None:
        self._failures += 1
        self._next_attempt = self._monotonic() + self._backoff.delay(self._failures - 1)

    def _drop_connection(self, error: Exception) -> None:
        client, self._client = self._client, None
        if client is not None:
            logger.warning("MT5 terminal lost (%s); reconnecting with backoff", error)
            client.close()
            self._schedule_retry()

    # -- calls --------------------------------------------------------------------------

    def _raw(self, client: TerminalClient, function: str, *args: Any, **kwargs: Any) -> Any:
        """One call on ``client`` (lock already held); failures become our exceptions."""
        started = time.perf_counter()
        try:
            result, (code, message) = client.call(function, *args, **kwargs)
        except (OSError, EOFError) as error:
            raise TerminalDisconnectedError(f"MT5 {function}: connection lost: {error}") from error
        finally:
            self.stats.add(function, time.perf_counter() - started)
        if result is None or result is False:
            subject = args[0] if args and isinstance(args[0], str) else kwargs.get("symbol", "")
            raise translate(function, code, message, subject)
        return result

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
                return self._raw(client, function, *args, **kwargs)
            except TerminalDisconnectedError as error:
                self._drop_connection(error)
                raise

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

    def positions(self) -> list[dict]:
        return [
            to_utc_fields(p, self.server_time)
            for p in self.call("positions_get", priority=Priority.HIGH)
        ]

    def orders(self) -> list[dict]:
        return [
            to_utc_fields(o, self.server_time)
            for o in self.call("orders_get", priority=Priority.HIGH)
        ]

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
