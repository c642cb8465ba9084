"""The position, order, deal and risk messages the bridge really publishes hold to their
published schemas (checked with ``jsonschema`` and with the subscriber's own validator),
and the schemas name every field sent."""

from __future__ import annotations

import jsonschema
import pytest

from bridge_v3 import schemas
from bridge_v3.client.validation import compile_schema
from bridge_v3.risk_commands import run_risk_command
from bridge_v3.services.mt5.contract import constants as mc
from tests.controllers.trade_support import make_desk, published

KINDS = ("position", "order", "deal", "risk")


@pytest.fixture
def messages(fresh_database, redis_prefix, tmp_path) -> list[dict]:
    """A day of trading by hand: every position, order, deal and risk event there is."""
    desk = make_desk(fresh_database, redis_prefix, tmp_path)
    bridge = desk.bridge()
    try:
        _trade(desk, bridge)
    finally:
        desk.stop(bridge)
    return [m for kind in KINDS for m in published(redis_prefix, kind)]


def _trade(desk, bridge) -> None:
    ticket = desk.buy(1.0, magic=5, comment="schema check")
    pending = desk.send(
        action=mc.TRADE_ACTION_PENDING, symbol="EURUSD", volume=0.1, type=mc.ORDER_TYPE_BUY_LIMIT,
        price=round(desk.ask() - 0.01, 5), type_filling=mc.ORDER_FILLING_RETURN,
    ).order  # fmt: skip
    bridge.trades.sync()
    desk.stops(ticket, sl=round(desk.bid() - 0.05, 5))
    desk.send(action=mc.TRADE_ACTION_MODIFY, order=pending, price=round(desk.ask() - 0.02, 5))
    desk.later()
    bridge.trades.sync()
    desk.send(action=mc.TRADE_ACTION_REMOVE, order=pending)
    desk.close(ticket, 0.5)
    desk.simulation.market.shock("EURUSD", -3)
    for _ in range(3):
        desk.later(30)
        bridge.trades.sync()
        bridge.risk.run_check()
    run_risk_command(bridge.settings, reset_by="schema")
    desk.later()
    bridge.risk.run_check()


def validator(name: str) -> jsonschema.Draft202012Validator:
    schema = schemas.load(name)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def test_trading_messages_hold_to_their_schemas(messages):
    events = {(m["type"], m["data"].get("event", m["data"].get("state"))) for m in messages}
    assert events >= {
        ("position", "opened"), ("position", "modified"), ("order", "placed"),
        ("order", "modified"), ("order", "cancelled"), ("order", "filled"),
        ("risk", "HALTED"), ("risk", "ACTIVE"),
    }  # fmt: skip
    envelope = validator("envelope")
    for message in messages:
        envelope.validate(message)
        validator(message["type"]).validate(message["data"])
        ours = compile_schema(schemas.load(message["type"]), "data")
        assert ours(message["data"]) == [], message


def test_the_schemas_name_every_field_sent(messages):
    for message in messages:
        assert set(message["data"]) <= set(schemas.load(message["type"])["properties"]), message


def test_the_schemas_refuse_what_is_not_so(messages):
    position = next(m["data"] for m in messages if m["type"] == "position")
    risk = next(m["data"] for m in messages if m["type"] == "risk")
    for broken in (
        {**position, "event": "vanished"},
        {**position, "type": 5},
        {**position, "closed_at": "yesterday"},
        {k: v for k, v in position.items() if k != "external"},
    ):
        assert not validator("position").is_valid(broken)
    for broken in ({**risk, "state": "PAUSED"}, {**risk, "limits": {}}, {**risk, "day": "26/03"}):
        assert not validator("risk").is_valid(broken)
