"""The composition root: builds every part, wires it, runs it and shuts it down in order.

Start-up: the local outbox (opened and locked before anything else, so a bad SPOOL_PATH is a
configuration error), PostgreSQL (migrations), the terminal, Redis — each retried with
backoff until it answers or a stop is requested — then the controllers, an initial sync, and
the jobs. Shutdown (DESIGN §3.8): scheduler, worker (drained within a bound), a last
heartbeat, what is left in the outbox, pools, terminal.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable, Iterable

from bridge_v3.config.constants import Priority, TradingMode
from bridge_v3.config.loader import load_settings
from bridge_v3.config.settings import Settings
from bridge_v3.controllers.account_controller import AccountController
from bridge_v3.controllers.activity import ActivityReport, Counters
from bridge_v3.controllers.order_executor import CONTROL_MAGIC, ExecutionSettings, OrderExecutor
from bridge_v3.controllers.price_controller import PriceController
from bridge_v3.controllers.risk_controller import RiskController
from bridge_v3.controllers.status_controller import StatusController
from bridge_v3.controllers.strategy_actions import Actions
from bridge_v3.controllers.strategy_controller import StrategyController
from bridge_v3.controllers.symbol_controller import SymbolController
from bridge_v3.controllers.tick_controller import TickController
from bridge_v3.controllers.trade_controller import TradeController
from bridge_v3.exceptions import (
    BridgeError,
    ConfigError,
    FatalError,
    SpoolError,
    TemporaryError,
)
from bridge_v3.models.risk import RiskLimits
from bridge_v3.operations import Operations
from bridge_v3.services.allocator import release_free_memory
from bridge_v3.services.bar_store import BarStore
from bridge_v3.services.circuit_breaker import CircuitBreaker, guarded
from bridge_v3.services.database_service import DatabaseService
from bridge_v3.services.dependency import Dependency
from bridge_v3.services.intent_store import IntentStore
from bridge_v3.services.mt5.backends import TerminalBackend, choose_backend
from bridge_v3.services.mt5.mt5_service import MT5Service
from bridge_v3.services.outbox import Outbox
from bridge_v3.services.pending_messages import PendingMessages
from bridge_v3.services.publisher import Publisher
from bridge_v3.services.redis_service import RedisService
from bridge_v3.services.retry import Backoff, Retry
from bridge_v3.services.risk_store import RiskStore
from bridge_v3.services.server_time import ServerTime
from bridge_v3.services.strategy_store import StrategyStore
from bridge_v3.services.tick_store import TickStore
from bridge_v3.services.trade_store import TradeStore
from bridge_v3.strategies.base import Strategy
from bridge_v3.strategies.loader import Market, load_strategies
from bridge_v3.workers.scheduler import Scheduler
from bridge_v3.workers.task_worker import TaskWorker

logger = logging.getLogger(__name__)

OUTBOX_FLUSH_SECONDS = 5.0
SYMBOLS_REFRESH_SECONDS = 86_400.0
CLOCK_CHECK_SECONDS = 60.0
MEMORY_TRIM_SECONDS = 30.0  # free heap pages back to the system after a burst
# Waits are cut in slices: on Windows an untimed wait cannot be interrupted by Ctrl+C, so
# the stop handler would never run and a service stop would end in TerminateProcess.
WAIT_SLICE = 0.5


def configured_series(settings: Settings) -> list[tuple[str, object]]:
    """Every (symbol, timeframe) the bridge keeps bars for."""
    market = settings.market
    series = [(s, tf) for s in market.forex_pairs for tf in market.forex_timeframes]
    if market.crypto_enabled:
        series += [(s, tf) for s in market.crypto_pairs for tf in market.crypto_timeframes]
    return list(dict.fromkeys(series))


def strategies_of(settings: Settings) -> list[Strategy]:
    """The strategies STRATEGIES and STRATEGIES_FILE name; ConfigError naming a bad entry."""
    trading = settings.trading
    market = Market(tuple(configured_series(settings)))
    return load_strategies(trading.strategies, trading.strategies_file, market)


def risk_limits(settings: Settings) -> RiskLimits:
    risk = settings.risk
    return RiskLimits(
        max_daily_loss_pct=risk.max_daily_loss_pct,
        reducing_at_pct=risk.reducing_at_pct,
        min_margin_level=risk.min_margin_level,
        max_positions=risk.max_simultaneous_trades,
        max_forex_positions=risk.max_forex_positions,
        max_crypto_positions=risk.max_crypto_positions,
    )


class Bridge:
    def __init__(
        self,
        settings: Settings,
        stop: threading.Event,
        backend: TerminalBackend | None = None,
        *,
        connect_attempts: int | None = None,
        settings_source: Callable[[], Settings] | None = None,
    ) -> None:
        """``connect_attempts``: None retries start-up until it succeeds or a stop is asked
        (the daemon); a number bounds it (one-shot commands that must end).
        ``settings_source`` reads the settings again for ``reload-strategies`` (default:
        the environment and ``.env``). A bad strategy entry raises ConfigError here."""
        self.settings = settings
        self._settings_source = settings_source or load_settings
        self.strategy_set = strategies_of(settings)
        self._connect_attempts = connect_attempts
        self.stop_event = stop
        self.backend = backend or choose_backend(settings.mt5, settings.simulator)
        self.clock: Callable[[], float] = self.backend.clock
        self.outbox = open_outbox(settings.spool_path, self.clock)
        self.source = settings.bridge_id  # completed with the account once it is known
        pg = settings.postgres
        self.database = DatabaseService(
            pg,
            dependency=Dependency(
                "PostgreSQL",
                f"{pg.host}:{pg.port}",
                meanwhile="storing waits; every series resumes from its watermark when it answers",
                clock=self.clock,
                breaker=self._breaker(),
            ),
        )
        self.mt5 = MT5Service(
            self.backend.open_client,
            settings.mt5,
            ServerTime(settings.mt5.server_timezone),
            clock=self.clock,
            dependency=Dependency(
                "MT5 terminal",
                self.backend.description,
                meanwhile="reconnecting with backoff; every series resumes from its watermark",
                clock=self.clock,
                breaker=self._breaker(),
            ),
        )
        self.worker = TaskWorker(settings.worker.max_workers, settings.worker.worker_timeout)
        self.scheduler = Scheduler(self.worker)
        self.account: int | None = None
        self.redis: RedisService | None = None
        self.publisher: Publisher | None = None
        self.prices: PriceController | None = None
        self.ticks: TickController | None = None
        self.accounts: AccountController | None = None
        self.symbols: SymbolController | None = None
        self.trades: TradeController | None = None
        self.risk: RiskController | None = None
        self.executor: OrderExecutor | None = None
        self.strategies: StrategyController | None = None
        self.status: StatusController | None = None
        self.activity: ActivityReport | None = None
        self.running = False  # the jobs run (set by run())
        self.operations = Operations(self)

    def _breaker(self) -> CircuitBreaker:
        ops = self.settings.operations
        return CircuitBreaker(ops.breaker_failures, ops.breaker_cooldown, clock=self.clock)

    def dependencies(self) -> dict:
        """Each outside part's tracker (and breaker), by name."""
        found = {"terminal": self.mt5.dependency, "postgres": self.database.dependency}
        if self.publisher is not None:
            found.update(redis=self.publisher.redis_state, outbox=self.publisher.spool_state)
        return found

    def _needs(self, func, *names: str):
        """``func`` as a job held (counted, not run) while a breaker it needs is open."""
        dependencies = self.dependencies()
        return guarded(func, [dependencies[name] for name in names])

    # -- start-up ------------------------------------------------------------------------

    def _retry(self) -> Retry:
        return Retry(
            Backoff(base=1.0, cap=30.0),
            attempts=self._connect_attempts,
            on=(TemporaryError,),
            stop=self.stop_event,
        )

    def connect(self, extra_symbols: Iterable[str] = ()) -> None:
        """Reach PostgreSQL, Redis and the terminal (retrying), then build the controllers.
        ``extra_symbols`` are selected in the terminal too (``--backfill --symbols``)."""
        pg = self.settings.postgres
        self._retry().call(self.database.start, what=f"PostgreSQL at {pg.host}:{pg.port}")
        applied = self.database.migrate()
        if applied:
            logger.info("Database migrations applied: %s", ", ".join(applied))
        series = configured_series(self.settings)
        symbols = list(
            dict.fromkeys(
                [s for s, _ in series] + list(self.settings.market.tick_symbols) + [*extra_symbols]
            )
        )
        info = self._retry().call(lambda: self.mt5.connect(symbols), what="MT5 terminal")
        self.account = int(info["login"])
        self._check_live_account(self.account)
        # Several bridges on one host (one per account) must not share a seq counter.
        self.source = self.settings.bridge_id or f"{socket.gethostname()}-{self.account}"
        logger.info(
            "MT5 terminal: %s, account %s on %s, trade allowed: %s",
            self.mt5.backend_name,
            self.account,
            info.get("server"),
            info.get("trade_allowed"),
        )
        self._report_trading_permissions(info)
        self._connect_redis()
        self._build_controllers(series)
        self._build_trading()
        self._start_trading()
        self.operations.attach()

    @property
    def live(self) -> bool:
        return self.settings.risk.trading_mode is TradingMode.LIVE

    def _check_live_account(self, login: int) -> None:
        """Live mode trades only the account it was told: MT5_ACCOUNT must be the one the
        terminal is logged in to."""
        wanted = self.settings.mt5.account
        if self.live and login != wanted:
            raise ConfigError(
                "MT5_ACCOUNT",
                f"TRADING_MODE=live but the terminal is logged in to account {login}, not "
                f"{wanted}: live trading refused",
                str(login),
            )

    def _connect_redis(self) -> None:
        """Build the publisher and deliver what a previous run left (its Redis tracker tells
        the operator if Redis does not answer; storing goes on meanwhile)."""
        rd = self.settings.redis
        self.redis = RedisService(rd, source=self.source, account=self.account, clock=self.clock)
        self.publisher = Publisher(
            self.redis,
            self.outbox,
            pending=PendingMessages(self.database, self.source),
            redis_state=Dependency(
                "Redis",
                f"{rd.host}:{rd.port}",
                meanwhile=f"storing goes on; messages wait in {self.outbox.path} and are sent "
                "in order when it answers",
                clock=self.clock,
                breaker=self._breaker(),
            ),
            spool_state=Dependency(
                "Outbox",
                str(self.outbox.path),
                meanwhile="messages of stored rows wait in PostgreSQL",
                clock=self.clock,
                breaker=self._breaker(),
            ),
            wall_clock=self.clock,
        )
        self.publisher.start()

    def _report_trading_permissions(self, account: dict) -> None:
        try:
            terminal = self.mt5.terminal_info()
        except TemporaryError as error:
            logger.warning("Could not read terminal info: %s", error)
            return
        if not terminal.get("trade_allowed"):
            logger.warning("AutoTrading is OFF in the terminal: orders would be refused (10027)")
        if terminal.get("tradeapi_disabled"):
            logger.warning(
                "'Disable automatic trading via external Python API' is ticked in the terminal"
            )
        if not account.get("trade_expert", True):
            logger.warning("The broker does not allow expert trading on this account")

    def _build_controllers(self, series) -> None:
        rd, market = self.settings.redis, self.settings.market
        self.prices = PriceController(
            self.mt5,
            BarStore(self.database, self.account),
            self.publisher,
            series,
            clock=self.clock,
            initial_history_days=market.initial_history_days,
            last_ttl=rd.last_ttl,
        )
        self.prices.load_watermarks()
        self.ticks = TickController(
            self.mt5,
            TickStore(self.database, self.account),
            self.publisher,
            market.tick_symbols,
            clock=self.clock,
            last_ttl=rd.last_ttl,
        )
        self.ticks.load_watermarks()
        self.accounts = AccountController(
            self.mt5, self.database, self.publisher, clock=self.clock, last_ttl=rd.last_ttl
        )
        self.status = StatusController(
            self.publisher,
            clock=self.clock,
            last_ttl=rd.last_ttl,
            probes={
                "terminal": lambda: {
                    "backend": self.mt5.backend_name,
                    "connected": self.mt5.connected,
                    "reconnects": self.mt5.reconnects,
                },
                "clock": self.mt5.clock_watch.status,
                "postgres": self.database.health,
                "redis": self.redis.health,
                "outbox_pending": lambda: self.publisher.pending,
                "worker": self.worker.stats,
                "bars": lambda: dict(self.prices.totals),
                "ticks": lambda: dict(self.ticks.totals),
                "dependencies": lambda: {
                    "terminal": self.mt5.dependency.snapshot(),
                    "postgres": self.database.dependency.snapshot(),
                    "redis": self.publisher.redis_state.snapshot(),
                    "outbox": self.publisher.spool_state.snapshot(),
                },
                "trading": lambda: self.trades.status(),
                "risk": lambda: self.risk.status(),
                "strategies": lambda: self.strategies.status(),
                "orders": lambda: dict(self.executor.totals),
            },
        )
        self.activity = ActivityReport(
            lambda: Counters(
                self.prices.totals["stored"],
                self.publisher.sent,
                self.ticks.totals["stored"],
                self.prices.totals["quarantined"],
            ),
            lambda: {(s, tf): self.prices.watermark(s, tf) for s, tf in self.prices.series},
            lambda: self.publisher.pending,
            clock=self.clock,
        )
        self.mt5.on_reconnect(
            lambda: self.worker.submit("prices", self.sync_prices, Priority.NORMAL)
        )
        self.mt5.on_reconnect(
            lambda: self.worker.submit("ticks", self.submit_tick_tasks, Priority.NORMAL)
        )

    def _build_trading(self) -> None:
        rd, market, risk = self.settings.redis, self.settings.market, self.settings.risk
        crypto = market.crypto_pairs if market.crypto_enabled else ()
        self.symbols = SymbolController(
            self.mt5,
            self.database,
            self.account,
            configured=[*market.forex_pairs, *crypto, *market.tick_symbols],
            forex=market.forex_pairs,
            crypto=crypto,
        )
        self.trades = TradeController(
            self.mt5,
            TradeStore(self.database, self.account),
            self.symbols,
            self.publisher,
            self.account,
            clock=self.clock,
            history_days=market.trades_history_days,
            last_ttl=rd.last_ttl,
            is_own=lambda magic: magic == CONTROL_MAGIC or self.strategies.is_own(magic),
        )
        self.risk = RiskController(
            self.mt5,
            RiskStore(self.database, self.account),
            self.publisher,
            self.trades,
            self.symbols,
            risk_limits(self.settings),
            clock=self.clock,
            confirm_samples=risk.confirm_samples,
            check_interval=self.settings.worker.risk_check_interval,
            last_ttl=rd.last_ttl,
        )
        self.mt5.on_reconnect(lambda: self.worker.submit("trades", self.sync_trades, Priority.HIGH))
        self._build_strategies()

    def _build_strategies(self) -> None:
        """The order executor (the one door for orders) and the strategies."""
        trading = self.settings.trading
        self.executor = OrderExecutor(
            self.mt5,
            self.risk.check,
            IntentStore(self.database, self.account),
            ExecutionSettings(
                live=self.live,
                account=self.settings.mt5.account,
                risk_per_trade=self.settings.risk.risk_per_trade,
                retries=trading.order_retries,
                deviation=trading.order_deviation,
            ),
            clock=self.clock,
        )
        actions = (
            Actions(self.mt5, self.executor, trading.price_tolerance_pct) if self.live else None
        )
        self.strategies = StrategyController(
            StrategyStore(self.database, self.account),
            self.publisher,
            actions,
            self.strategy_set,
            watermark=self.prices.watermark,
            load=lambda: strategies_of(self._settings_source()),
            mode=self.settings.risk.trading_mode.value,
        )

    def _start_trading(self) -> None:
        """Symbols, the risk latch, then the start-up reconciliation, before any job runs.

        A step that fails is logged and retried by its job; until the reconciliation has
        succeeded, trading stays disabled (the heartbeat says so).
        """
        steps = (
            ("symbol specifications", self.symbols.refresh),
            ("risk state", self.risk.load),
            ("start-up reconciliation", self.trades.reconcile),
            ("open order intents", self.executor.resolve_open_intents),
        )
        for what, step in steps:
            try:
                step()
            except FatalError:
                raise
            except BridgeError as error:
                logger.warning("%s not done at start (%s); retried by its job", what, error)

    # -- jobs ----------------------------------------------------------------------------

    def sync_prices(self):
        """The ``prices`` job: one cycle, and PostgreSQL's recovery told with what it caught up."""
        committed = self.database.commits
        result = self.prices.sync_all()
        self._stored(committed, lambda: f"{result.new} new bars stored")
        self.submit_strategy_tasks()
        return result

    def submit_strategy_tasks(self) -> None:
        """One NORMAL task per (strategy, symbol) with a new closed bar stored."""
        for name, symbol in self.strategies.due():
            self.worker.submit(
                f"strategy:{name}:{symbol}",
                lambda n=name, s=symbol: self.strategies.run(n, s),
                Priority.NORMAL,
            )

    def run_strategies(self) -> int:
        """Every due strategy now, in this thread (``--once``); returns the signals stored."""
        return sum(self.strategies.run(name, symbol) for name, symbol in self.strategies.due())

    def sync_ticks(self, symbol: str):
        committed = self.database.commits
        result = self.ticks.sync(symbol)
        self._stored(committed, f"{result.new} new {symbol} ticks stored; bars follow")
        return result

    def store_account(self):
        committed = self.database.commits
        snapshot = self.accounts.sync()
        self._stored(committed, "an account snapshot stored; bars follow at the next cycle")
        return snapshot

    def store_trades(self):
        committed, reconciling = self.database.commits, not self.trades.reconciled
        changes = self.trades.run()
        self._stored(committed, "positions, orders and deals mirrored")
        self.operations.trades_synced(changes, reconciling=reconciling)
        return changes

    def sync_account(self):
        """The ``account`` job, then a risk check on the fresh figures."""
        snapshot = self.store_account()
        self.submit_risk_check()
        return snapshot

    def sync_trades(self):
        """The ``trades`` job, then a risk check on the fresh mirror."""
        changes = self.store_trades()
        self.submit_risk_check()
        return changes

    def submit_risk_check(self) -> None:
        self.worker.submit("risk", self.risk.run_check, Priority.CRITICAL)

    def _stored(self, commits_before: int, caught_up) -> None:
        """A job committed something: PostgreSQL answers (a job that did not reach it, e.g.
        while the broker clock is not trusted, proves nothing)."""
        if self.database.commits > commits_before:
            self.database.dependency.succeeded(caught_up)

    def report(self) -> None:
        """The ``stats`` job: what flowed since the last report, then the worker's figures."""
        self.activity.log()
        self.worker.log_stats()

    def submit_tick_tasks(self) -> None:
        """One task per tick symbol, like the bars."""
        for symbol in self.ticks.symbols:
            self.worker.submit(
                f"ticks:{symbol}", lambda s=symbol: self.sync_ticks(s), Priority.NORMAL
            )

    def schedule_jobs(self) -> None:
        w, add, needs = self.settings.worker, self.scheduler.add_job, self._needs
        both = ("terminal", "postgres")
        add("prices", needs(self.sync_prices, *both), w.price_fetch_interval, Priority.NORMAL)
        if self.ticks.symbols:
            add(
                "ticks",
                needs(self.submit_tick_tasks, *both),
                w.price_fetch_interval,
                Priority.NORMAL,
            )
        add("account", needs(self.sync_account, *both), w.metrics_sync_interval, Priority.HIGH)
        add("trades", needs(self.sync_trades, *both), w.trades_sync_interval, Priority.HIGH)
        add("risk", needs(self.risk.run_check, *both), w.risk_check_interval, Priority.CRITICAL)
        add("symbols", needs(self.symbols.refresh, *both), SYMBOLS_REFRESH_SECONDS, Priority.LOW)
        add("heartbeat", self.status.beat, w.heartbeat_interval, Priority.HIGH)
        add("clock", needs(self.mt5.check_clock, "terminal"), CLOCK_CHECK_SECONDS, Priority.HIGH)
        add("outbox", self.publisher.deliver, OUTBOX_FLUSH_SECONDS, Priority.LOW)
        add("worker-stats", self.report, w.stats_interval, Priority.LOW)
        add("memory", release_free_memory, MEMORY_TRIM_SECONDS, Priority.LOW)
        self.operations.schedule_jobs(self.scheduler)

    def run_once(self) -> None:
        """Every job once, in this thread, then return (``--once``)."""
        logger.info("Bars: %s", self.sync_prices())
        logger.info("Strategies: %d signal(s) stored", self.run_strategies())
        for symbol in self.ticks.symbols:
            logger.info("%s ticks: %s", symbol, self.sync_ticks(symbol))
        self.store_account()
        self.store_trades()
        self.risk.run_check()
        self.publisher.deliver()
        self.status.beat()
        self.activity.log()

    def run(self) -> None:
        """Start the jobs and block until a stop is requested."""
        self.worker.start()
        self.schedule_jobs()
        self.scheduler.run_all()
        self.scheduler.start()
        self.operations.start()
        self.running = True
        logger.info(
            "Bridge running: %d series, jobs %s",
            len(self.prices.series),
            ", ".join(name for name, _, _ in self.scheduler.jobs()),
        )
        while not self.stop_event.wait(WAIT_SLICE):
            pass
        logger.info("Stop requested: shutting down")

    # -- shutdown ------------------------------------------------------------------------

    def shutdown(self, *, drain_seconds: float = 5.0) -> None:
        """Ordered and bounded: nothing new starts, queued work drains, then connections close."""
        self.operations.stop()
        self.scheduler.stop(timeout=2.0)
        unfinished = self.worker.stop(drain=True, timeout=drain_seconds)
        if unfinished:
            logger.warning(
                "Tasks not finished at shutdown (they run again next start): %s",
                ", ".join(unfinished),
            )
        if self.status is not None:
            self._final_heartbeat()
        if self.publisher is not None:
            self.publisher.report_at_stop()
        if self.redis is not None:
            self.redis.close()
        self.outbox.close()
        self.database.close()
        self.mt5.shutdown()
        self.backend.close()
        self.operations.close()
        logger.info("Bridge stopped")

    def _final_heartbeat(self) -> None:
        try:
            self.status.beat(state="stopped")
        except TemporaryError as error:
            logger.warning("Final heartbeat not sent: %s", error)


def open_outbox(path: str, clock: Callable[[], float]) -> Outbox:
    """The local outbox, opened and locked now: a bad SPOOL_PATH stops the start as a
    configuration error, before anything is connected."""
    try:
        return Outbox(path, clock=clock)
    except SpoolError as error:
        raise ConfigError("SPOOL_PATH", str(error), "spool/outbox.sqlite3") from None
