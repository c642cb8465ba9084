"""Circuit breakers around a cut TCP relay: PostgreSQL goes away, the jobs that need it fail
until its breaker opens, are then held (counted, nothing called, no traceback), one probe
goes through after the cool-down, and the breaker closes once PostgreSQL answers."""

from __future__ import annotations

import logging
from dataclasses import replace

from bridge_v3.config.constants import Priority
from bridge_v3.services.mt5.backends import simulator_backend
from tests.test_daemon_faults import idle, poll, settings_for


def run(bridge, job, name: str = "prices") -> None:
    done = sum(_outcomes(bridge)) + 1
    bridge.worker.submit(name, job, Priority.NORMAL)
    poll(lambda: idle(bridge) and sum(_outcomes(bridge)) >= done)


def _outcomes(bridge) -> tuple[int, int, int]:
    stats = bridge.worker.stats()
    return stats.completed, stats.failed, stats.held


def breaker(bridge) -> dict:
    return bridge.database.dependency.snapshot()["breaker"]


def test_the_postgres_breaker_opens_holds_jobs_probes_and_closes(
    fresh_database, redis_prefix, tmp_path, clock, relays, bridges, caplog
):
    relay = relays(fresh_database["host"], fresh_database["port"])
    settings = settings_for(fresh_database, redis_prefix, tmp_path, pg_port=relay.port)
    ops = replace(settings.operations, breaker_failures=3, breaker_cooldown=30)
    bridge = bridges(
        replace(settings, operations=ops), simulator_backend(settings.simulator, clock)
    )
    bridge.worker.start()
    prices = bridge._needs(bridge.sync_prices, "terminal", "postgres")  # as scheduled
    run(bridge, prices)
    assert breaker(bridge)["state"] == "closed"

    with caplog.at_level(logging.DEBUG, logger="bridge_v3"):
        relay.stop()
        for _ in range(3):
            clock.advance(5)
            run(bridge, prices)
        assert breaker(bridge)["state"] == "open"
        failures = bridge.database.dependency.snapshot()["failures"]
        for _ in range(3):
            clock.advance(5)
            run(bridge, prices)  # held: PostgreSQL is not called
        assert bridge.worker.stats().held == 3
        assert bridge.database.dependency.snapshot()["failures"] == failures

        clock.advance(15)  # the cool-down is over: one probe, which fails
        run(bridge, prices)
        assert breaker(bridge)["state"] == "open"
        clock.advance(5)
        run(bridge, prices)
        assert bridge.worker.stats().held == 4

        relay.start()
        clock.advance(30)
        run(bridge, prices)  # the probe: PostgreSQL answers, the bars are stored

    assert breaker(bridge)["state"] == "closed" and breaker(bridge)["opened"] == 1
    assert bridge.database.dependency.up
    assert not [r for r in caplog.records if r.exc_info]  # no traceback at any level
    stats = bridge.worker.stats()
    assert (stats.failed, stats.held) == (4, 4)
    heartbeat = bridge.status.snapshot()
    assert heartbeat["dependencies"]["postgres"]["breaker"]["held"] == 4
    assert heartbeat["worker"]["held"] == 4
