"""The bridge on the simulated terminal, publishing to real Redis, for the client's tests."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest

from bridge_v3.config.constants import TIMEFRAMES
from bridge_v3.daemon import Bridge
from bridge_v3.services.mt5.backends import simulator_backend
from bridge_v3.simulator.clock import ManualClock
from tests.conftest import REDIS_HOST, REDIS_PORT
from tests.test_daemon_e2e import START, make_settings


class SimBridge:
    """The bridge run cycle by cycle (``--once``) against one simulated terminal that keeps
    running between cycles, on a clock the test moves."""

    def __init__(self, pg: dict, prefix: str, tmp_path, *, tick_symbols=()) -> None:
        settings = make_settings(pg, prefix, tmp_path)
        market = replace(
            settings.market,
            forex_timeframes=(TIMEFRAMES["M5"], TIMEFRAMES["H1"]),
            crypto_timeframes=(TIMEFRAMES["M15"],),
            tick_symbols=tuple(tick_symbols),
        )
        self.settings = replace(settings, market=market)
        self.clock = ManualClock(START)
        self.backend = simulator_backend(self.settings.simulator, self.clock)

    def run_once(self, advance: float = 0.0) -> Bridge:
        self.clock.advance(advance)
        bridge = Bridge(self.settings, threading.Event(), self.backend)
        bridge.connect()
        bridge.run_once()
        bridge.shutdown()
        return bridge


@pytest.fixture
def redis_url() -> str:
    return f"redis://{REDIS_HOST}:{REDIS_PORT}/0"


@pytest.fixture
def sim_bridge(fresh_database, redis_prefix, tmp_path) -> SimBridge:
    return SimBridge(fresh_database, redis_prefix, tmp_path)


def stream_envelopes(redis_client, prefix: str) -> list[dict]:
    """Every envelope in every stream of ``prefix``, as the bridge wrote them."""
    import json

    found = []
    for key in redis_client.scan_iter(match=f"{prefix}:stream:*", _type="stream"):
        found += [json.loads(f[b"envelope"]) for _, f in redis_client.xrange(key)]
    return found
