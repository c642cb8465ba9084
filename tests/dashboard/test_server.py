"""The dashboard's HTTP side in this process: the snapshot, the event stream fed by a bridge
publishing for real, authentication, files, bad input, and PostgreSQL going away and back."""

from __future__ import annotations

import base64
import http.client
import json
import logging
import time

import pytest

from tests.dashboard.conftest import ACCOUNT, settings_for
from tests.test_daemon_e2e import START
from tests.test_daemon_faults import TcpRelay


class EventStream:
    """A plain HTTP client reading ``/events`` as a browser's EventSource does."""

    def __init__(self, port: int, query: str = "", headers: dict | None = None) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        self.connection.request("GET", f"/events{query}", headers=headers or {})
        self.response = self.connection.getresponse()

    def next(self) -> tuple[str, dict]:
        kind, data = None, None
        while True:
            line = self.response.fp.readline().decode()
            assert line, "the stream ended"
            line = line.rstrip("\n")
            if not line and kind:
                return kind, json.loads(data)
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                data = line[6:]

    def until(self, kind: str, matches=lambda data: True, seconds: float = 20.0) -> dict:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            got, data = self.next()
            if got == kind and matches(data):
                return data
        pytest.fail(f"no {kind} event within {seconds} s")

    def close(self) -> None:
        self.connection.close()


def get(port: int, path: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def basic(user: str, password: str) -> dict:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def test_snapshot_holds_every_panel_and_the_bridges_heartbeat(
    sim_bridge, fresh_database, redis_prefix, running
):
    app = running(settings_for(fresh_database, redis_prefix), clock=lambda: START)

    status, headers, body = get(app.port, "/api/snapshot?symbol=EURUSD&timeframe=H1")

    snapshot = json.loads(body)
    assert status == 200 and headers["Content-Type"] == "application/json"
    assert snapshot["account"] == ACCOUNT and snapshot["accounts"] == [ACCOUNT]
    assert [(b["source"], b["account"], b["data"]["state"]) for b in snapshot["bridges"]] == [
        ("e2e", ACCOUNT, "stopped")  # its last word: run_once ends with a shutdown
    ]
    assert snapshot["config"]["late_after"] == 6.0  # 1.5 heartbeat intervals of 4 s
    assert snapshot["services"]["postgres"]["ok"] and snapshot["services"]["redis"]["ok"]
    assert all(panel["ok"] for panel in snapshot["panels"].values())
    assert (
        snapshot["panels"]["market"]["timeframe"] == "H1" and snapshot["panels"]["market"]["bars"]
    )


def test_the_stream_pushes_each_new_closed_bar_and_heartbeat_as_the_bridge_publishes(
    sim_bridge, fresh_database, redis_prefix, running
):
    app = running(settings_for(fresh_database, redis_prefix))
    stream = EventStream(app.port, f"?account={ACCOUNT}")
    try:
        hello = stream.until("hello")
        assert [b["source"] for b in hello["bridges"]] == ["e2e"]
        last = app.dashboard.panels.build("market", ACCOUNT, symbol="EURUSD", timeframe="M5")[
            "bars"
        ][-1]

        sim_bridge.run_once(advance=300)

        bar = stream.until("bar", lambda b: (b["symbol"], b["timeframe"]) == ("EURUSD", "M5"))
        beat = stream.until("status")
        panel = stream.until("panel", lambda p: p["name"] == "quality")
    finally:
        stream.close()
    assert bar["time"] == last["time"] + 300 and bar["account"] == ACCOUNT
    assert set(bar) == {"account", "symbol", "timeframe", "time", "open", "high", "low", "close"}
    assert beat["source"] == "e2e" and beat["data"]["state"] in ("running", "stopped")
    assert (
        abs(beat["received_ms"] / 1000 - time.time()) < 60
    )  # the Redis clock, not the simulated one
    assert panel["account"] == ACCOUNT and panel["data"]["ok"]


def test_a_password_guards_everything_but_the_health_check(
    fresh_database, redis_prefix, running, caplog
):
    caplog.set_level(logging.DEBUG)
    app = running(settings_for(fresh_database, redis_prefix, password="Dash-S3cret!"))

    anonymous = get(app.port, "/")
    wrong = get(app.port, "/api/snapshot", basic("alice", "guess"))
    other_user = get(app.port, "/", basic("bob", "Dash-S3cret!"))
    right = get(app.port, "/", basic("alice", "Dash-S3cret!"))
    health = get(app.port, "/healthz")
    stream = EventStream(app.port, headers=basic("alice", "Dash-S3cret!"))
    try:
        assert stream.response.status == 200 and stream.until("hello")
    finally:
        stream.close()

    assert anonymous[0] == wrong[0] == other_user[0] == 401
    assert anonymous[1]["WWW-Authenticate"].startswith('Basic realm="bridge_v3 dashboard"')
    assert right[0] == 200 and b"<title>bridge_v3 dashboard</title>" in right[2]
    assert health[0] == 200
    assert "Dash-S3cret!" not in caplog.text


def test_files_come_from_the_package_only_and_bad_input_is_named(
    fresh_database, redis_prefix, running
):
    app = running(settings_for(fresh_database, redis_prefix))

    script = get(app.port, "/static/dashboard.js")
    charts = get(app.port, "/static/vendor/lightweight-charts.standalone.production.js")
    notice = get(app.port, "/static/vendor/NOTICE-lightweight-charts.txt")
    escape = get(app.port, "/static/../app.py")
    missing = get(app.port, "/nothing")
    bad_account = get(app.port, "/api/snapshot?account=12ab")

    assert script[0] == 200 and script[1]["Content-Type"].startswith("text/javascript")
    assert charts[0] == 200 and b"TradingView Lightweight Charts" in charts[2][:300]
    assert notice[0] == 200 and b"Apache License 2.0" in notice[2]
    assert escape[0] == missing[0] == 404
    assert bad_account[0] == 400 and b"account: expected an account login" in bad_account[2]


def test_postgresql_down_is_told_in_place_and_the_page_is_asked_to_reload_when_it_returns(
    sim_bridge, fresh_database, redis_prefix, running
):
    relay = TcpRelay(fresh_database["host"], fresh_database["port"])
    try:
        app = running(settings_for(fresh_database, redis_prefix, pg_port=relay.port))
        monitor = app.dashboard.monitor
        stream = EventStream(app.port, f"?account={ACCOUNT}")
        try:
            stream.until("hello")
            relay.stop()
            monitor.check_once()
            down = stream.until("services", lambda s: s["postgres"]["ok"] is False)
            during = json.loads(get(app.port, f"/api/snapshot?account={ACCOUNT}")[2])

            relay.start()
            monitor.check_once()
            up = stream.until("services", lambda s: s["postgres"]["ok"] is True)
            resync = stream.until("resync")
        finally:
            stream.close()
        after = json.loads(get(app.port, f"/api/snapshot?account={ACCOUNT}")[2])
    finally:
        relay.stop()

    assert f"127.0.0.1:{relay.port}" in down["postgres"]["error"]
    assert up["redis"]["ok"] and resync["reason"] == "postgres answers again"
    assert not any(panel["ok"] for panel in during["panels"].values())
    assert "PostgreSQL" in during["panels"]["trading"]["error"]
    assert during["bridges"] and during["bridges"][0]["source"] == "e2e"  # Redis still tells
    assert all(panel["ok"] for panel in after["panels"].values())
