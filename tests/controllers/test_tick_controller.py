"""TickController: every tick the terminal holds stored once across syncs and restarts, ticks
sharing a millisecond all kept, and published in order on mt5:tick:{SYMBOL}."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timezone

import numpy as np
import psycopg2
import pytest

from bridge_v3.config.settings import MarketSettings
from bridge_v3.controllers.tick_controller import TickController, TickSyncResult, next_span
from bridge_v3.daemon import Bridge
from bridge_v3.exceptions import StorageError, TerminalError
from bridge_v3.services.database_service import DatabaseService
from bridge_v3.services.mt5.backends import simulator_backend
from bridge_v3.services.mt5.contract.dtypes import TICKS_DTYPE
from bridge_v3.services.server_time import ServerTime
from bridge_v3.services.tick_store import TickMark, TickStore
from bridge_v3.simulator.clock import ManualClock
from tests.controllers.tick_support import (
    drain,
    open_database,
    open_rig,
    subscriber,
    terminal_ticks,
    utc_ms,
)
from tests.test_daemon_e2e import make_settings

# Wednesday 25 March 2026, 10:00:30 UTC: both symbols quote.
START = datetime(2026, 3, 25, 10, 0, 30, tzinfo=timezone.utc).timestamp()
WINDOW_MS = 600_000  # the default first window
EXPECTED_FIELDS = {"symbol", "time", "bid", "ask", "last", "volume", "flags", "volume_real"}


@pytest.fixture(scope="module")
def database(pg_database: dict) -> Iterator[DatabaseService]:
    db = open_database(pg_database)
    yield db
    db.close()


@pytest.fixture
def rig(database, redis_prefix, tmp_path):
    with open_rig(database, redis_prefix, tmp_path, START) as rig:
        yield rig


def iso_ms(msc: int) -> str:
    moment = datetime.fromtimestamp(msc // 1000, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{msc % 1000:03d}Z"


def test_every_tick_stored_once_across_syncs_and_a_restart(rig, redis_client):
    symbols = ("EURUSD", "BTCUSD")
    controller = rig.controller(symbols)
    first_from = utc_ms(datetime.fromtimestamp(START, timezone.utc)) - WINDOW_MS
    for step in (0, 7.3, 61.25, 0.001, 300):
        rig.clock.advance(step)
        for symbol in symbols:
            controller.sync(symbol)

    rig.clock.advance(2 * 3600 + 13.7)  # down for two hours: the gap comes in hourly chunks
    restarted = rig.controller(symbols)
    results = [restarted.sync(symbol) for symbol in symbols]

    now = int(rig.clock.now() * 1000)
    for symbol in symbols:
        expected = rig.terminal_ticks(symbol, first_from, now)
        assert len(expected) > 1000
        assert rig.stored(symbol) == expected, symbol
    published = rig.published(redis_client)
    for symbol in symbols:
        stored_times = [row[0] for row in rig.stored(symbol)]
        sent = [m["data"]["time"] for m in published if m["data"]["symbol"] == symbol]
        assert sent == [iso_ms(t) for t in stored_times]  # each tick published once, in order
    assert all(r.new == r.stored > 0 for r in results)


def test_running_again_at_the_same_moment_changes_nothing(rig, redis_client):
    controller = rig.controller(["EURUSD"])
    first = controller.sync("EURUSD")
    before, sent = rig.stored("EURUSD"), len(rig.published(redis_client))

    again = controller.sync("EURUSD")
    after_restart = rig.controller(["EURUSD"]).sync("EURUSD")

    assert first.new > 0 and first.stored == first.new
    assert again == TickSyncResult(again.fetched, 0, 0)
    assert after_restart == TickSyncResult(after_restart.fetched, 0, 0)
    assert rig.stored("EURUSD") == before
    assert len(rig.published(redis_client)) == sent


def test_ticks_published_in_order_with_their_fields(rig, redis_client, redis_prefix):
    controller = rig.controller(["EURUSD"])
    controller.sync("EURUSD")
    pubsub = subscriber(redis_client, f"{redis_prefix}:tick:EURUSD")
    since = int(rig.clock.now() * 1000)
    rig.clock.advance(45)

    controller.sync("EURUSD")

    messages = drain(pubsub)
    pubsub.close()
    expected = rig.terminal_ticks("EURUSD", since, int(rig.clock.now() * 1000))
    expected = [t for t in expected if t[0] > since]
    assert len(messages) == len(expected) > 5
    assert {m["type"] for m in messages} == {"tick"}
    assert [m["seq"] for m in messages] == list(range(messages[0]["seq"], messages[-1]["seq"] + 1))
    for message, (msc, bid, ask, last, volume, flags, volume_real) in zip(
        messages, expected, strict=True
    ):
        data = message["data"]
        assert set(data) == EXPECTED_FIELDS
        assert data == {
            "symbol": "EURUSD", "time": iso_ms(msc), "bid": bid, "ask": ask, "last": last,
            "volume": volume, "flags": flags, "volume_real": volume_real,
        }  # fmt: skip
    latest = json.loads(redis_client.get(f"{redis_prefix}:last:tick:EURUSD"))
    assert latest["data"] == messages[-1]["data"]


class ScriptedTerminal:
    """Stands in for MT5Service.ticks_range with a feed where ticks share milliseconds, and
    answers with the terminal's granularity: whole seconds from ``from``, to ``to`` + 1 s."""

    def __init__(self) -> None:
        self.ticks = np.zeros(0, dtype=TICKS_DTYPE)
        self.error: TerminalError | None = None
        self.server_time = ServerTime("UTC")  # its times are UTC already

    def arrive(self, times_msc: list[int]) -> None:
        new = np.zeros(len(times_msc), dtype=TICKS_DTYPE)
        new["time_msc"] = times_msc
        new["time"] = np.asarray(times_msc) // 1000
        new["bid"] = 1.1 + (len(self.ticks) + np.arange(len(times_msc))) / 100_000
        new["ask"] = new["bid"] + 0.0001
        new["flags"] = 6
        self.ticks = np.concatenate((self.ticks, new))

    def ticks_range(self, symbol: str, utc_from_msc: int, utc_to_msc: int, flags: int):
        if self.error is not None:
            raise self.error
        low, high = utc_from_msc // 1000 * 1000, (utc_to_msc // 1000 + 1) * 1000
        times = self.ticks["time_msc"]
        return self.ticks[(times >= low) & (times <= high)].copy()


