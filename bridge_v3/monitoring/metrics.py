"""The ``/metrics`` page: Prometheus text from prometheus-client, in a registry of its own.

Most figures are read from the bridge's parts when the page is asked for (counters the
parts keep anyway: nothing is counted twice); durations are histograms observed as they
happen (task runs from the worker, terminal calls from the MT5 service), and bars published
per series are counted from what Redis accepted. Parts not built yet (during start-up) are
left out, never guessed. Names start with ``bridge_``; the process's own are ``process_*``.
"""

from __future__ import annotations

import logging
import time
from collections import Counter as Tally
from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, StateSetMetricFamily
from prometheus_client.registry import Collector

from bridge_v3.exceptions import BridgeError
from bridge_v3.monitoring.process import ProcessFigures

logger = logging.getLogger(__name__)

TASK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
CALL_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30)
ORDER_COUNTS_TTL = 10.0  # seconds the order journal's counts are reused between scrapes
_SERIES = ("symbol", "timeframe")


class MetricsPage:
    """Everything on ``/metrics``. ``bridge`` is read at each scrape (duck-typed: ``Bridge``)."""

    def __init__(self, bridge, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.task_seconds = Histogram(
            "bridge_task_duration_seconds",
            "Duration of task runs by task; the price cycle is task=prices.",
            ["task", "outcome"],
            buckets=TASK_BUCKETS,
            registry=self.registry,
        )
        self.call_seconds = Histogram(
            "bridge_mt5_call_duration_seconds",
            "Latency of terminal calls by MetaTrader5 function.",
            ["function"],
            buckets=CALL_BUCKETS,
            registry=self.registry,
        )
        self.bars_published = Counter(
            "bridge_bars_published",
            "Bar messages Redis accepted, by series (corrections included).",
            list(_SERIES),
            registry=self.registry,
        )
        self.registry.register(BridgeFigures(bridge, clock))
        self.registry.register(ProcessFigures())

    def observe_task(self, name: str, seconds: float, outcome: str) -> None:
        self.task_seconds.labels(name, outcome).observe(seconds)

    def observe_call(self, function: str, seconds: float) -> None:
        self.call_seconds.labels(function).observe(seconds)

    def count_sent(self, prepared: Iterable) -> None:
        """Bars among a batch Redis accepted (channels ``{prefix}:bar:{SYMBOL}:{TF}``)."""
        bars = Tally(item.channel for item in prepared if item.type == "bar")
        for channel, count in bars.items():
            *_, symbol, timeframe = channel.split(":")
            self.bars_published.labels(symbol, timeframe).inc(count)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class BridgeFigures(Collector):
    """The bridge's live figures at scrape time."""

    def __init__(self, bridge, clock: Callable[[], float]) -> None:
        self._bridge = bridge
        self._clock = clock
        self._orders: tuple[float, dict[str, int]] | None = None

    def collect(self):
        bridge = self._bridge
        sections = (
            (bridge.prices, self._bars),
            (bridge.publisher, self._delivery),
            (bridge.risk, self._risk),
            (bridge.trades, self._orders_by_status),
        )
        yield from self._worker(bridge.worker)
        yield from self._dependencies(bridge.dependencies())
        yield from self._terminal(bridge.mt5)
        for part, section in sections:
            if part is not None:
                yield from section(part)
        executor = getattr(bridge, "executor", None)
        if executor is not None:
            yield from self._orders_sent(executor)

    # -- sections -------------------------------------------------------------------------

    def _bars(self, prices):
        families = {
            name: CounterMetricFamily(f"bridge_bars_{name}", text, labels=_SERIES)
            for name, text in (
                ("stored", "Closed bars stored new, by series."),
                ("corrected", "Stored bars the broker corrected, by series."),
                ("quarantined", "Bars refused by validation (first seen), by series."),
            )
        }
        updated = GaugeMetricFamily(
            "bridge_series_last_update_timestamp_seconds",
            "When each series was last stored successfully (Unix time, bridge clock).",
            labels=_SERIES,
        )
        newest = GaugeMetricFamily(
            "bridge_series_newest_bar_timestamp_seconds",
            "Open time of each series' newest stored closed bar (Unix time, UTC).",
            labels=_SERIES,
        )
        for symbol, timeframe in prices.series:
            key = (symbol, timeframe.name)
            counts = prices.series_totals.get(key, {})
            for name, family in families.items():
                family.add_metric(key, counts.get(name, 0))
            if key in prices.series_updated:
                updated.add_metric(key, prices.series_updated[key])
            mark = prices.watermark(symbol, timeframe)
            if mark is not None:
                newest.add_metric(key, mark)
        yield from (*families.values(), updated, newest)

    def _worker(self, worker):
        stats = worker.stats()
        tasks = GaugeMetricFamily(
            "bridge_worker_tasks", "Tasks running or queued now.", labels=["state"]
        )
        tasks.add_metric(["active"], stats.active)
        tasks.add_metric(["queued"], stats.queued)
        runs = CounterMetricFamily(
            "bridge_worker_runs",
            "Task runs since start by outcome (skipped: the job was still busy; held: a "
            "dependency's breaker was open).",
            labels=["outcome"],
        )
        for outcome in ("completed", "failed", "timed_out", "skipped", "held"):
            runs.add_metric([outcome], getattr(stats, outcome))
        yield from (tasks, runs)

    def _delivery(self, publisher):
        yield GaugeMetricFamily(
            "bridge_outbox_pending",
            "Messages waiting in the local outbox.",
            value=publisher.pending,
        )
        yield CounterMetricFamily(
            "bridge_messages_sent", "Messages Redis accepted since start.", value=publisher.sent
        )

    def _dependencies(self, dependencies: dict):
        up = GaugeMetricFamily(
            "bridge_dependency_up", "1 while a dependency answers.", labels=["dependency"]
        )
        errors = CounterMetricFamily(
            "bridge_dependency_errors",
            "Failed attempts to reach a dependency since start (PostgreSQL, Redis, terminal, outbox).",
            labels=["dependency"],
        )
        breaker = StateSetMetricFamily(
            "bridge_breaker_state", "Circuit breaker state by dependency.", labels=["dependency"]
        )
        for name, dependency in dependencies.items():
            snapshot = dependency.snapshot()
            up.add_metric([name], 1 if snapshot["state"] == "up" else 0)
            errors.add_metric([name], snapshot["failures"])
            state = snapshot["breaker"]["state"]
            breaker.add_metric([name], {s: s == state for s in ("closed", "open", "half_open")})
        yield from (up, errors, breaker)

    def _terminal(self, mt5):
        yield GaugeMetricFamily(
            "bridge_terminal_connected",
            "1 while the terminal is attached.",
            value=int(mt5.connected),
        )
        trusted = mt5.clock_watch.status().get("trusted")
        yield GaugeMetricFamily(
            "bridge_broker_clock_trusted",
            "1 while the broker clock is trusted.",
            value=int(bool(trusted)),
        )

    def _risk(self, risk):
        status = risk.status()
        state = StateSetMetricFamily("bridge_risk_state", "The risk state.")
        state.add_metric(
            [], {s: s == status.get("state") for s in ("ACTIVE", "REDUCING", "HALTED")}
        )
        yield state
        for name, key, text in (
            ("bridge_equity", "equity", "Account equity at the last risk check."),
            ("bridge_daily_loss_percent", "daily_loss_pct", "Daily loss on equity, percent."),
            ("bridge_open_positions", "open_positions", "Open positions at the last risk check."),
        ):
            if status.get(key) is not None:
                yield GaugeMetricFamily(name, text, value=float(status[key]))

    def _orders_sent(self, executor):
        """The executor's own tally since start: outcomes by status and order_send calls."""
        family = CounterMetricFamily(
            "bridge_orders",
            "Orders since start by outcome (filled, placed, rejected, unknown, refused, ...).",
            labels=["outcome"],
        )
        for outcome, count in sorted(dict(executor.totals).items()):
            family.add_metric([str(outcome)], count)
        yield family

    def _orders_by_status(self, trades):
        counts = self._order_counts()
        if counts is None:
            return
        family = GaugeMetricFamily(
            "bridge_order_intents",
            "Orders in the intent journal by status (sent: filled, placed; rejected; unknown; ...).",
            labels=["status"],
        )
        for status, count in sorted(counts.items()):
            family.add_metric([status], count)
        yield family

    def _order_counts(self) -> dict[str, int] | None:
        """The journal's counts, read at most every ``ORDER_COUNTS_TTL`` seconds; None while
        PostgreSQL cannot say (the page is still served)."""
        now = self._clock()
        if self._orders is not None and now - self._orders[0] < ORDER_COUNTS_TTL:
            return self._orders[1]
        bridge = self._bridge
        if not bridge.database.dependency.up:
            return self._orders[1] if self._orders else None
        try:
            rows = bridge.database.fetch_all(
                "SELECT status, count(*) FROM order_intents WHERE account = %s GROUP BY status",
                (bridge.account,),
            )
        except BridgeError as error:
            logger.debug("order journal not counted: %s", error)
            return None
        self._orders = (now, {str(status): int(count) for status, count in rows})
        return self._orders[1]
