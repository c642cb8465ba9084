"""What the operator is told during an outage: one WARNING when PostgreSQL or Redis is lost,
one INFO when it answers again, counters on the heartbeat, and no traceback.

The jobs run through the worker as the scheduler runs them, several cycles while the
dependency is cut (a TCP relay stopped), then again after it is back. Every log line of the
bridge at INFO and above is counted.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading

import pytest

from bridge_v3.config.constants import Backend, Priority
from bridge_v3.daemon import Bridge
from bridge_v3.exceptions import TerminalDisconnectedError
from bridge_v3.services.mt5.backends import TerminalBackend, simulator_backend
from bridge_v3.services.mt5.clients import ModuleClient
from bridge_v3.simulator.clock import ManualClock
from bridge_v3.simulator.factory import SimulatorConfig, create_simulation
from bridge_v3.simulator.faults import FaultPlan
from tests.conftest import REDIS_HOST, REDIS_PORT
from tests.test_daemon_e2e import START, stored_bars
from tests.test_daemon_faults import TcpRelay, expected_bars, idle, poll, settings_for

CYCLES = 6


@pytest.fixture
def rig(fresh_database, redis_prefix, tmp_path):
    """(make bridge on relayed ports, clock); everything stopped afterwards."""
    clock = ManualClock(START)
    made: list = []

    def make(pg_port=None, redis_port=None) -> Bridge:
        settings = settings_for(
            fresh_database, redis_prefix, tmp_path, pg_port=pg_port, redis_port=redis_port
        )
        bridge = Bridge(settings, threading.Event(), simulator_backend(settings.simulator, clock))
        made.append(bridge)
        bridge.connect()
        bridge.worker.start()
        return bridge

    relays: list[TcpRelay] = []
    yield make, clock, relays
    for bridge in made:
        bridge.shutdown(drain_seconds=2)
    for relay in relays:
        relay.stop()


def run_jobs(bridge: Bridge, *names: str) -> None:
    """Jobs of the daemon through the worker, in this order, waiting until they are done."""
    jobs = {
        "prices": (bridge.sync_prices, Priority.NORMAL),
        "account": (bridge.sync_account, Priority.HIGH),
        "heartbeat": (bridge.status.beat, Priority.HIGH),
    }
    for name in names or jobs:
        done = sum(_finished(bridge)) + 1
        bridge.worker.submit(name, *jobs[name])
        poll(lambda done=done: idle(bridge) and sum(_finished(bridge)) >= done, 30)


def _finished(bridge: Bridge) -> tuple[int, int]:
    stats = bridge.worker.stats()
    return stats.completed, stats.failed


def operator_lines(caplog) -> list[logging.LogRecord]:
    return [
        r for r in caplog.records if r.levelno >= logging.INFO and r.name.startswith("bridge_v3")
    ]


def test_a_postgres_outage_is_one_warning_one_info_and_counters(
    rig, fresh_database, redis_client, redis_prefix, caplog
):
    make, clock, relays = rig
    relays.append(relay := TcpRelay(fresh_database["host"], fresh_database["port"]))
    bridge = make(pg_port=relay.port)
    run_jobs(bridge)
    pubsub = redis_client.pubsub()
    pubsub.subscribe(f"{redis_prefix}:status")
    pubsub.get_message(timeout=1)

    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="bridge_v3"):
        relay.stop()
        for _ in range(CYCLES):
            clock.advance(60)
            run_jobs(bridge)
        failed_while_down = bridge.worker.stats().failed
        relay.start()
        clock.advance(60)
        run_jobs(bridge, "prices", "account", "heartbeat")

    lines = operator_lines(caplog)
    assert [r.levelname for r in lines] == ["WARNING", "INFO"], [r.getMessage() for r in lines]
    lost, back = (r.getMessage() for r in lines)
    assert lost.startswith(f"PostgreSQL at 127.0.0.1:{relay.port} is unreachable (")
    assert "resumes from its watermark" in lost
    # Away from the first failure seen (a cycle after the cut) to the first success.
    assert back.startswith(f"PostgreSQL at 127.0.0.1:{relay.port} answers again after 6 min")
    assert "caught up: 7 new bars stored" in back
    assert not [r for r in caplog.records if r.exc_info]  # no traceback at any level
    assert failed_while_down == 2 * CYCLES  # prices and account, every cycle, counted
    heartbeats = [
        json.loads(m["data"])
        for m in iter(lambda: pubsub.get_message(timeout=0.5), None)
        if m["type"] == "message"
    ]
    pubsub.close()
    during = heartbeats[CYCLES - 1]["data"]
    assert during["postgres"] is False
    assert during["dependencies"]["postgres"]["state"] == "down"
    assert during["dependencies"]["postgres"]["failures"] >= 2 * CYCLES
    after = heartbeats[-1]["data"]["dependencies"]["postgres"]
    assert (after["state"], after["outages"]) == ("up", 1)
    assert stored_bars(fresh_database, "EURUSD", "M1") == expected_bars(bridge.backend, clock)


def test_a_redis_outage_is_one_warning_one_info_and_nothing_lost(
    rig, fresh_database, redis_client, redis_prefix, caplog
):
    make, clock, relays = rig
    relays.append(relay := TcpRelay(REDIS_HOST, REDIS_PORT))
    bridge = make(redis_port=relay.port)
    run_jobs(bridge)

    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="bridge_v3"):
        relay.stop()
        for _ in range(CYCLES):
            clock.advance(60)
            run_jobs(bridge)
        waiting = bridge.publisher.pending
        relay.start()
        sent = bridge.publisher.flush()

    lines = operator_lines(caplog)
    assert [r.levelname for r in lines] == ["WARNING", "INFO"], [r.getMessage() for r in lines]
    lost, back = (r.getMessage() for r in lines)
    assert lost.startswith(f"Redis at 127.0.0.1:{relay.port} is unreachable (")
    assert "messages wait in" in lost
    assert back.startswith(f"Redis at 127.0.0.1:{relay.port} answers again after")
    assert f"caught up: {sent} waiting message(s) sent in order" in back
    assert not [r for r in caplog.records if r.exc_info]
    assert waiting == sent == CYCLES * 3  # a bar, a snapshot and a heartbeat per cycle
    stream = redis_client.xrange(f"{redis_prefix}:stream:bar")
    times = [json.loads(fields[b"envelope"])["data"]["time"] for _, fields in stream]
    assert len(times) == len(stored_bars(fresh_database, "EURUSD", "M1")) == len(set(times))


def test_a_terminal_outage_is_one_warning_one_info_and_the_gap_filled(
    fresh_database, redis_prefix, tmp_path, caplog
):
    clock = ManualClock(START)
    lost_at, back_at = START + 600, START + 600 + CYCLES * 60
    plan = FaultPlan(disconnected_from=lost_at, disconnected_until=back_at)
    simulation = create_simulation(SimulatorConfig(seed=7, faults=plan), clock)
    backend = TerminalBackend(
        Backend.SIMULATOR,
        "SIMULATED terminal",
        lambda: ModuleClient(simulation.terminal, "simulator"),
        clock=clock.now,
    )
    settings = settings_for(fresh_database, redis_prefix, tmp_path)
    bridge = Bridge(settings, threading.Event(), backend)
    bridge.connect()
    bridge.worker.start()
    try:
        run_jobs(bridge)
        caplog.clear()
        with caplog.at_level(logging.DEBUG, logger="bridge_v3"):
            clock.set(lost_at)
            for _ in range(CYCLES):
                clock.advance(60)
                run_jobs(bridge, "prices", "account")
            poll(lambda: _reconnected(bridge), 30)  # backoff runs on the host's clock
            run_jobs(bridge, "prices")
    finally:
        bridge.shutdown(drain_seconds=2)

    lines = operator_lines(caplog)
    assert [r.levelname for r in lines] == ["WARNING", "INFO"], [r.getMessage() for r in lines]
    lost, back = (r.getMessage() for r in lines)
    assert lost.startswith("MT5 terminal at SIMULATED terminal is unreachable (")
    assert back.startswith("MT5 terminal at SIMULATED terminal answers again after")
    assert "the gap is filled from the watermarks" in back
    assert not [r for r in caplog.records if r.exc_info]
    assert stored_bars(fresh_database, "EURUSD", "M1") == expected_bars(backend, clock)


def _reconnected(bridge: Bridge) -> bool:
    with contextlib.suppress(TerminalDisconnectedError):
        bridge.mt5.account_info()
    return bridge.mt5.connected
