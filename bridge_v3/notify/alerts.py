"""What is worth a person's attention, turned into notes.

- the risk state changing (a halt is critical), seen at every ``watch``;
- a dependency down for longer than ``NOTIFY_DOWN_AFTER`` (once per outage), and back;
- fills (deals that buy or sell) and orders the broker rejected, from each trades sync
  after the start-up reconciliation (what happened while the bridge was down is in its
  summary, not a flood of notes);
- the bridge starting and stopping.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from bridge_v3.notify.targets import Note
from bridge_v3.services.dependency import duration

_DEAL_TYPES = {0: "buy", 1: "sell"}
_ENTRIES = {0: "in", 1: "out", 2: "in/out", 3: "out by"}


class Alerts:
    def __init__(
        self,
        notify: Callable[[Note], None],
        *,
        down_after: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._notify = notify
        self._down_after = down_after
        self._clock = clock
        self._risk: str | None = None
        self._told_down: set[str] = set()

    # -- watched ----------------------------------------------------------------------------

    def watch(self, risk: dict | None, dependencies: dict) -> None:
        """The periodic look (the ``alerts`` job): the risk state and the dependencies."""
        if risk is not None:
            self._risk_state(risk)
        for name, dependency in dependencies.items():
            self._dependency(name, dependency)

    def _risk_state(self, risk: dict) -> None:
        state, before = risk.get("state"), self._risk
        self._risk = state
        if before is None or state is None or state == before:
            return
        severity = {"HALTED": "critical", "REDUCING": "warning"}.get(state, "info")
        loss = risk.get("daily_loss_pct")
        text = f"{risk.get('reason')}" + (f" (daily loss {loss:.2f}%)" if loss is not None else "")
        self._notify(Note("risk", severity, f"Risk state {before} -> {state}", text, dict(risk)))

    def _dependency(self, name: str, dependency) -> None:
        snapshot = dependency.snapshot()
        if snapshot["state"] == "up":
            if name in self._told_down:
                self._told_down.discard(name)
                self._notify(
                    Note(
                        "dependency",
                        "info",
                        f"{dependency.name} answers again",
                        f"{dependency.name} at {dependency.address} is back.",
                        snapshot,
                    )
                )
            return
        away = self._clock() - dependency.down_since
        if name not in self._told_down and away >= self._down_after:
            self._told_down.add(name)
            text = (
                f"{dependency.name} at {dependency.address} has not answered for "
                f"{duration(away)}: {snapshot['last_error']}"
            )
            self._notify(
                Note("dependency", "critical", f"{dependency.name} is down", text, snapshot)
            )

    # -- told -------------------------------------------------------------------------------

    def trades(self, events: list, *, reconciling: bool) -> None:
        """One trades sync's events (``TradeChanges.events``)."""
        if reconciling:
            return
        for event in events:
            data = event.data
            if event.kind == "deal" and data.get("type") in _DEAL_TYPES:
                self._notify(_fill(data))
            elif event.kind == "order" and data.get("event") == "rejected":
                text = f"order {data.get('ticket')} on {data.get('symbol')} was rejected"
                self._notify(Note("order", "warning", "Order rejected", text, dict(data)))

    def bridge(self, what: str, text: str) -> None:
        self._notify(Note("bridge", "info", f"Bridge {what}", text))


def _fill(deal: dict) -> Note:
    side = _DEAL_TYPES[deal["type"]]
    entry = _ENTRIES.get(deal.get("entry"), "?")
    text = (
        f"{side} {deal.get('volume')} {deal.get('symbol')} at {deal.get('price')} ({entry}), "
        f"deal {deal.get('ticket')}, profit {deal.get('profit')}"
    )
    return Note(
        "fill", "info", f"Fill: {side} {deal.get('volume')} {deal.get('symbol')}", text, dict(deal)
    )
