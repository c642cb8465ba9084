"""The risk state machine alone: what a reading calls for, confirmation, the latch."""

from __future__ import annotations

import pytest

from bridge_v3.controllers.risk_machine import RiskMachine, daily_loss_pct
from bridge_v3.models.risk import RiskLimits, RiskReading, RiskState

ACTIVE, REDUCING, HALTED = RiskState.ACTIVE, RiskState.REDUCING, RiskState.HALTED
LIMITS = RiskLimits(max_daily_loss_pct=5, reducing_at_pct=80, min_margin_level=200, max_positions=5)


def reading(equity=10_000.0, margin=0.0, level=0.0) -> RiskReading:
    return RiskReading(0.0, 10_000.0, equity, margin, level, equity - 10_000.0)


def walk(machine: RiskMachine, state: RiskState, losses: list[float], **figures) -> list[RiskState]:
    states = []
    for loss in losses:
        move = machine.observe(state, machine.call(loss, reading(**figures)))
        state = move.state if move else state
        states.append(state)
    return states


def test_daily_loss_is_on_the_day_start_equity():
    assert daily_loss_pct(10_000, 9_400) == pytest.approx(6.0)
    assert daily_loss_pct(10_000, 10_500) == pytest.approx(-5.0)


@pytest.mark.parametrize(
    ("loss", "expected"),
    [(0.0, ACTIVE), (3.99, ACTIVE), (4.0, REDUCING), (4.99, REDUCING), (5.0, HALTED), (40, HALTED)],
)
def test_what_a_reading_calls_for(loss, expected):
    assert RiskMachine(LIMITS, 2).call(loss, reading()).state is expected


def test_a_low_margin_level_calls_for_reducing_but_no_margin_in_use_does_not():
    machine = RiskMachine(LIMITS, 1)
    low = machine.call(0.0, reading(margin=5_000, level=150))
    assert low.state is REDUCING and "MIN_MARGIN_LEVEL" in low.reason
    assert machine.call(0.0, reading(margin=0.0, level=0.0)).state is ACTIVE


def test_a_breach_must_be_seen_on_consecutive_readings():
    assert walk(RiskMachine(LIMITS, 2), ACTIVE, [6, 1, 6, 1, 6, 6]) == [
        ACTIVE, ACTIVE, ACTIVE, ACTIVE, ACTIVE, HALTED,
    ]  # fmt: skip
    assert walk(RiskMachine(LIMITS, 3), ACTIVE, [6, 6, 6]) == [ACTIVE, ACTIVE, HALTED]


def test_mixed_breaches_move_to_the_mildest_all_agree_on():
    assert walk(RiskMachine(LIMITS, 2), ACTIVE, [6, 4.5, 6, 6]) == [
        ACTIVE, REDUCING, REDUCING, HALTED,
    ]  # fmt: skip


def test_reducing_lifts_itself_once_clear_readings_are_confirmed():
    assert walk(RiskMachine(LIMITS, 2), REDUCING, [1, 4.5, 1, 1]) == [
        REDUCING, REDUCING, REDUCING, ACTIVE,
    ]  # fmt: skip


def test_halted_never_moves_down_by_itself():
    assert walk(RiskMachine(LIMITS, 1), HALTED, [0, -10, 0, 4.5]) == [HALTED] * 4


def test_forgetting_starts_the_count_again():
    machine = RiskMachine(LIMITS, 2)
    walk(machine, ACTIVE, [6])
    machine.forget()
    assert walk(machine, ACTIVE, [6]) == [ACTIVE]


@pytest.mark.parametrize("equity", [float("nan"), float("inf"), 0.0, -50.0])
def test_readings_that_cannot_be_used_say_why(equity):
    assert reading(equity=equity).problem is not None
    assert reading().problem is None
