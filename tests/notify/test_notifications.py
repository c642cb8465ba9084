"""Notifications: webhook receivers on loopback get the risk notifications and fills in each
URL form; a failing one is retried then dropped; a hanging one delays nothing (asserted on
queues and counters, never on wall-clock time)."""

from __future__ import annotations

import json
import logging
import socket
import threading
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bridge_v3.config.secret import Secret
from bridge_v3.notify.alerts import Alerts
from bridge_v3.notify.notifier import Notifier
from bridge_v3.notify.sender import Policy
from bridge_v3.notify.targets import Note, parse_targets
from bridge_v3.services.circuit_breaker import CircuitBreaker
from bridge_v3.services.dependency import Dependency
from tests.controllers.test_risk_controller import checks, halt
from tests.controllers.trade_support import make_desk
from tests.test_daemon_faults import poll

QUICK = Policy(timeout=5.0, attempts=3, pauses=(0.0, 0.0), per_minute=6000, burst=50)


class Receiver:
    """A webhook endpoint on loopback answering ``status`` and keeping what it got."""

    def __init__(self, status: int = 200) -> None:
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append((self.path, json.loads(body)))
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class Hanging:
    """An endpoint that takes the connection and never answers."""

    def __init__(self) -> None:
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(8)
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}/hook"

    def close(self) -> None:
        self._socket.close()


@pytest.fixture
def receiver():
    made = Receiver()
    yield made
    made.close()


@pytest.fixture
def desk(fresh_database, redis_prefix, tmp_path):
    desk = make_desk(fresh_database, redis_prefix, tmp_path)
    yield desk
    for bridge in list(desk.bridges):
        desk.stop(bridge)


def notifying_bridge(desk, urls: str):
    desk.settings = replace(
        desk.settings,
        operations=replace(desk.settings.operations, notify_urls=Secret(urls)),
    )
    bridge = desk.bridge()
    for sender in bridge.operations.notifier.senders:
        sender._policy = QUICK  # no real pauses in a test
    bridge.operations.start()
    return bridge


def test_a_receiver_gets_the_risk_notifications_and_fills_in_each_form(receiver, desk):
    urls = f"{receiver.url}/json,slack+{receiver.url}/slack,discord+{receiver.url}/discord"
    urls += f",telegram+{receiver.url}/bot123:tok/sendMessage?chat_id=-42"
    bridge = notifying_bridge(desk, urls)
    desk.buy(1.0)  # by hand: after the reconciliation, the fill is news
    bridge.store_trades()
    bridge.risk.run_check()
    desk.simulation.market.shock("EURUSD", -3)
    desk.later(60)

    checks(bridge, desk, 2)
    bridge.operations.watch()
    poll(lambda: len(receiver.received) == 4 * 3)  # started, the fill, the halt; four forms

    by_path = {}
    for path, body in receiver.received:
        by_path.setdefault(path.split("?")[0], []).append(body)
    generic = by_path["/json"]
    assert [b["event"] for b in generic] == ["bridge", "fill", "risk"]
    assert generic[2]["severity"] == "critical"
    assert generic[2]["title"] == "Risk state ACTIVE -> HALTED"
    assert "MAX_DAILY_LOSS_PCT" in generic[2]["text"]
    assert generic[1]["title"] == "Fill: buy 1.0 EURUSD"
    assert generic[2]["source"] == "trades" and generic[2]["account"] == bridge.account
    assert by_path["/slack"][2]["text"].startswith("[trades] Risk state ACTIVE -> HALTED")
    assert by_path["/discord"][2]["content"].startswith("[trades] Risk state ACTIVE -> HALTED")
    telegram = by_path["/bot123:tok/sendMessage"][2]
    assert telegram["chat_id"] == "-42" and "HALTED" in telegram["text"]


