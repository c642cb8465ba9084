"""Remote trading commands through the real order executor, in live mode on the paper
account: the same risk gate and intent journal as the strategies."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bridge_v3.config.secret import Secret
from tests.control.test_control_e2e import SECRET, audit, send, signed
from tests.controllers.execution_support import configured, start
from tests.controllers.trade_support import make_desk, rows


@pytest.fixture
def desk(fresh_database, redis_prefix, tmp_path):
    desk = make_desk(fresh_database, redis_prefix, tmp_path)
    desk.settings = replace(
        desk.settings,
        operations=replace(desk.settings.operations, control_secret=Secret(SECRET)),
    )
    yield desk
    for bridge in list(desk.bridges):
        desk.stop(bridge)


def test_close_stops_and_flatten_go_through_the_executor_and_its_journal(desk, fresh_database):
    bridge = start(desk, configured(desk, live=True))
    bridge.risk.run_check()
    first, second = desk.buy(0.2), desk.buy(0.1)
    bridge.trades.run()

    halted = send(bridge, signed("halt", {"reason": "test"}))
    assert halted["ok"]
    closed = send(bridge, signed("close", {"ticket": first, "volume": 0.1}))
    assert closed["ok"] and closed["result"]["status"] == "filled", closed
    position = next(p for p in desk.mt5.positions_get() if p.ticket == second)
    tighter = send(
        bridge, signed("set-sl-tp", {"ticket": second, "sl": position.price_open - 0.01})
    )
    looser = send(bridge, signed("set-sl-tp", {"ticket": second, "sl": position.price_open - 0.5}))
    flat = send(bridge, signed("flatten", {"scope": "all"}))

    assert not looser["ok"] and "HALTED" in looser["error"]  # only tighter stops pass
    assert tighter["ok"], tighter
    assert flat["ok"] and flat["result"]["positions"] == 2, flat
    assert desk.mt5.positions_get() == ()
    intents = rows(fresh_database, "SELECT kind, status FROM order_intents ORDER BY created_at")
    assert ("close", "filled") in intents
    assert [s for *_, s, _ in audit(fresh_database)][-1] == "done"
