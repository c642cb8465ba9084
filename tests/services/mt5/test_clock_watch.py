"""The broker clock kept right by the MT5 service, against a simulated terminal that never
tells its zone: detected at connection, checked against live ticks, distrusted when the
terminal contradicts it, trusted again when it agrees.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone

import numpy as np
import pytest

from bridge_v3.config.constants import TIMEFRAMES
from bridge_v3.config.settings import MT5Settings
from bridge_v3.services.mt5.clients import ModuleClient
from bridge_v3.services.mt5.mt5_service import MT5Service
from bridge_v3.services.server_time import BrokerClockUntrustedError, ServerTime
from bridge_v3.simulator.clock import BrokerTime, ManualClock
from bridge_v3.simulator.factory import SimulatorConfig, create_simulation

M1 = TIMEFRAMES["M1"]


def utc(*args: int) -> float:
    return datetime(*args, tzinfo=timezone.utc).timestamp()


class Host:
    """The bridge's host clock: the simulated time, off by ``skew`` seconds."""

    def __init__(self, clock: ManualClock, skew: float = 0.0) -> None:
        self.clock, self.skew = clock, skew

    def now(self) -> float:
        return self.clock.now() + self.skew


def build(sim_zone: str, bridge_zone: str, start: float, *, skew=0.0, history_days=400):
    clock = ManualClock(start)
    config = SimulatorConfig(seed=3, server_timezone=sim_zone, history_days=history_days)
    simulation = create_simulation(config, clock)
    host = Host(clock, skew)
    service = MT5Service(
        lambda: ModuleClient(simulation.terminal, "simulator"),
        MT5Settings(server_timezone=bridge_zone),
        ServerTime(bridge_zone),
        clock=host.now,
        monotonic=clock.now,
        sleep=lambda seconds: None,
    )
    return service, clock, host, simulation


def true_utc(simulation, server_times: np.ndarray) -> np.ndarray:
    return simulation.market.broker_time.to_utc_array(server_times)


@pytest.mark.parametrize("zone", ["Europe/Athens", "America/New_York+7", "UTC"])
def test_auto_detects_the_broker_clock_at_connection(zone):
    service, clock, _, simulation = build(zone, "auto", utc(2026, 11, 18, 12))
    service.connect(["EURUSD", "BTCUSD"])

    status = service.clock_watch.status()
    assert status["trusted"] and status["problem"] is None
    assert status["detected"].startswith(status["zone"])
    rates = service.rates_range("EURUSD", M1.mt5, clock.now() - 3600, clock.now())
    server = simulation.terminal.copy_rates_range(
        "EURUSD", M1.mt5, int(rates["time"][0]) - 7 * 3600, int(clock.now()) + 14 * 3600
    )
    expected = true_utc(simulation, server["time"])
    assert set(rates["time"].tolist()) <= set(expected.tolist())


def test_detection_runs_on_the_history_whatever_day_the_bridge_starts():
    # A Sunday morning: the forex market is closed and no tick is live.
    service, _, _, _ = build("America/New_York+7", "auto", utc(2026, 11, 22, 9))
    service.connect(["EURUSD"])
    assert service.clock_watch.status()["zone"] == "America/New_York+7"
    assert service.server_time.trusted


@pytest.mark.parametrize("skew", [-4.0, 4.0])
def test_a_host_clock_a_few_seconds_off_is_trusted(skew):
    service, clock, _, _ = build("Europe/Athens", "auto", utc(2026, 11, 18, 12), skew=skew)
    service.connect(["EURUSD", "BTCUSD"])
    for _ in range(5):
        clock.advance(60)
        assert service.check_clock()["trusted"]