def scripted_controller(rig, terminal: ScriptedTerminal, now: list[float]) -> TickController:
    controller = TickController(
        terminal,
        TickStore(rig.database, rig.account),
        rig.publisher,
        ["XAUUSD"],
        clock=lambda: now[0],
        last_ttl=600,
    )
    controller.load_watermarks()
    return controller


def test_ticks_sharing_a_millisecond_are_all_kept_even_when_they_arrive_late(rig, redis_client):
    t = utc_ms(datetime(2026, 3, 25, 12, 0, tzinfo=timezone.utc))
    now = [t / 1000 + 1]
    terminal = ScriptedTerminal()
    terminal.arrive([t - 2, t, t, t + 400, t + 400, t + 400])
    controller = scripted_controller(rig, terminal, now)

    first = controller.sync("XAUUSD")
    terminal.arrive([t + 400, t + 400, t + 999])  # more ticks in the last millisecond seen
    now[0] += 2
    second = controller.sync("XAUUSD")
    terminal.arrive([t + 999, t + 1500])
    now[0] += 1
    after_restart = scripted_controller(rig, terminal, now).sync("XAUUSD")

    expected = [(int(r["time_msc"]), float(r["bid"])) for r in terminal.ticks]
    assert [(row[0], row[1]) for row in rig.stored("XAUUSD")] == expected
    assert (first.new, second.new, after_restart.new) == (6, 3, 2)
    sent = [(m["data"]["time"], m["data"]["bid"]) for m in rig.published(redis_client)]
    assert sent == [(iso_ms(msc), bid) for msc, bid in expected]


def test_no_data_from_the_terminal_is_an_empty_sync_and_other_errors_surface(rig):
    now = [START + 60]
    terminal = ScriptedTerminal()
    controller = scripted_controller(rig, terminal, now)

    terminal.error = TerminalError("copy_ticks_range: No memory", -3)
    empty = controller.sync("XAUUSD")
    terminal.error = TerminalError("copy_ticks_range: Terminal: Call failed", -1)

    assert empty == TickSyncResult()
    assert rig.stored("XAUUSD") == []
    # Nothing stored: the next sync starts again from the first window's start.
    assert controller.watermark("XAUUSD") == TickMark(int(now[0] * 1000) - WINDOW_MS, 0)
    with pytest.raises(TerminalError):
        controller.sync("XAUUSD")


class FailingOnce(TickStore):
    """The real store, except that its next ``save`` fails as during a PostgreSQL outage."""

    def __init__(self, database, account) -> None:
        super().__init__(database, account)
        self.fail_next = True

    def save(self, symbol, ticks, **kwargs) -> int:
        if self.fail_next:
            self.fail_next = False
            raise StorageError("PostgreSQL at test: server closed the connection")
        return super().save(symbol, ticks, **kwargs)


def test_a_failed_store_keeps_the_watermark_and_the_next_sync_loses_nothing(rig, redis_client):
    store = FailingOnce(rig.database, rig.account)
    controller = TickController(
        rig.mt5, store, rig.publisher, ["EURUSD"], clock=rig.clock.now, last_ttl=600
    )
    first_from = int(START * 1000) - WINDOW_MS

    with pytest.raises(StorageError):
        controller.sync("EURUSD")
    nothing_yet = (
        store.watermarks(),
        rig.stored("EURUSD"),
        rig.published(redis_client),
    )
    rig.clock.advance(30)
    controller.sync("EURUSD")

    expected = rig.terminal_ticks("EURUSD", first_from, int(rig.clock.now() * 1000))
    assert nothing_yet == ({}, [], [])
    assert rig.stored("EURUSD") == expected
    assert len(rig.published(redis_client)) == len(expected)


