"""The composition root's operations part: remote control, health and metrics, notifications.

``Bridge`` (``daemon.py``) builds one ``Operations`` with itself, opens the endpoint before
connecting (``open_endpoint``), completes it once its controllers exist (``attach``),
starts it with the jobs (``start``) and stops it at shutdown (``stop``, then ``close``).
Everything here watches or steers the bridge through the parts' public faces; nothing here
is needed to store or publish data.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timezone

from bridge_v3.config.constants import Priority
from bridge_v3.control.audit import ControlAudit
from bridge_v3.control.commands import Targets
from bridge_v3.control.listener import ControlListener, redis_client
from bridge_v3.control.nonces import NonceRegistry
from bridge_v3.control.service import FUTURE_TOLERANCE, ControlService
from bridge_v3.controllers.order_executor import CONTROL_MAGIC
from bridge_v3.monitoring.endpoint import Endpoint
from bridge_v3.monitoring.health import HealthChecks
from bridge_v3.monitoring.metrics import MetricsPage
from bridge_v3.notify.alerts import Alerts
from bridge_v3.notify.notifier import Notifier
from bridge_v3.notify.targets import parse_targets
from bridge_v3.services.risk_latch import lift_halt

ALERTS_SECONDS = 2.0  # how often the risk state and the dependencies are looked at

logger = logging.getLogger(__name__)


class Operations:
    def __init__(self, bridge) -> None:
        self._bridge = bridge
        self._settings = bridge.settings.operations
        self.control: ControlService | None = None
        self.listener: ControlListener | None = None
        self._redis = None
        self.health = HealthChecks(bridge)
        self.metrics = MetricsPage(bridge)
        bridge.worker.listen(self.metrics.observe_task)
        self.endpoint: Endpoint | None = None
        self.notifier: Notifier | None = None
        self.alerts: Alerts | None = None

    # -- building -------------------------------------------------------------------------

    def open_endpoint(self) -> None:
        """Serve /health, /ready and /metrics now (before connecting: a port in use stops
        the start with ``ConfigError``). ``METRICS_PORT=0``: nothing."""
        ops = self._settings
        if not ops.metrics_port:
            return
        self.endpoint = Endpoint(
            ops.metrics_host,
            ops.metrics_port,
            health=self.health.liveness,
            ready=self.health.readiness,
            metrics=self.metrics.render,
        )
        self.endpoint.open()

    def attach(self) -> None:
        """Build what needs the controllers (called at the end of ``Bridge.connect``)."""
        self._bridge.publisher.on_sent(self.metrics.count_sent)
        self._bridge.mt5.stats.listen(self.metrics.observe_call)
        self._build_control()
        self._build_notifications()

    def _build_notifications(self) -> None:
        bridge, ops = self._bridge, self._settings
        targets = parse_targets(ops.notify_urls.reveal())
        self.notifier = Notifier(targets, bridge.source, bridge.account)
        self.alerts = Alerts(
            self.notifier.notify, down_after=ops.notify_down_after, clock=bridge.clock
        )

    def schedule_jobs(self, scheduler) -> None:
        """The ``alerts`` job, when notifications go anywhere."""
        if self.notifier is not None and self.notifier.senders:
            scheduler.add_job("alerts", self.watch, ALERTS_SECONDS, Priority.HIGH)

    def watch(self) -> None:
        bridge = self._bridge
        self.alerts.watch(bridge.risk.status(), bridge.dependencies())

    def trades_synced(self, changes, *, reconciling: bool) -> None:
        """A trades sync ended: its fills and rejected orders are notified."""
        if self.alerts is not None:
            self.alerts.trades(changes.events, reconciling=reconciling)

    def _build_control(self) -> None:
        bridge, ops = self._bridge, self._settings
        redis = bridge.redis
        self._redis = redis_client(bridge.settings.redis)
        self.control = ControlService(
            secret=ops.control_secret.reveal(),
            max_age=ops.control_max_age,
            source=bridge.source,
            audit=ControlAudit(bridge.database, bridge.account, bridge.source),
            nonces=NonceRegistry(
                self._redis, redis.prefix, bridge.source, ops.control_max_age + FUTURE_TOLERANCE
            ),
            targets=self.targets(),
            reply=lambda data: bridge.publisher.publish(
                redis.channel("control", "reply"), "control_reply", data
            ),
            clock=time.time,
        )
        self.listener = ControlListener(self._redis, redis.channel("control"), self.control.handle)
        if not ops.control_secret:
            logger.info("Remote control is off (CONTROL_SECRET not set): commands are refused")

    def targets(self) -> Targets:
        bridge = self._bridge
        return Targets(
            status=lambda: {**bridge.status.snapshot(), "ready": self.health.readiness().body()},
            halt=bridge.risk.halt,
            lift=self.lift_halt,
            positions=bridge.mt5.positions,
            orders=bridge.mt5.orders,
            is_own=self._is_own,
            executor=bridge.executor,
            strategies=bridge.strategies,
        )

    def _is_own(self, magic: int) -> bool:
        """The bridge's own: a strategy's magic number, or the one of orders a person sent
        through control (the trade controller's rule)."""
        strategies = self._bridge.strategies
        return magic == CONTROL_MAGIC or bool(strategies is not None and strategies.is_own(magic))

    def lift_halt(self, by: str) -> dict:
        """Lift a halt as ``--risk-reset`` does, then check the risk at once to apply it."""
        bridge = self._bridge
        now = datetime.now(timezone.utc)
        with bridge.database.connection() as conn, conn.cursor() as cursor:
            lifted, found = lift_halt(cursor, bridge.account, by, now)
        if lifted is None:
            return {"lifted": False, "state": found, "reason": f"not halted (state {found})"}
        logger.warning("Risk halt lifted by %s (remote control); applied at this risk check", by)
        bridge.worker.submit("risk", bridge.risk.run_check, Priority.CRITICAL)
        return {"lifted": True, "state": lifted["state"], "reason": lifted["reason"]}

    # -- running --------------------------------------------------------------------------

    def start(self) -> None:
        bridge = self._bridge
        if self.listener is not None:
            self.listener.start()
        if self.notifier is not None:
            self.notifier.start()
            self.alerts.watch(bridge.risk.status(), {})  # the state at start is no change
            self.alerts.bridge(
                "started",
                f"{bridge.source}: account {bridge.account}, terminal {bridge.backend.description}",
            )

    def stop(self) -> None:
        if self.listener is not None:
            self.listener.stop()
        if self.notifier is not None and self.notifier.started:
            self.alerts.bridge("stopping", f"{self._bridge.source} is shutting down")
            self.notifier.stop(timeout=3.0)
        if self._redis is not None:
            self._redis.close()

    def close(self) -> None:
        """The endpoint last: it says "stopping" until the bridge is down."""
        if self.endpoint is not None:
            self.endpoint.close()
