"""initialize(timeout=ms) blocks while the terminal cannot be reached, as the real one does.

The wait goes through the injected sleep: here one that records each wait and advances
the simulated clock by it, so a test sees both the timeout passed and the time it took.
"""

from __future__ import annotations

import dataclasses
import threading

import pytest

from bridge_v3.simulator import SimulatorConfig, create_simulation
from bridge_v3.simulator.cli import build_parser, faults_from_args
from bridge_v3.simulator.clock import ManualClock
from bridge_v3.simulator.faults import FaultPlan
from tests.simulator.face_support import START

IPC_TIMEOUT = (-10005, "IPC timeout")


class ClockSleep:
    """A sleep that records each wait and moves the simulated clock on by it."""

    def __init__(self, clock: ManualClock, speed: float = 1.0) -> None:
        self.clock = clock
        self.speed = speed
        self.calls: list[float] = []
        self.during: list[object] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        self.clock.advance(seconds * self.speed)


class FastClock(ManualClock):
    """A manual clock that says it runs ``speed`` times faster than wall time."""

    def __init__(self, start: float, speed: float) -> None:
        super().__init__(start)
        self.speed = speed


def simulation(plan: FaultPlan, clock: ManualClock | None = None):
    clock = clock or ManualClock(START)
    sleep = ClockSleep(clock, getattr(clock, "speed", 1.0))
    built = create_simulation(SimulatorConfig(faults=plan), clock=clock, sleep=sleep)
    return built.terminal, clock, sleep


def test_a_starting_terminal_makes_initialize_wait_its_timeout_then_fail():
    mt5, clock, sleep = simulation(FaultPlan(starting_seconds=90))

    assert mt5.initialize(timeout=5000) is False

    assert mt5.last_error() == IPC_TIMEOUT
    assert sleep.calls == [5.0]
    assert clock.now() == START + 5


def test_the_default_timeout_is_a_minute_and_a_ready_terminal_ends_the_wait():
    mt5, clock, sleep = simulation(FaultPlan(starting_seconds=90))

    assert mt5.initialize() is False  # 60 s of the 90 s start-up
    assert mt5.initialize() is True  # ready 30 s later, within this call's minute

    assert sleep.calls == [60.0, 30.0]
    assert clock.now() == START + 90
    assert mt5.account_info() is not None
    assert mt5.initialize(timeout=1) is True and sleep.calls == [60.0, 30.0]


def test_a_disconnected_terminal_blocks_initialize_when_asked_to():
    plan = FaultPlan(disconnected_from=START, disconnected_until=START + 600)
    quick, _, quick_sleep = simulation(plan)
    blocking, clock, sleep = simulation(dataclasses.replace(plan, initialize_blocks=True))

    assert quick.initialize(timeout=2000) is False and quick_sleep.calls == []
    assert blocking.initialize(timeout=2000) is False
    assert blocking.last_error() == IPC_TIMEOUT
    assert sleep.calls == [2.0] and clock.now() == START + 2


def test_a_disconnect_that_ends_within_the_timeout_attaches_after_the_wait():
    plan = FaultPlan(disconnected_from=START, disconnected_until=START + 3, initialize_blocks=True)
    mt5, clock, sleep = simulation(plan)

    assert mt5.initialize(timeout=10_000) is True

    assert sleep.calls == [3.0] and clock.now() == START + 3
    assert mt5.account_info() is not None


def test_the_wait_is_in_real_seconds_when_the_clock_runs_faster():
    mt5, clock, sleep = simulation(FaultPlan(starting_seconds=120), FastClock(START, speed=60))

    assert mt5.initialize(timeout=5000) is True  # 120 simulated seconds are 2 real ones

    assert sleep.calls == [2.0] and clock.now() == START + 120


def test_no_other_call_reaches_the_terminal_while_initialize_waits():
    clock, built, free = ManualClock(START), [], []

    def sleep(seconds: float) -> None:
        lock = built[0]._lock  # the terminal's: what every module call holds

        def probe() -> None:
            acquired = lock.acquire(blocking=False)
            if acquired:
                lock.release()
            free.append(acquired)

        thread = threading.Thread(target=probe)
        thread.start()
        thread.join(5)
        clock.advance(seconds)

    config = SimulatorConfig(faults=FaultPlan(starting_seconds=90))
    built.append(create_simulation(config, clock=clock, sleep=sleep).terminal)

    assert built[0].initialize(timeout=1000) is False
    assert free == [False]


@pytest.mark.parametrize("bad", [-1.0, float("inf")])
def test_a_negative_or_endless_start_is_refused(bad):
    with pytest.raises(ValueError, match="starting_seconds"):
        FaultPlan(starting_seconds=bad)


def test_the_command_line_describes_a_starting_terminal():
    args = build_parser().parse_args(["serve", "--starting-seconds", "30", "--initialize-blocks"])

    plan = faults_from_args(args)

    assert (plan.starting_seconds, plan.initialize_blocks) == (30.0, True)