def test_a_wrong_configured_zone_is_contradicted_by_live_ticks_and_nothing_converts(caplog):
    service, clock, _, _ = build("Europe/Athens", "Europe/London", utc(2026, 11, 18, 12))
    with caplog.at_level(logging.ERROR):
        service.connect(["EURUSD"])

    status = service.clock_watch.status()
    assert not status["trusted"] and "future" in status["problem"]
    with pytest.raises(BrokerClockUntrustedError):
        service.rates_range("EURUSD", M1.mt5, clock.now() - 3600, clock.now())
    clock.advance(60)
    service.check_clock()
    errors = [r.getMessage() for r in caplog.records if "contradicted" in r.getMessage()]
    assert len(errors) == 1  # once per change of state, not once per check


def test_a_contradiction_that_goes_away_resumes_conversion(caplog):
    service, clock, host, _ = build("Europe/Athens", "auto", utc(2026, 11, 18, 12))
    service.connect(["EURUSD", "BTCUSD"])
    host.skew = -2 * 3600  # the host clock falls two hours behind: ticks from its future

    clock.advance(60)
    assert not service.check_clock()["trusted"]

    host.skew = 0.0
    with caplog.at_level(logging.INFO):
        clock.advance(60)
        assert service.check_clock()["trusted"]
    assert any("agrees with the terminal again" in r.getMessage() for r in caplog.records)
    assert len(service.rates_range("EURUSD", M1.mt5, clock.now() - 600, clock.now())) >= 9


def test_a_stale_looking_tick_while_ticks_flow_is_a_contradiction():
    # The host clock two hours ahead: the terminal's ticks keep coming but look two hours
    # old, which no live market can be.
    service, clock, host, _ = build("Europe/Athens", "auto", utc(2026, 11, 18, 12))
    service.connect(["EURUSD", "BTCUSD"])
    host.skew = 2 * 3600
    service.check_clock()  # first look at the skewed clock
    clock.advance(60)
    status = service.check_clock()
    assert not status["trusted"] and "older" in status["problem"]


def test_an_ambiguous_history_is_held_while_the_fitting_clocks_disagree_then_resolved():
    # 60 days of history ending on Saturday 24 October 2026: every weekend seen fits both
    # Athens and New York + 7. They part when Athens leaves summer time on Sunday 25th.
    service, clock, _, _ = build("Europe/Athens", "auto", utc(2026, 10, 24, 12), history_days=60)
    service.connect(["EURUSD", "BTCUSD"])
    assert "America/New_York+7" in service.clock_watch.detection.ambiguous_with
    assert service.server_time.trusted  # they agree about now

    clock.set(utc(2026, 10, 25, 12))  # Sunday, after the European change
    status = service.check_clock()
    assert not status["trusted"] and "disagree about now" in status["problem"]

    clock.set(utc(2026, 10, 25, 22, 30))  # the week has opened at 21:00 UTC
    status = service.check_clock()
    assert status["trusted"] and status["zone"] == "Europe/Athens"
    assert "America/New_York+7" not in service.clock_watch.detection.ambiguous_with


def test_conversions_follow_the_zone_across_a_daylight_saving_change_in_one_process():
    # Connected on Friday 23 October 2026 (Athens on UTC+3), still running on Monday 26th
    # (UTC+2): the detected zone, not the offset seen at connection, converts Monday's bars.
    service, clock, _, simulation = build("Europe/Athens", "auto", utc(2026, 10, 23, 12))
    service.connect(["EURUSD"])
    clock.set(utc(2026, 10, 26, 10, 30))
    assert service.check_clock()["trusted"]

    rates = service.rates_range("EURUSD", M1.mt5, utc(2026, 10, 26, 10), utc(2026, 10, 26, 10, 20))
    assert rates["time"][0] == utc(2026, 10, 26, 10)
    server = BrokerTime("Europe/Athens").to_server(utc(2026, 10, 26, 10))
    assert server - utc(2026, 10, 26, 10) == 2 * 3600


def test_a_crypto_only_bridge_reads_the_clock_from_the_brokers_forex_pairs():
    service, _, _, _ = build("America/New_York+7", "auto", utc(2026, 11, 18, 12))
    service.connect(["BTCUSD", "ETHUSD"])  # they trade all week: no weekend to read
    status = service.clock_watch.status()
    assert status["zone"] == "America/New_York+7" and status["trusted"]
