"""What each remote command does, and which arguments it takes.

Every handler gets the bridge's parts it may touch (``Targets``), the checked command and
its parsed arguments, and returns a JSON-friendly result; it raises ``Refused`` when the
command cannot be carried out (an unknown ticket, a part this build does not have). Orders
go through the order executor, hence through the same risk gate and intent journal as the
strategies: a ``flatten`` passes while HALTED, an opening order never does.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from bridge_v3.control.envelope import Command, Refused

_NAME = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
_REASON = re.compile(r"[^\x00-\x1f\x7f]{1,200}")
NOT_AVAILABLE = "not available in this build: the bridge has no {part}"


@dataclass
class Targets:
    """The parts of the running bridge a command may use. ``executor`` and ``strategies``
    are None until the strategy and execution part is built in."""

    status: Callable[[], dict]  # the heartbeat's snapshot, with readiness
    halt: Callable[[str, str], dict]  # (by, reason) -> the risk state written
    lift: Callable[[str], dict]  # (by) -> what was lifted
    positions: Callable[[], list[dict]]  # open positions, as the terminal shows them
    orders: Callable[[], list[dict]]  # pending orders, as the terminal shows them
    is_own: Callable[[int], bool]  # magic number -> one of the bridge's strategies
    executor: object | None = None
    strategies: object | None = None


# -- arguments ----------------------------------------------------------------------------


def _ticket(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError("must be a ticket number (a whole number above 0)")
    return value


def _price(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError("must be a price (a number; 0 removes the stop)")
    if value < 0:
        raise ValueError("must not be negative")
    return float(value)


def _volume(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError("must be a volume in lots above 0")
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    return float(value)


def _name(value: object) -> str:
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise ValueError("must be a strategy name (1 to 64 letters, digits, _ . : -)")
    return value


def _reason(value: object) -> str:
    if not isinstance(value, str) or not _REASON.fullmatch(value):
        raise ValueError("must be text of 1 to 200 printable characters")
    return value


def _scope(value: object) -> str:
    if value not in ("own", "all"):
        raise ValueError("must be 'own' (the bridge's positions, the default) or 'all'")
    return value


@dataclass(frozen=True)
class Spec:
    """A command: its handler, and its arguments as name -> (parser, required)."""

    run: Callable[[Targets, Command, dict], dict]
    args: Mapping[str, tuple[Callable[[object], object], bool]]

    def parse(self, given: Mapping) -> dict:
        unknown = sorted(set(given) - set(self.args))
        if unknown:
            raise Refused("bad_arguments", f"unknown argument(s): {', '.join(unknown)}")
        parsed = {}
        for name, (parse, required) in self.args.items():
            if name not in given:
                if required:
                    raise Refused("bad_arguments", f"argument {name} is required")
                continue
            try:
                parsed[name] = parse(given[name])
            except ValueError as error:
                raise Refused("bad_arguments", f"argument {name} {error}") from None
        return parsed


# -- handlers: the bridge's state -----------------------------------------------------------


def _status(targets: Targets, command: Command, args: dict) -> dict:
    return targets.status()


def _halt(targets: Targets, command: Command, args: dict) -> dict:
    return targets.halt(command.by, args.get("reason", ""))


def _resume(targets: Targets, command: Command, args: dict) -> dict:
    return targets.lift(command.by)


# -- handlers: orders ---------------------------------------------------------------------


def _executor(targets: Targets):
    if targets.executor is None:
        raise Refused("not_available", NOT_AVAILABLE.format(part="order executor"))
    return targets.executor


def _position(targets: Targets, ticket: int) -> dict:
    found = [p for p in targets.positions() if int(p["ticket"]) == ticket]
    if not found:
        raise Refused("unknown_ticket", f"position {ticket} is not open")
    return found[0]


def _why(command: Command) -> dict:
    return {"reason": f"remote control {command.command} ({command.id})", "by": command.by}


def outcome(result: object) -> dict:
    """An executor's (or the strategy controller's) answer as JSON-friendly data, with
    ``ok`` when the answer tells (an ``Outcome`` or a ``Reload``)."""
    if hasattr(result, "as_dict"):
        data = dict(result.as_dict())
    elif dataclasses.is_dataclass(result):
        data = dataclasses.asdict(result)
    else:
        data = dict(result) if isinstance(result, Mapping) else {"outcome": str(result)}
    if isinstance(getattr(result, "ok", None), bool):
        data["ok"] = result.ok
    return {k: getattr(v, "value", v) for k, v in data.items()}


def _close(targets: Targets, command: Command, args: dict) -> dict:
    _position(targets, args["ticket"])
    done = _executor(targets).close(args["ticket"], volume=args.get("volume"), **_why(command))
    return _answered(outcome(done))


def _answered(result: dict) -> dict:
    """An order's outcome; when it did not succeed, ``ok`` False and its reason."""
    if result.get("ok") is False:
        result.setdefault("reason", f"order {result.get('status')}")
    return result


