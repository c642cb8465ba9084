"""Shutdown (DESIGN §3.8): scheduler, worker drained, final heartbeat, pools, terminal last.

The order is observed on the real objects: their stop/close methods are wrapped to record
when they begin and end, queued tasks record when they run, and the terminal client
records the ``shutdown()`` call that reaches the simulated terminal.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import replace

import pytest

from bridge_v3.config.constants import Priority
from bridge_v3.config.settings import WorkerSettings
from bridge_v3.daemon import Bridge
from bridge_v3.exceptions import TerminalDisconnectedError
from bridge_v3.services.mt5.backends import TerminalBackend, simulator_backend
from bridge_v3.simulator.clock import ManualClock
from tests.services.test_retry import CountingEvent
from tests.test_daemon_e2e import START
from tests.test_daemon_faults import settings_for


class Journal:
    """What happened, in order, from any thread."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self._lock = threading.Lock()

    def add(self, event: str) -> None:
        with self._lock:
            self.events.append(event)

    def at(self, event: str) -> int:
        return self.events.index(event)

    def spy(self, monkeypatch, obj, method: str, label: str, on_begin=None) -> None:
        """Record ``label:begin`` and ``label:end`` around ``obj.method`` (still called)."""
        original = getattr(obj, method)

        def wrapper(*args, **kwargs):
            self.add(f"{label}:begin")
            if on_begin is not None:
                on_begin()
            try:
                return original(*args, **kwargs)
            finally:
                self.add(f"{label}:end")

        monkeypatch.setattr(obj, method, wrapper)


class JournalledClient:
    """The simulator's client, recording the terminal's ``shutdown()`` as it happens."""

    def __init__(self, client, journal: Journal) -> None:
        self._client = client
        self._journal = journal
        self.name = client.name

    def call(self, function: str, *args, **kwargs):
        if function == "shutdown":
            self._journal.add("mt5.shutdown")
        return self._client.call(function, *args, **kwargs)

    def close(self) -> None:
        self._client.close()


def journalled_backend(settings, clock, journal: Journal) -> TerminalBackend:
    real = simulator_backend(settings.simulator, clock)
    return TerminalBackend(
        real.kind,
        real.description,
        lambda: JournalledClient(real.open_client(), journal),
        clock=clock.now,
        close=lambda: journal.add("backend.close"),
    )


@pytest.fixture
def journal():
    return Journal()


