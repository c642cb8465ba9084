"""A short human summary of an event's data, for ``tail``."""

from __future__ import annotations

import json

from bridge_v3.client.events import Account, Bar, Event, Status, Tick


def summary(event: Event) -> str:
    data = event.data
    if isinstance(data, Bar):
        return (
            f"{data.symbol} {data.timeframe} {_time(data.time)} "
            f"O {data.open} H {data.high} L {data.low} C {data.close} V {data.tick_volume}"
        )
    if isinstance(data, Tick):
        return f"{data.symbol} {_time(data.time)} bid {data.bid} ask {data.ask}"
    if isinstance(data, Account):
        return (
            f"{data.account} balance {data.balance} equity {data.equity} "
            f"margin {data.margin} profit {data.profit} {data.currency}"
        )
    if isinstance(data, Status):
        probes = " ".join(f"{k}={_short(v)}" for k, v in data.probes.items())
        return f"{data.state} {data.version} up {data.uptime_seconds}s {probes}".rstrip()
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def _time(moment) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _short(value: object) -> str:
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"))
    return str(value)