def test_the_bridge_schedules_and_stores_tick_symbols_across_a_restart(
    pg_database, redis_prefix, tmp_path
):
    clock = ManualClock(START)
    settings = make_settings(pg_database, redis_prefix, tmp_path)
    market = MarketSettings(
        forex_pairs=("EURUSD",),
        forex_timeframes=settings.market.forex_timeframes[:1],
        tick_symbols=("BTCUSD",),
        initial_history_days=1,
    )
    settings = replace(settings, market=market)
    backend = simulator_backend(settings.simulator, clock)

    for step in (3600.5, 0):  # run, down for an hour, run again
        bridge = Bridge(settings, threading.Event(), backend)
        bridge.connect()
        bridge.run_once()
        bridge.schedule_jobs()
        jobs = {name: (every, priority) for name, every, priority in bridge.scheduler.jobs()}
        bridge.shutdown()
        clock.advance(step)

    now = int(clock.now() * 1000)
    expected = terminal_ticks(
        backend, "Europe/Athens", "BTCUSD", int(START * 1000) - WINDOW_MS, now
    )
    assert jobs["ticks"] == jobs["prices"]
    assert stored_ticks(pg_database, bridge.account, "BTCUSD") == [row[0] for row in expected]


def stored_ticks(pg: dict, account: int, symbol: str) -> list[int]:
    with psycopg2.connect(**pg) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT time_msc FROM ticks WHERE account = %s AND symbol = %s ORDER BY time, ordinal",
            (account, symbol),
        )
        return [row[0] for row in cur.fetchall()]


def test_catch_up_windows_scale_towards_the_target_tick_count():
    hour = 3_600_000
    limits = (1000, 6 * hour)
    assert next_span(hour, 1_000, 50_000, *limits) == 4 * hour  # quiet: grows, 4x at most
    assert next_span(4 * hour, 0, 50_000, *limits) == 6 * hour  # never past the longest
    assert next_span(hour, 100_000, 50_000, *limits) == hour // 2  # busy: shrinks
    assert next_span(2000, 10**7, 50_000, *limits) == 1000  # never below the shortest


def test_a_long_gap_of_sparse_ticks_is_fetched_in_few_windows(rig):
    controller = rig.controller(["EURUSD"])
    controller.sync("EURUSD")
    rig.clock.advance(12 * 3600)
    windows = []
    fetch = rig.mt5.ticks_range

    def counted(*args, **kwargs):
        windows.append(args[1:3])
        return fetch(*args, **kwargs)

    rig.mt5.ticks_range = counted
    result = controller.sync("EURUSD")

    assert result.new > 10_000  # twelve hours of EURUSD
    assert 2 <= len(windows) < 12  # fewer than one an hour: spans grew while ticks were sparse
    assert all(b[0] <= a[1] for a, b in zip(windows, windows[1:], strict=False))  # no gap


def test_a_catch_up_is_published_in_batches_and_live_ticks_one_by_one(rig, redis_client):
    controller = rig.controller(["EURUSD"])
    controller.sync("EURUSD")
    rig.clock.advance(3 * 3600)
    controller.sync("EURUSD")  # a catch-up: thousands of new ticks
    rig.clock.advance(250)
    controller.sync("EURUSD")  # live (the last sync was under 5 minutes ago), yet busy

    envelopes = sorted(
        (
            json.loads(fields[b"envelope"])
            for type_ in ("tick", "ticks")
            for _, fields in redis_client.xrange(rig.redis.key("stream", type_))
        ),
        key=lambda envelope: envelope["seq"],
    )
    batches = [e for e in envelopes if e["type"] == "ticks"]
    singles = [e for e in envelopes if e["type"] == "tick"]
    sizes = [len(b["data"]["time"]) for b in batches]
    assert len(batches) > 3 and max(sizes) == 1000  # columns of up to 1000 ticks
    assert all(set(b["data"]) == EXPECTED_FIELDS for b in batches)
    assert all(len(column) == len(b["data"]["time"]) for b in batches for column in
               (b["data"][name] for name in EXPECTED_FIELDS - {"symbol"}))  # fmt: skip
    assert len(singles) > 100 and envelopes[-len(singles) :] == singles
    times = [t for b in batches for t in b["data"]["time"]] + [s["data"]["time"] for s in singles]
    stored = [iso_ms(row[0]) for row in rig.stored("EURUSD")]
    assert times == stored  # every stored tick published once, in order