def _cancel(targets: Targets, command: Command, args: dict) -> dict:
    if not any(int(o["ticket"]) == args["ticket"] for o in targets.orders()):
        raise Refused("unknown_ticket", f"order {args['ticket']} is not pending")
    return _answered(outcome(_executor(targets).cancel(args["ticket"], **_why(command))))


def _set_sl_tp(targets: Targets, command: Command, args: dict) -> dict:
    if "sl" not in args and "tp" not in args:
        raise Refused("bad_arguments", "give sl, tp or both")
    position = _position(targets, args["ticket"])
    sl = args.get("sl", float(position["sl"]))
    tp = args.get("tp", float(position["tp"]))
    done = _executor(targets).modify(args["ticket"], sl=sl, tp=tp, **_why(command))
    return _answered(outcome(done))


def _flatten(targets: Targets, command: Command, args: dict) -> dict:
    """Close every position the bridge owns (``scope=all``: every position)."""
    executor = _executor(targets)
    everything = args.get("scope", "own") == "all"
    chosen = [p for p in targets.positions() if everything or targets.is_own(int(p["magic"]))]
    closed = [
        {"ticket": int(p["ticket"]), **outcome(executor.close(int(p["ticket"]), **_why(command)))}
        for p in chosen
    ]
    failed = [str(c["ticket"]) for c in closed if c.get("ok") is False]
    result = {"scope": "all" if everything else "own", "positions": len(chosen), "closed": closed}
    if failed:
        result.update(ok=False, reason=f"position(s) not closed: {', '.join(failed)}")
    return result


# -- handlers: strategies -----------------------------------------------------------------


def _strategies(targets: Targets):
    if targets.strategies is None:
        raise Refused("not_available", NOT_AVAILABLE.format(part="strategy controller"))
    return targets.strategies


def _strategy_call(method: str) -> Callable[[Targets, Command, dict], dict]:
    def run(targets: Targets, command: Command, args: dict) -> dict:
        done = getattr(_strategies(targets), method)(args["name"])
        if done is False:  # the controller knows no strategy of that name
            raise Refused("unknown_strategy", f"no strategy named {args['name']!r}")
        return {"strategy": args["name"], "done": method}

    return run


def _reload(targets: Targets, command: Command, args: dict) -> dict:
    result = outcome(_strategies(targets).reload())
    if result.get("ok") is False:
        result["reason"] = result.get("error") or "the strategies could not be read"
    return result


COMMANDS: dict[str, Spec] = {
    "status": Spec(_status, {}),
    "halt": Spec(_halt, {"reason": (_reason, False)}),
    "resume": Spec(_resume, {}),
    "flatten": Spec(_flatten, {"scope": (_scope, False)}),
    "close": Spec(_close, {"ticket": (_ticket, True), "volume": (_volume, False)}),
    "cancel": Spec(_cancel, {"ticket": (_ticket, True)}),
    "set-sl-tp": Spec(
        _set_sl_tp, {"ticket": (_ticket, True), "sl": (_price, False), "tp": (_price, False)}
    ),
    "pause-strategy": Spec(_strategy_call("pause"), {"name": (_name, True)}),
    "resume-strategy": Spec(_strategy_call("resume"), {"name": (_name, True)}),
    "reload-strategies": Spec(_reload, {}),
}
