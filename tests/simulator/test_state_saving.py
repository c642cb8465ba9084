"""State saved while the simulator runs: a kill loses at most one interval, and the
simulated clock never goes back on restart, even when it runs faster than wall time."""

from __future__ import annotations

import os
import selectors
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from bridge_v3.config.settings import SimulatorSettings
from bridge_v3.services.mt5.backends import simulator_backend
from bridge_v3.simulator import SimulatorConfig, create_simulation
from bridge_v3.simulator.saver import StateSaver
from bridge_v3.simulator.state import load_state
from bridge_v3.simulator.state import save_state as write_state

REPO = Path(__file__).resolve().parents[2]
START = 1772614800.0  # Wednesday 2026-03-04 09:00 UTC
SPEED, INTERVAL = 10.0, 30.0
CHILD_SECONDS = 60.0
OLD_FILE_LACKS = ("format", "version", "clock_saved_at", "clock_lease", "clock_speed")


class HostClock:
    """The host's wall clock, moved by hand."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def config(tmp_path) -> SimulatorConfig:
    return SimulatorConfig(
        state_file=str(tmp_path / "state.json"), speed=SPEED, start=START, save_interval=INTERVAL
    )


def save(config: SimulatorConfig, host: HostClock, final: bool) -> float:
    """Run a simulation, save it as the saver does; return the clock reading saved."""
    simulation = create_simulation(config, wall_time=host)
    StateSaver(simulation, simulation.lock, INTERVAL).save(final=final)
    return load_state(config.state_file)["clock_utc"]


def restarted_clock(config: SimulatorConfig, host: HostClock) -> float:
    return create_simulation(config, wall_time=host).clock.now()


def test_after_a_kill_the_clock_resumes_where_it_could_have_got_to(config):
    host = HostClock(START + 1000)
    saved = save(config, host, final=False)

    host.now += 20  # killed some time in these 20 s, its clock running 10x

    assert restarted_clock(config, host) >= saved + SPEED * 20


def test_the_resumed_clock_runs_on_at_most_two_intervals_after_a_save(config):
    host = HostClock(START + 1000)
    saved = save(config, host, final=False)

    host.now += 86_400  # restarted a day later

    resumed = restarted_clock(config, host)
    assert saved + SPEED * 2 * INTERVAL <= resumed < saved + SPEED * 2 * INTERVAL + 60


def test_after_a_clean_stop_the_clock_resumes_where_it_stopped(config):
    host = HostClock(START + 1000)
    saved = save(config, host, final=True)

    host.now += 86_400

    resumed = restarted_clock(config, host)
    assert saved <= resumed < saved + 60


def test_a_state_file_without_the_lease_resumes_at_its_reading(config):
    saved = save(config, HostClock(START + 1000), final=False)
    document = load_state(config.state_file)
    kept = {k: v for k, v in document.items() if k not in OLD_FILE_LACKS}
    write_state(config.state_file, kept)

    assert saved <= restarted_clock(config, HostClock(START + 9e5)) < saved + 60


# -- the bridge's in-process simulator, killed -------------------------------------------------

CHILD = textwrap.dedent(
    """
    import json, sys, time
    from bridge_v3.config.settings import SimulatorSettings
    from bridge_v3.services.mt5.backends import simulator_backend

    path = sys.argv[1]
    settings = SimulatorSettings(state_file=path, speed=100.0, seed=3)
    backend = simulator_backend(settings, save_interval=0.5)
    client = backend.open_client()
    client.call("initialize")
    sent, error = client.call("Buy", "BTCUSD", 0.01)
    assert sent["retcode"] == 10009, (sent, error)
    while True:  # until a save made in passing holds the new position
        try:
            with open(path) as stream:
                positions = json.load(stream)["broker"]["ledger"]["positions"]
            if [p["ticket"] for p in positions] == [sent["order"]]:
                break
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.01)
    print(sent["order"], repr(backend.clock()), flush=True)
    time.sleep(600)
    """
)


def first_line(process: subprocess.Popen) -> str:
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + CHILD_SECONDS
        while time.monotonic() < deadline:
            line = process.stdout.readline() if selector.select(timeout=0.5) else ""
            if line:
                return line
            if process.poll() is not None:
                break
    pytest.fail(f"no line from the child (exit {process.poll()}): {process.stderr.read()}")


def test_a_killed_bridge_keeps_its_simulated_account_and_time_goes_on(tmp_path):
    path = tmp_path / "sim.json"
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    child = subprocess.Popen(
        [sys.executable, str(script), str(path)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        ticket, seen = first_line(child).split()
    finally:
        child.kill()  # SIGKILL: no clean stop, no last save
        child.wait(timeout=CHILD_SECONDS)

    backend = simulator_backend(SimulatorSettings(state_file=str(path), speed=100.0, seed=3))
    try:
        client = backend.open_client()
        client.call("initialize")
        positions, _ = client.call("positions_get")
        assert [p["ticket"] for p in positions] == [int(ticket)]
        assert backend.clock() >= float(seen)
    finally:
        backend.close()
