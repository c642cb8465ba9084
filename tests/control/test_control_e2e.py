"""Signed remote control against a running bridge: real PostgreSQL and Redis, a simulated
terminal traded by hand.

Commands go in as bytes on ``{prefix}:control`` (through the bridge's listener), or straight
to its service; replies are read from ``{prefix}:stream:control_reply``; the audit from
``control_commands``. Every forgery is refused, replied, audited and never executed.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import jsonschema
import pytest

from bridge_v3 import schemas
from bridge_v3.config.secret import Secret
from bridge_v3.control import envelope as env
from bridge_v3.control.cli import main as control_cli
from bridge_v3.services.mt5.contract import constants as mc
from tests.controllers.trade_support import make_desk, published, rows
from tests.test_daemon_faults import poll

SECRET = "k3y-for-the-control-tests-0123456789"
BUY = {"action": mc.TRADE_ACTION_DEAL, "symbol": "EURUSD", "volume": 0.1, "type": mc.ORDER_TYPE_BUY}


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


@pytest.fixture
def bridge(desk):
    bridge = desk.bridge()
    bridge.risk.run_check()  # a first check, as the bridge makes right after its start
    return bridge


def now() -> datetime:
    return datetime.now(timezone.utc)


def signed(command: str, args: dict | None = None, *, secret: str = SECRET, **fields) -> dict:
    return env.build(
        command, args, by="alice", secret=secret, issued_at=fields.pop("at", now()), **fields
    )


def send(bridge, message) -> dict:
    """Straight to the bridge's control service; returns the reply's data."""
    raw = message if isinstance(message, (bytes, str)) else json.dumps(message)
    return bridge.operations.control.handle(raw).data


def audit(pg: dict) -> list[tuple]:
    return rows(
        pg, "SELECT command_id, command, issued_by, status, code FROM control_commands ORDER BY id"
    )


def risk_state(pg: dict) -> str:
    return rows(pg, "SELECT value->>'state' FROM bridge_state WHERE key = 'risk_state'")[0][0]


def replies(prefix: str) -> list[dict]:
    return [m["data"] for m in published(prefix, "control_reply")]


# -- accepted -------------------------------------------------------------------------------


def test_status_halt_and_resume_signed_correctly_work_and_are_audited(
    bridge, fresh_database, redis_prefix
):
    status = send(bridge, signed("status", command_id="s-1"))
    assert status["ok"] and status["result"]["state"] == "running"
    assert status["result"]["risk"]["state"] == "ACTIVE"

    halted = send(bridge, signed("halt", {"reason": "news at 14:30"}, command_id="h-1"))
    assert halted["ok"] and halted["result"]["changed"]
    assert risk_state(fresh_database) == "HALTED"
    assert not bridge.risk.check(BUY)  # an opening order is refused at once
    events = rows(fresh_database, "SELECT kind, state, reason FROM risk_events ORDER BY id")
    assert events[-1] == ("state_change", "HALTED", "halted by alice: news at 14:30")
    risk = [m["data"] for m in published(redis_prefix, "risk")]
    assert (risk[-1]["state"], risk[-1]["previous_state"]) == ("HALTED", "ACTIVE")

    resumed = send(bridge, signed("resume", command_id="r-1"))
    assert resumed["ok"] and resumed["result"]["lifted"]
    bridge.risk.run_check()  # the check the command asked for
    assert risk_state(fresh_database) == "ACTIVE"
    assert bridge.risk.check(BUY)
    events = rows(fresh_database, "SELECT kind, acknowledged_by FROM risk_events ORDER BY id")
    assert events[-1] == ("reset", "alice")

    assert audit(fresh_database) == [
        ("s-1", "status", "alice", "done", None),
        ("h-1", "halt", "alice", "done", None),
        ("r-1", "resume", "alice", "done", None),
    ]
    assert [r["id"] for r in replies(redis_prefix)] == ["s-1", "h-1", "r-1"]


def test_a_command_through_redis_is_answered_on_the_reply_channel(
    bridge, redis_client, redis_prefix
):
    bridge.operations.start()
    assert bridge.operations.listener.listening.wait(5)

    message = json.dumps(signed("status", command_id="p-1"))
    assert redis_client.publish(f"{redis_prefix}:control", message) == 1

    poll(lambda: replies(redis_prefix) != [])
    (reply,) = replies(redis_prefix)
    assert (reply["id"], reply["ok"], reply["command"]) == ("p-1", True, "status")
    assert bridge.operations.listener.handled == 1


def test_the_command_line_signs_sends_and_prints_the_reply(
    bridge, redis_prefix, monkeypatch, capsys
):
    bridge.operations.start()
    assert bridge.operations.listener.listening.wait(5)
    monkeypatch.setenv("TEST_CONTROL_KEY", SECRET)
    common = ["--secret-env", "TEST_CONTROL_KEY", "--prefix", redis_prefix, "--by", "bob"]

    assert control_cli([*common, "halt", "--reason", "by hand"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["ok"] and printed["result"]["state"] == "HALTED"

    monkeypatch.setenv("TEST_CONTROL_KEY", "a-wrong-key-0123456789")
    assert control_cli([*common, "resume"]) == 1
    assert json.loads(capsys.readouterr().out)["code"] == "bad_signature"
    assert bridge.risk.state.value == "HALTED"

    assert control_cli([*common, "--prefix", f"{redis_prefix}x", "status"]) == 2
    assert "No bridge listens" in capsys.readouterr().err


# -- refused --------------------------------------------------------------------------------


def forgeries(bridge) -> dict[str, object]:
    replayed = signed("halt", command_id="f-replayed")
    assert send(bridge, replayed)["ok"]  # the original: runs once
    send(bridge, signed("resume", command_id="f-undo"))
    tampered = signed("status", command_id="f-tampered")
    tampered["command"] = "halt"
    unsigned = signed("halt", command_id="f-unsigned")
    del unsigned["signature"]
    return {
        "bad_signature": signed("halt", command_id="f-key", secret="not-the-key-0123456789"),
        "tampered": tampered,
        "stale": signed("halt", command_id="f-stale", at=now() - timedelta(seconds=31)),
        "future": signed("halt", command_id="f-future", at=now() + timedelta(seconds=60)),
        "replayed": replayed,
        "unsigned": unsigned,
        "unknown_command": signed("launch-rockets", command_id="f-unknown"),
        "unknown_ticket": signed("close", {"ticket": 987654}, command_id="f-ticket"),
        "bad_arguments": signed("halt", {"why": "x"}, command_id="f-args"),
        "malformed": b'{"id": "f-json", "command": "halt", ',
        "not_an_object": b"[1, 2, 3]",
    }


def test_every_forgery_is_refused_replied_audited_and_never_executed(
    bridge, fresh_database, redis_prefix
):
    cases = forgeries(bridge)
    before = len(audit(fresh_database))

    answers = {name: send(bridge, message) for name, message in cases.items()}

    codes = {name: answer["code"] for name, answer in answers.items()}
    assert codes == {
        "bad_signature": "bad_signature",
        "tampered": "bad_signature",
        "stale": "stale",
        "future": "future",
        "replayed": "replayed",
        "unsigned": "unsigned",
        "unknown_command": "unknown_command",
        "unknown_ticket": "unknown_ticket",
        "bad_arguments": "bad_arguments",
        "malformed": "malformed",
        "not_an_object": "malformed",
    }
    assert not any(answer["ok"] for answer in answers.values())
    assert risk_state(fresh_database) == "ACTIVE"  # no forged halt ran
    refused = audit(fresh_database)[before:]
    assert [(status, code) for *_, status, code in refused] == [
        ("refused", codes[name]) for name in cases
    ]
    raw = rows(fresh_database, "SELECT raw FROM control_commands WHERE code = 'malformed'")
    assert raw[0][0].startswith('{"id": "f-json"')
    schema = jsonschema.Draft202012Validator(schemas.load("control_reply"))
    for reply in replies(redis_prefix):
        schema.validate(reply)
    sent = {r["id"]: r for r in replies(redis_prefix)}
    assert re.match(r"issued 3[12] s ago, over CONTROL_MAX_AGE 30 s", sent["f-stale"]["error"])
    assert sent["f-ticket"]["error"] == "position 987654 is not open"


def test_with_no_secret_control_is_off_and_every_command_refused(desk, fresh_database):
    desk.settings = replace(
        desk.settings, operations=replace(desk.settings.operations, control_secret=Secret(""))
    )
    bridge = desk.bridge()

    answer = send(bridge, signed("halt"))

    assert (answer["ok"], answer["code"]) == (False, "control_off")
    assert audit(fresh_database)[-1][3:] == ("refused", "control_off")


def test_a_command_for_another_bridge_is_ignored(bridge, fresh_database):
    assert bridge.operations.control.handle(json.dumps(signed("halt", bridge="elsewhere"))) is None
    assert audit(fresh_database) == []


def test_in_safety_mode_trading_commands_reach_nothing(bridge, desk, fresh_database):
    ticket = desk.buy(0.1)
    bridge.trades.run()
    sent = desk.simulation.calls().get("order_send", 0)

    answers = [
        send(bridge, signed("close", {"ticket": ticket})),
        send(bridge, signed("flatten", {"scope": "all"})),
        send(bridge, signed("set-sl-tp", {"ticket": ticket, "sl": 1.0})),
    ]

    assert not any(a["ok"] for a in answers)
    assert answers[0]["error"] == "TRADING_MODE=safety: no order is sent"
    assert [p.ticket for p in desk.mt5.positions_get()] == [ticket]  # nothing was closed
    assert desk.simulation.calls().get("order_send", 0) == sent
    assert {status for *_, status, _ in audit(fresh_database)} == {"failed"}


def test_strategy_commands_name_what_they_find(bridge):
    unknown = send(bridge, signed("pause-strategy", {"name": "nope"}))
    reloaded = send(bridge, signed("reload-strategies"))

    assert (unknown["ok"], unknown["code"]) == (False, "unknown_strategy")
    assert reloaded["ok"] and reloaded["result"]["strategies"] == []
