"""The trading commands against the executor's and the strategy controller's public faces:
what they are asked, and how their answers become replies. (The executor itself, with its
journal and risk gate, has its own tests; here it is a recorder of calls.)"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import pytest

from bridge_v3.control.commands import COMMANDS, Targets
from bridge_v3.control.envelope import Command, Refused

POSITIONS = [
    {"ticket": 11, "magic": 1001, "sl": 1.05, "tp": 1.2},
    {"ticket": 12, "magic": 0, "sl": 0.0, "tp": 0.0},
]


@dataclass
class Outcome:
    intent_id: str
    status: str
    reason: str

    @property
    def ok(self) -> bool:
        return self.status in ("filled", "placed")

    def as_dict(self) -> dict:
        return {"intent_id": self.intent_id, "status": self.status, "reason": self.reason}


class Recorder:
    def __init__(self, status: str = "filled") -> None:
        self.calls: list[tuple] = []
        self._status = status

    def __getattr__(self, method: str):
        def call(*args, **kwargs):
            self.calls.append((method, args, kwargs))
            return Outcome(f"i{len(self.calls)}", self._status, "r")

        return call


class Strategies:
    def __init__(self) -> None:
        self.paused: list[str] = []

    def pause(self, name: str) -> bool:
        self.paused.append(name)
        return name == "ma_cross"


def targets(executor=None, strategies=None) -> Targets:
    return Targets(
        status=dict,
        halt=lambda by, reason: {},
        lift=lambda by: {},
        positions=lambda: POSITIONS,
        orders=lambda: [{"ticket": 21}],
        is_own=lambda magic: magic == 1001,
        executor=executor,
        strategies=strategies,
    )


def run(name: str, args: dict, where: Targets) -> dict:
    command = Command("c-1", name, "alice", datetime.now(timezone.utc), "n" * 8, args)
    spec = COMMANDS[name]
    return spec.run(where, command, spec.parse(args))


def test_close_cancel_and_stops_reach_the_executor_with_who_and_why():
    executor = Recorder()
    where = targets(executor)

    closed = run("close", {"ticket": 11, "volume": 0.05}, where)
    run("cancel", {"ticket": 21}, where)
    run("set-sl-tp", {"ticket": 11, "sl": 1.06}, where)

    why = {"reason": "remote control close (c-1)", "by": "alice"}
    assert executor.calls[0] == ("close", (11,), {"volume": 0.05, **why})
    assert executor.calls[1][:2] == ("cancel", (21,))
    assert executor.calls[2] == (
        "modify",
        (11,),
        {"sl": 1.06, "tp": 1.2, "reason": "remote control set-sl-tp (c-1)", "by": "alice"},
    )
    assert closed == {"intent_id": "i1", "status": "filled", "reason": "r", "ok": True}


def test_flatten_closes_the_bridges_own_positions_or_all_of_them():
    executor = Recorder()

    own = run("flatten", {}, targets(executor))
    everything = run("flatten", {"scope": "all"}, targets(executor))

    assert [c["ticket"] for c in own["closed"]] == [11]
    assert [c["ticket"] for c in everything["closed"]] == [11, 12]
    assert "ok" not in everything


def test_an_order_the_broker_rejects_makes_a_failed_reply():
    result = run("close", {"ticket": 12}, targets(Recorder(status="rejected")))

    assert result["ok"] is False and result["reason"] == "r"
    flattened = run("flatten", {"scope": "all"}, targets(Recorder(status="rejected")))
    assert flattened["ok"] is False and flattened["reason"] == "position(s) not closed: 11, 12"


def test_unknown_tickets_and_strategies_are_refused_before_anything_is_asked():
    executor = Recorder()
    with pytest.raises(Refused, match="position 99 is not open"):
        run("close", {"ticket": 99}, targets(executor))
    with pytest.raises(Refused, match="order 98 is not pending"):
        run("cancel", {"ticket": 98}, targets(executor))
    with pytest.raises(Refused) as unknown:
        run("pause-strategy", {"name": "nope"}, targets(strategies=Strategies()))
    assert executor.calls == [] and unknown.value.code == "unknown_strategy"
    assert run("pause-strategy", {"name": "ma_cross"}, targets(strategies=Strategies())) == {
        "strategy": "ma_cross",
        "done": "pause",
    }


@pytest.mark.parametrize(
    ("name", "args", "words"),
    [
        ("close", {}, "argument ticket is required"),
        ("close", {"ticket": True}, "argument ticket must be a ticket number"),
        ("close", {"ticket": 1, "volume": -1}, "argument volume must be a volume"),
        ("set-sl-tp", {"ticket": 1, "sl": "1.1"}, "argument sl must be a price"),
        ("flatten", {"scope": "mine"}, "argument scope must be 'own'"),
        ("pause-strategy", {"name": "bad name"}, "argument name must be a strategy name"),
        ("halt", {"reason": "x" * 201}, "argument reason must be text of 1 to 200"),
    ],
)
def test_bad_arguments_are_refused_naming_the_argument(name, args, words):
    with pytest.raises(Refused) as refused:
        COMMANDS[name].parse(args)

    assert refused.value.code == "bad_arguments" and words in refused.value.reason
