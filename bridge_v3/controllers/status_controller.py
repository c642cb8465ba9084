"""The heartbeat: the bridge's health on ``mt5:status`` and in ``mt5:last:status``."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime, timezone

from bridge_v3 import __version__

logger = logging.getLogger(__name__)


class StatusController:
    def __init__(
        self,
        publisher,
        *,
        clock: Callable[[], float],
        probes: dict[str, Callable[[], object]],
        last_ttl: int,
    ) -> None:
        """``probes`` name what to report: each returns a JSON-friendly value (or a dataclass)."""
        self._publisher = publisher
        self._clock = clock
        self._probes = probes
        self._last_ttl = last_ttl
        self._started = clock()

    def snapshot(self, state: str = "running") -> dict:
        now = self._clock()
        data: dict[str, object] = {
            "state": state,
            "version": __version__,
            "time": datetime.fromtimestamp(now, tz=timezone.utc).isoformat().replace("+00:00", "Z"),
            "uptime_seconds": round(now - self._started, 1),
        }
        for name, probe in self._probes.items():
            data[name] = self._read(name, probe)
        return data

    def beat(self, state: str = "running") -> dict:
        data = self.snapshot(state)
        self._publisher.publish(self._publisher.redis.channel("status"), "status", data)
        self._publisher.set_last_many([("status", data)], ttl=self._last_ttl)
        return data

    @staticmethod
    def _read(name: str, probe: Callable[[], object]) -> object:
        try:
            value = probe()
        except Exception as error:  # a broken probe must not stop the heartbeat
            logger.debug("status probe %s failed", name, exc_info=True)
            return f"error: {error}"
        return asdict(value) if hasattr(value, "__dataclass_fields__") else value