def test_shutdown_is_ordered_and_ends_with_a_stopped_heartbeat(
    fresh_database, redis_client, redis_prefix, tmp_path, journal, monkeypatch
):
    clock = ManualClock(START)
    settings = settings_for(fresh_database, redis_prefix, tmp_path)
    settings = replace(settings, worker=WorkerSettings(max_workers=1))
    bridge = Bridge(settings, threading.Event(), journalled_backend(settings, clock, journal))
    bridge.connect()
    pubsub = redis_client.pubsub()
    pubsub.subscribe(f"{redis_prefix}:status")
    pubsub.get_message(timeout=1)

    # One thread; a task holds it until the worker is told to stop, so the tasks queued
    # behind it are still waiting when shutdown begins: draining must run them.
    gate = threading.Event()
    bridge.worker.submit("gate", lambda: gate.wait(10), Priority.CRITICAL)
    for n in range(3):
        bridge.worker.submit(f"late-{n}", lambda n=n: journal.add(f"task:late-{n}"), Priority.LOW)
    journal.spy(monkeypatch, bridge.worker, "stop", "worker.stop", on_begin=gate.set)
    for obj, method, label in [
        (bridge.scheduler, "stop", "scheduler.stop"),
        (bridge.redis, "close", "redis.close"),
        (bridge.outbox, "close", "outbox.close"),
        (bridge.database, "close", "database.close"),
        (bridge.mt5, "shutdown", "mt5_service.shutdown"),
    ]:
        journal.spy(monkeypatch, obj, method, label)
    beat = bridge.status.beat
    monkeypatch.setattr(
        bridge.status,
        "beat",
        lambda state="running": (journal.add(f"beat:{state}"), beat(state))[1],
    )

    runner = threading.Thread(target=bridge.run, daemon=True)
    runner.start()
    deadline = time.monotonic() + 10
    while (
        bridge.worker.stats().queued < 3 + len(bridge.scheduler.jobs())
        or not bridge.scheduler.jobs()
    ):
        assert time.monotonic() < deadline, "the bridge never queued its jobs"
        time.sleep(0.01)
    bridge.stop_event.set()
    runner.join(10)
    bridge.shutdown(drain_seconds=10)

    at = journal.at
    assert at("scheduler.stop:end") < at("worker.stop:begin")
    late = [at(f"task:late-{n}") for n in range(3)]
    assert at("worker.stop:begin") < min(late) and max(late) < at("worker.stop:end")
    assert at("worker.stop:end") < at("beat:stopped") < at("redis.close:begin")
    for pool in ("redis.close", "outbox.close", "database.close"):
        assert at("worker.stop:end") < at(f"{pool}:begin")
        assert at(f"{pool}:end") < at("mt5.shutdown")
    assert at("mt5_service.shutdown:begin") < at("mt5.shutdown") < at("backend.close")
    assert journal.events[-1] == "backend.close"

    statuses = []
    while (message := pubsub.get_message(timeout=0.5)) is not None:
        if message["type"] == "message":
            statuses.append(json.loads(message["data"]))
    pubsub.close()
    assert statuses and statuses[-1]["type"] == "status"
    assert statuses[-1]["data"]["state"] == "stopped"
    assert statuses[-1]["data"]["postgres"] is True  # sent before the pool closed
    last = json.loads(redis_client.get(f"{redis_prefix}:last:status"))
    assert last["data"]["state"] == "stopped"

    assert not bridge.database.health()
    with pytest.raises(TerminalDisconnectedError):
        bridge.mt5.account_info()  # the terminal is not initialised again
    assert journal.events.count("mt5.shutdown") == 1


def test_shutdown_is_bounded_when_a_task_never_returns(
    fresh_database, redis_prefix, tmp_path, journal, caplog
):
    clock = ManualClock(START)
    settings = settings_for(fresh_database, redis_prefix, tmp_path)
    bridge = Bridge(settings, threading.Event(), journalled_backend(settings, clock, journal))
    bridge.connect()
    stuck = threading.Event()
    bridge.worker.start()
    bridge.worker.submit("stuck", lambda: stuck.wait(30), Priority.NORMAL)
    try:
        with caplog.at_level(logging.WARNING, logger="bridge_v3.daemon"):
            bridge.shutdown(drain_seconds=0.2)
    finally:
        stuck.set()
    assert "stuck" in caplog.text and "not finished at shutdown" in caplog.text
    assert journal.events[-2:] == ["mt5.shutdown", "backend.close"]
    assert not bridge.database.health()


def test_run_waits_for_the_stop_in_short_slices(fresh_database, redis_prefix, tmp_path, journal):
    # On Windows an untimed wait is not interrupted by Ctrl+C: the handler would never run.
    clock = ManualClock(START)
    settings = settings_for(fresh_database, redis_prefix, tmp_path)
    stop = CountingEvent()
    bridge = Bridge(settings, stop, journalled_backend(settings, clock, journal))
    bridge.connect()
    runner = threading.Thread(target=bridge.run, daemon=True)
    runner.start()
    deadline = time.monotonic() + 10
    while len(stop.timeouts) < 3:
        assert time.monotonic() < deadline, "run() never waited"
        time.sleep(0.05)
    stop.set()
    runner.join(10)
    bridge.shutdown()

    assert not runner.is_alive()
    assert stop.timeouts and all(t is not None and t <= 1.0 for t in stop.timeouts)