def test_a_hanging_endpoint_delays_nothing(receiver, desk):
    hanging = Hanging()
    try:
        bridge = notifying_bridge(desk, f"{hanging.url},{receiver.url}/json")
        stuck, working = bridge.operations.notifier.senders
        poll(lambda: stuck.busy.is_set())  # the "started" note is in flight, unanswered
        halt(desk, bridge)
        bridge.worker.start()
        for _ in range(2):
            desk.later(5)
            done = bridge.worker.stats().completed + 1
            bridge.worker.submit("risk", bridge.risk.run_check)
            poll(lambda done=done: bridge.worker.stats().completed == done)
        bridge.worker.submit("alerts", bridge.operations.watch)
        poll(lambda: bridge.worker.stats().completed == 3)

        assert bridge.risk.state.value == "HALTED"  # the jobs ran their course meanwhile
        assert stuck.busy.is_set() and stuck.counts["sent"] == 0
        assert stuck.waiting == 1 and stuck.counts["queued"] == 2  # the halt waits its turn
        poll(lambda: working.counts["sent"] == 2)  # the other endpoint is not held up
        assert [b["event"] for _, b in receiver.received] == ["bridge", "risk"]
    finally:
        hanging.close()


def test_a_failing_endpoint_is_retried_then_dropped_with_a_log_line(caplog):
    failing = Receiver(status=500)
    refusing = Receiver(status=404)
    notifier = Notifier(parse_targets(f"{failing.url}/a,{refusing.url}/b"), "src", 1, policy=QUICK)
    notifier.start()
    try:
        with caplog.at_level(logging.WARNING, logger="bridge_v3.notify.sender"):
            notifier.notify(Note("risk", "critical", "Risk state ACTIVE -> HALTED", "a loss"))
            poll(lambda: notifier.counts()["failed"] == 2)
    finally:
        notifier.stop(0.5)
        failing.close()
        refusing.close()

    assert len(failing.received) == 3  # tried three times
    assert len(refusing.received) == 1  # a 404 is not worth another try
    messages = sorted(r.getMessage() for r in caplog.records)
    assert messages == [
        "Notification 'Risk state ACTIVE -> HALTED' to json webhook at 127.0.0.1 dropped (HTTP 404)",
        "Notification 'Risk state ACTIVE -> HALTED' to json webhook at 127.0.0.1 dropped (HTTP 500)",
    ]


def test_a_full_queue_drops_new_notes_without_waiting():
    hanging = Hanging()
    notifier = Notifier(parse_targets(hanging.url), "src", 1, policy=replace(QUICK, queue_size=2))
    notifier.start()
    try:
        (sender,) = notifier.senders
        notifier.notify(Note("bridge", "info", "one", ""))
        poll(lambda: sender.busy.is_set())
        for title in ("two", "three", "four", "five"):
            notifier.notify(Note("bridge", "info", title, ""))
        assert (sender.waiting, sender.counts["dropped"]) == (2, 2)
    finally:
        notifier.stop(0.1)
        hanging.close()


def test_a_dependency_down_longer_than_the_limit_is_told_once_then_its_return():
    now = [1000.0]
    clock = lambda: now[0]  # noqa: E731
    postgres = Dependency(
        "PostgreSQL", "db:5432", clock=clock, breaker=CircuitBreaker(5, 30, clock=clock)
    )
    notes: list[Note] = []
    alerts = Alerts(notes.append, down_after=60, clock=clock)

    postgres.failed("connection refused")
    now[0] += 59
    alerts.watch(None, {"postgres": postgres})
    assert notes == []
    now[0] += 1
    alerts.watch(None, {"postgres": postgres})
    alerts.watch(None, {"postgres": postgres})
    postgres.succeeded()
    alerts.watch(None, {"postgres": postgres})

    assert [(n.severity, n.title) for n in notes] == [
        ("critical", "PostgreSQL is down"),
        ("info", "PostgreSQL answers again"),
    ]
    assert "has not answered for 1 min: connection refused" in notes[0].text


def test_webhook_urls_never_show_their_token():
    (slack,) = parse_targets("https://hooks.slack.com/services/T0/B0/s3cr3t-tok3n")

    assert slack.kind == "slack"
    assert "s3cr3t" not in repr(slack) and slack.label == "slack webhook at hooks.slack.com"
