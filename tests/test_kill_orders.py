"""``kill -9`` of a live bridge between journalling an order and sending it, or between
sending it and recording its answer: the restarted bridge resolves the intent by looking
the order up, and never sends it again, so no position is ever doubled.

The terminal is a simulator server in this process; the bridge is a child process killed
with SIGKILL (``tests/kill_order_child.py``) and started again, as a service manager would.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bridge_v3.simulator.clock import ManualClock
from bridge_v3.simulator.factory import SimulatorConfig, create_simulation
from bridge_v3.simulator.served_control import MODULE_NAME
from bridge_v3.simulator.server import SimulatorServer
from tests.conftest import REDIS_HOST, REDIS_PORT
from tests.controllers.execution_support import LOGIN, intents
from tests.controllers.trade_support import START

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def server():
    simulation = create_simulation(SimulatorConfig(seed=7), ManualClock(START))
    served = SimulatorServer(simulation, port=0)
    served.start()
    yield served
    served.stop()
    for name in ("MetaTrader5", MODULE_NAME):
        sys.modules.pop(name, None)


def run_child(config: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tests.kill_order_child", json.dumps(config)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("point", "status", "orders"), [("after-journal", "failed", 0), ("after-send", "filled", 1)]
)
def test_a_kill_around_order_send_never_doubles_the_order(
    point, status, orders, server, fresh_database, redis_prefix, tmp_path
):
    config = {
        "pg": fresh_database,
        "redis_host": REDIS_HOST,
        "redis_port": REDIS_PORT,
        "prefix": redis_prefix,
        "spool": str(tmp_path / "outbox.sqlite3"),
        "port": server.address[1],
        "login": LOGIN,
        "now": START,
        "kill": point,
    }
    simulation = server.simulation

    killed = run_child(config)
    journal = intents(fresh_database)
    simulation.clock.advance(120)  # the restart comes two minutes later
    restarted = run_child(dict(config, now=START + 120, kill=None))

    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    assert restarted.returncode == 0, restarted.stderr[-3000:]
    assert [i["status"] for i in journal] == ["pending"]  # committed before the send
    (intent,) = intents(fresh_database)
    assert intent["intent_id"] == journal[0]["intent_id"] and intent["status"] == status
    assert json.loads(restarted.stdout.strip().splitlines()[-1]) == {"unresolved": []}
    assert simulation.calls().get("order_send", 0) == orders  # never sent a second time
    with simulation.lock:
        assert len(simulation.broker.positions()) == orders
