"""The dashboard's small parts: the fan-out to browsers and the service monitor."""

from __future__ import annotations

from bridge_v3.dashboard.hub import CLOSED, Hub
from bridge_v3.dashboard.monitor import ServiceMonitor


def test_messages_reach_the_pages_of_their_account_and_a_slow_page_is_dropped(monkeypatch):
    monkeypatch.setattr(Hub, "QUEUE_SIZE", 3)
    hub = Hub()
    first, second, anyone = hub.subscribe(1), hub.subscribe(2), hub.subscribe(None)

    hub.broadcast("bar", {"n": 1}, account=1)
    hub.broadcast("status", {"n": 2})

    assert [first.next(0).kind, first.next(0).kind] == ["bar", "status"]
    assert second.next(0).kind == "status" and second.next(0) is None
    assert hub.watched_accounts() == {1, 2}
    for n in range(3):  # `anyone` reads nothing: its queue (3) overflows on the third message
        hub.broadcast("status", {"n": n})
    assert hub.clients == 2
    drained = [anyone.next(0) for _ in range(4)]
    assert CLOSED in drained


def test_closing_the_hub_ends_every_stream():
    hub = Hub()
    client = hub.subscribe(None)

    hub.close()

    assert client.next(0) is CLOSED and hub.clients == 0


def test_the_monitor_tells_the_first_answer_and_each_change_only():
    answers = iter([True, True, False, False, True])
    told: list[tuple[str, bool, str | None]] = []

    def probe():
        if not next(answers):
            raise ConnectionError("Connection refused")

    monitor = ServiceMonitor(
        {"redis": probe}, lambda name, s: told.append((name, s["ok"], s["error"]))
    )
    for _ in range(5):
        monitor.check_once()

    assert told == [
        ("redis", True, None),
        ("redis", False, "Connection refused"),
        ("redis", True, None),
    ]
    assert monitor.status()["redis"]["ok"] is True
