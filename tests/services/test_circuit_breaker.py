"""The circuit breaker: open after N failures in a row, one probe per cool-down, closed by a
success; fed by the Dependency tracker and guarding jobs."""

from __future__ import annotations

import pytest

from bridge_v3.exceptions import CircuitOpenError
from bridge_v3.services.circuit_breaker import CircuitBreaker, guarded
from bridge_v3.services.dependency import Dependency


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_opens_after_threshold_failures_in_a_row_only():
    clock = Clock()
    breaker = CircuitBreaker(3, 30.0, clock=clock)

    breaker.record_failure()
    breaker.record_failure()
    breaker.record_success()  # the run is broken: counting starts again
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.allow() and breaker.state.value == "closed"
    breaker.record_failure()

    assert breaker.state.value == "open"
    assert [breaker.allow() for _ in range(4)] == [False] * 4
    snapshot = breaker.snapshot()
    assert (snapshot["opened"], snapshot["held"], snapshot["probe_in_seconds"]) == (1, 4, 30.0)


def test_one_probe_per_cooldown_then_closed_by_a_success():
    clock = Clock()
    breaker = CircuitBreaker(1, 30.0, clock=clock)
    breaker.record_failure()

    clock.now += 29.9
    assert not breaker.allow()
    clock.now += 0.1
    assert breaker.allow()  # the probe
    assert breaker.state.value == "half_open"
    assert not breaker.allow()  # everyone else waits for the probe's answer
    breaker.record_success()

    assert breaker.state.value == "closed"
    assert all(breaker.allow() for _ in range(3))


def test_a_failed_probe_opens_it_for_another_cooldown():
    clock = Clock()
    breaker = CircuitBreaker(2, 10.0, clock=clock)
    breaker.record_failure()
    breaker.record_failure()
    clock.now += 10
    assert breaker.allow()

    breaker.record_failure()

    assert breaker.state.value == "open"
    clock.now += 9
    assert not breaker.allow()
    clock.now += 1
    assert breaker.allow()
    assert breaker.snapshot()["opened"] == 1  # the same outage


def test_a_probe_that_never_answers_lets_the_next_one_through_a_cooldown_later():
    clock = Clock()
    breaker = CircuitBreaker(1, 10.0, clock=clock)
    breaker.record_failure()
    clock.now += 10
    assert breaker.allow()  # a job that then did not reach the dependency

    clock.now += 5
    assert not breaker.allow()
    clock.now += 5
    assert breaker.allow()


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="threshold"):
        CircuitBreaker(0, 1.0)
    with pytest.raises(ValueError, match="cooldown"):
        CircuitBreaker(1, 0.0)


def test_the_tracker_feeds_its_breaker_and_shows_it():
    clock = Clock()
    dependency = Dependency(
        "PostgreSQL", "127.0.0.1:5432", clock=clock, breaker=CircuitBreaker(2, 30.0, clock=clock)
    )

    dependency.failed("refused")
    assert dependency.allows()
    dependency.failed("refused")
    assert not dependency.allows()
    assert dependency.snapshot()["breaker"]["state"] == "open"
    clock.now += 30
    assert dependency.allows()
    dependency.succeeded()

    assert dependency.snapshot()["breaker"]["state"] == "closed"
    assert dependency.up


def test_a_guarded_job_is_held_while_a_breaker_is_open_and_nothing_is_called():
    clock = Clock()
    terminal = Dependency(
        "MT5 terminal", "sim", clock=clock, breaker=CircuitBreaker(1, 5.0, clock=clock)
    )
    database = Dependency(
        "PostgreSQL", "pg", clock=clock, breaker=CircuitBreaker(1, 5.0, clock=clock)
    )
    calls: list[int] = []
    job = guarded(lambda: calls.append(1), [terminal, database])

    database.failed("refused")
    with pytest.raises(CircuitOpenError, match="PostgreSQL breaker open"):
        job()
    clock.now += 5
    job()  # the probe
    database.succeeded()
    job()

    assert calls == [1, 1]
