"""PriceController with its real parts: the simulated terminal, PostgreSQL, Redis.

Where the terminal must misbehave (a broker correction, duplicates, rows out of order),
the simulator's real client is wrapped and its ``copy_rates_range`` answer edited; the
simulated market itself never sends such bars.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import numpy as np
import psycopg2
import pytest

from bridge_v3.config.constants import TIMEFRAMES
from bridge_v3.daemon import Bridge
from bridge_v3.services.mt5.backends import TerminalBackend, simulator_backend
from bridge_v3.simulator.clock import ManualClock
from tests.test_daemon_e2e import START, stored_bars, terminal_closed_bars
from tests.test_daemon_faults import settings_for

M1, M5, M15 = TIMEFRAMES["M1"], TIMEFRAMES["M5"], TIMEFRAMES["M15"]
H1, MN1 = TIMEFRAMES["H1"], TIMEFRAMES["MN1"]
# Monday 30 March 2026, 12:00:30 UTC: Athens moved to summer time on Sunday 29th, 01:00 UTC.
AFTER_DST = datetime(2026, 3, 30, 12, 0, 30, tzinfo=timezone.utc).timestamp()


def utc(*args: int) -> int:
    return int(datetime(*args, tzinfo=timezone.utc).timestamp())


# -- a bridge whose terminal answers can be edited ------------------------------------------------

Edit = Callable[[np.ndarray], np.ndarray]


class EditingClient:
    """The simulator's client; ``edit`` (when set) rewrites ``copy_rates_range`` answers;
    ``calls`` counts the calls by function."""

    def __init__(self, client) -> None:
        self._client = client
        self.name = client.name
        self.edit: Edit | None = None
        self.after_rates: Callable[[], None] | None = None  # runs once bars were answered
        self.calls: Counter[str] = Counter()

    def call(self, function: str, *args, **kwargs):
        self.calls[function] += 1
        result, error = self._client.call(function, *args, **kwargs)
        if function == "copy_rates_range" and self.edit is not None and result is not None:
            result = self.edit(np.array(result, copy=True))
        if function == "copy_rates_range" and self.after_rates is not None:
            self.after_rates()
        return result, error

    def close(self) -> None:
        self._client.close()


@pytest.fixture
def rig(fresh_database, redis_prefix, tmp_path):
    """(bridge, editing client, clock, the plain backend for reading the terminal's history)."""
    made = []

    def make(start: float = START, folder: str = "", **market):
        clock = ManualClock(start)
        (tmp_path / folder).mkdir(exist_ok=True)
        settings = settings_for(fresh_database, redis_prefix, tmp_path / folder)
        settings = replace(settings, market=replace(settings.market, **market))
        real = simulator_backend(settings.simulator, clock)
        client = EditingClient(real.open_client())
        backend = TerminalBackend(real.kind, "editable", lambda: client, clock=clock.now)
        bridge = Bridge(settings, threading.Event(), backend)
        made.append(bridge)
        bridge.connect()
        return bridge, client, clock, real

    yield make
    for bridge in made:
        bridge.shutdown(drain_seconds=1)


def bars_on(pg: dict, timeframe: str = "M1") -> list[tuple]:
    return stored_bars(pg, "EURUSD", timeframe)


def bars_on_symbol(pg: dict, symbol: str, timeframe: str) -> list[tuple]:
    return stored_bars(pg, symbol, timeframe)


# -- publishing ---------------------------------------------------------------------------------


def test_closed_bars_go_on_the_channel_and_the_forming_one_only_to_the_last_key(
    rig, fresh_database, redis_client, redis_prefix
):
    bridge, _, clock, _ = rig()
    pubsub = redis_client.pubsub()
    pubsub.subscribe(f"{redis_prefix}:bar:EURUSD:M1")
    pubsub.get_message(timeout=1)
    bridge.prices.sync("EURUSD", M1)
    clock.advance(125)
    bridge.prices.sync("EURUSD", M1)

    published = []
    while (message := pubsub.get_message(timeout=0.3)) is not None:
        if message["type"] == "message":
            published.append(json.loads(message["data"])["data"])
    pubsub.close()
    minute = int(clock.now()) // 60 * 60
    times = [d["time"] for d in published]
    stored_times = [row[0] for row in bars_on(fresh_database)]
    assert [int(datetime.fromisoformat(t[:-1] + "+00:00").timestamp()) for t in times] == (
        stored_times
    )
    assert stored_times[-1] == minute - 60  # the last closed minute
    assert not any(d.get("forming") for d in published)
    last = json.loads(redis_client.get(f"{redis_prefix}:last:bar:EURUSD:M1"))["data"]
    assert last["forming"] is True
    assert last["time"] == datetime.fromtimestamp(minute, timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )


def test_a_cycle_asks_each_symbol_for_its_newest_tick_once(rig) -> None:
    # 10:14:30: the forming M1, M5 and M15 bars all end within the grace period, so each
    # timeframe needs the newest tick to judge its last bar; one answer serves all three.
    start = datetime(2026, 3, 25, 10, 14, 30, tzinfo=timezone.utc).timestamp()
    bridge, client, _, _ = rig(start=start, forex_timeframes=(M1, M5, M15))
    client.calls.clear()

    result = bridge.prices.sync_all()

    assert result.new > 0 and result.skipped == 0
    assert client.calls["copy_rates_range"] == 3
    assert client.calls["symbol_info_tick"] == 1


def test_a_tick_the_terminal_shows_after_the_bars_does_not_close_them(rig, fresh_database) -> None:
    # 10:14:50, and the terminal takes 15 s to answer each series: by the time the bars
    # are in, ticks past 10:15 exist. Those ticks say nothing of the bars already answered
    # (the 10:14 bar in them is still missing its last ticks), so only a tick shown before
    # the bars may close them; otherwise the partial bar is stored and "corrected" later.
    start = datetime(2026, 3, 25, 10, 14, 50, tzinfo=timezone.utc).timestamp()
    bridge, client, clock, real = rig(start=start, forex_timeframes=(M1, M5, M15))
    client.after_rates = lambda: clock.advance(15)

    first = bridge.prices.sync_all()
    assert bars_on(fresh_database)[-1][0] == utc(2026, 3, 25, 10, 13)  # 10:14 was partial
    client.after_rates = None
    clock.advance(60)
    second = bridge.prices.sync_all()

    assert first.corrected == 0 and second.corrected == 0
    for timeframe in (M1, M5, M15):
        stored = bars_on(fresh_database, timeframe.name)
        assert stored == terminal_closed_bars(real, "EURUSD", timeframe, stored[0][0], clock.now())


# -- broker corrections and sequence faults -------------------------------------------------------


def test_a_broker_correction_updates_the_stored_bar_and_is_published_as_one(
    rig, fresh_database, redis_client, redis_prefix, caplog
):
    bridge, client, clock, _ = rig()
    bridge.prices.sync("EURUSD", M1)
    before = bars_on(fresh_database)
    corrected_time = before[-1][0]  # the newest stored bar, inside the re-fetched overlap
    new_close = before[-1][3] if before[-1][4] != before[-1][3] else before[-1][2]  # low or high

    moment = datetime.fromtimestamp(corrected_time, timezone.utc)
    server_time = corrected_time + int(ZoneInfo("Europe/Athens").utcoffset(moment).seconds)

    def correct(rates: np.ndarray) -> np.ndarray:
        rates["close"][rates["time"] == server_time] = new_close
        return rates

    client.edit = correct
    clock.advance(60)
    with caplog.at_level(logging.WARNING):
        result = bridge.prices.sync("EURUSD", M1)
    after = bars_on(fresh_database)

    assert result.corrected == 1 and result.new == 1
    assert after[: len(before) - 1] == before[:-1]
    (row,) = [r for r in after if r[0] == corrected_time]
    assert row[4] == new_close
    assert "broker corrected 1 stored bar" in caplog.text
    published = [
        json.loads(fields[b"envelope"])["data"]
        for _, fields in redis_client.xrange(f"{redis_prefix}:stream:bar")
    ]
    (correction,) = [d for d in published if d.get("correction")]
    assert correction["time"] == moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert correction["close"] == new_close and correction["previous"]["close"] == before[-1][4]
    times = [d["time"] for d in published]
    assert times.count(correction["time"]) == 2  # first as the closed bar, then its correction

    clock.advance(60)
    assert bridge.prices.sync("EURUSD", M1).corrected == 0  # the same values again: no news


def test_a_correction_made_while_the_bridge_was_stopped_is_still_seen(
    rig, fresh_database, redis_client, redis_prefix
):
    # The values last stored are remembered in memory; a restarted bridge remembers none and
    # must read them back to see the broker's change.
    first, _, clock, _ = rig()
    first.prices.sync("EURUSD", M1)
    before = bars_on(fresh_database)
    corrected_time = before[-1][0]
    new_close = before[-1][3] if before[-1][4] != before[-1][3] else before[-1][2]
    moment = datetime.fromtimestamp(corrected_time, timezone.utc)
    server_time = corrected_time + int(ZoneInfo("Europe/Athens").utcoffset(moment).seconds)

    second, client, _, _ = rig(start=clock.now() + 60, folder="second")
    client.edit = lambda rates: _with_close(rates, server_time, new_close)
    result = second.prices.sync("EURUSD", M1)

    assert result.corrected == 1 and result.new == 1
    (row,) = [r for r in bars_on(fresh_database) if r[0] == corrected_time]
    assert row[4] == new_close
    published = [
        json.loads(fields[b"envelope"])["data"]
        for _, fields in redis_client.xrange(f"{redis_prefix}:stream:bar")
    ]
    (correction,) = [d for d in published if d.get("correction")]
    assert correction["previous"]["close"] == before[-1][4]


def _with_close(rates: np.ndarray, server_time: int, close: float) -> np.ndarray:
    rates["close"][rates["time"] == server_time] = close
    return rates


def test_duplicates_and_rows_out_of_order_are_quarantined(rig, fresh_database, caplog):
    bridge, client, clock, real = rig()

    def spoil(rates: np.ndarray) -> np.ndarray:
        # rows -5 and -4 swapped (the earlier bar comes after a later one), row -3 sent twice
        rates[[-5, -4]] = rates[[-4, -5]]
        return np.insert(rates, len(rates) - 2, rates[-3])

    client.edit = spoil
    with caplog.at_level(logging.WARNING, logger="bridge_v3.controllers.price_controller"):
        result = bridge.prices.sync("EURUSD", M1)
    expected = terminal_closed_bars(real, "EURUSD", M1, START - 86400, clock.now())

    with psycopg2.connect(**fresh_database) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT reason, EXTRACT(EPOCH FROM time)::bigint FROM bar_quarantine ORDER BY 1"
        )
        quarantined = cur.fetchall()
    conn.close()
    assert [reason for reason, _ in quarantined] == ["duplicate", "out_of_order"]
    out_of_order_time = quarantined[1][1]
    assert out_of_order_time == expected[-4][0]  # the earlier bar, met after the later one
    assert result.quarantined == 2 and bridge.prices.totals["quarantined"] == 2
    # The duplicate is stored once; the out-of-order bar is not stored as good.
    assert bars_on(fresh_database) == [r for r in expected if r[0] != out_of_order_time]

    clock.advance(60)  # the same kinds again: counted, not logged again
    bridge.prices.sync("EURUSD", M1)
    assert bridge.prices.totals["quarantined"] == 4
    logged = [r for r in caplog.records if "quarantined" in r.getMessage()]
    assert len(logged) == 2


def test_a_bad_bar_seen_again_in_the_overlap_is_kept_once(rig, fresh_database):
    """Over a weekend the overlap is fetched again every cycle: one row, not one per cycle."""
    bridge, client, clock, _ = rig()
    spoilt: list[int] = []

    def spoil(rates: np.ndarray) -> np.ndarray:
        if not spoilt:
            spoilt.append(int(rates["time"][-3]))  # inside the two-bar overlap of every re-fetch
        rates["high"][rates["time"] == spoilt[0]] = 0.5
        return rates

    client.edit = spoil
    bridge.prices.sync("EURUSD", M1)
    for _ in range(5):
        clock.advance(5)  # the same minute: nothing new, the overlap again
        again = bridge.prices.sync("EURUSD", M1)

    with psycopg2.connect(**fresh_database) as conn, conn.cursor() as cur:
        cur.execute("SELECT reason, seen_at <= last_seen_at FROM bar_quarantine")
        rows = cur.fetchall()
    conn.close()
    assert rows == [("high_below_low", True)]
    assert again.quarantined == 0 and bridge.prices.totals["quarantined"] == 1


# -- backfill -----------------------------------------------------------------------------------


def test_backfill_in_chunks_across_a_dst_change_stores_every_bar_once(
    rig, fresh_database, redis_client, redis_prefix
):
    bridge, _, clock, real = rig(start=AFTER_DST)
    pubsub = redis_client.pubsub()
    pubsub.psubscribe(f"{redis_prefix}:bar:*")
    pubsub.get_message(timeout=1)

    first = bridge.prices.backfill("EURUSD", H1, 4, chunk_days=0.3)
    expected = terminal_closed_bars(real, "EURUSD", H1, AFTER_DST - 4 * 86400, AFTER_DST)
    assert bars_on(fresh_database, "H1") == expected
    assert first.fetched == first.stored == len(expected) > 40
    second = bridge.prices.backfill("EURUSD", H1, 4, chunk_days=1.7)
    assert second.stored == 0 and second.fetched == len(expected)
    assert bars_on(fresh_database, "H1") == expected
    assert pubsub.get_message(timeout=0.3) is None  # history is stored, not broadcast
    pubsub.close()
    assert bridge.prices.watermark("EURUSD", H1) == expected[-1][0]


def test_monthly_bars_store_only_closed_months(rig, fresh_database):
    bridge, _, clock, real = rig(
        start=AFTER_DST,
        initial_history_days=120,
        forex_timeframes=(MN1,),
    )
    result = bridge.prices.sync("EURUSD", MN1)
    stored = bars_on(fresh_database, "MN1")
    months = [datetime.fromtimestamp(row[0] + 6 * 3600, timezone.utc) for row in stored]
    # Month bars open at the broker's midnight of the 1st (the evening before, in UTC).
    assert [(m.year, m.month, m.day) for m in months] == [(2025, 12, 1), (2026, 1, 1), (2026, 2, 1)]
    assert bridge.prices.watermark("EURUSD", MN1) == stored[-1][0]
    assert result.quarantined == 0  # March, still forming, is neither stored nor "in future"


def test_a_broker_day_of_25_hours_is_not_called_closed_an_hour_early(rig, fresh_database):
    # Athens goes back an hour on Sunday 25 October 2026: that broker day runs from
    # 21:00 UTC on the 24th to 22:00 UTC on the 25th. At 21:30 UTC it is still forming.
    bridge, _, clock, _ = rig(
        start=utc(2026, 10, 25, 21, 30),
        forex_pairs=("BTCUSD",),
        forex_timeframes=(TIMEFRAMES["D1"],),
        initial_history_days=5,
    )
    bridge.prices.sync("BTCUSD", TIMEFRAMES["D1"])
    assert bars_on_symbol(fresh_database, "BTCUSD", "D1")[-1][0] == utc(2026, 10, 23, 21)
    clock.set(utc(2026, 10, 25, 22, 0, 30))
    bridge.prices.sync("BTCUSD", TIMEFRAMES["D1"])
    assert bars_on_symbol(fresh_database, "BTCUSD", "D1")[-1][0] == utc(2026, 10, 24, 21)
    assert bridge.prices.totals["corrected"] == 0


def test_a_host_clock_behind_within_tolerance_quarantines_nothing(
    fresh_database, redis_prefix, tmp_path
):
    clock = ManualClock(START)
    settings = settings_for(fresh_database, redis_prefix, tmp_path)
    late = replace(settings.simulator, host_clock_skew=-100.0)  # the VPS clock is 100 s slow
    market = replace(settings.market, forex_timeframes=(M1, TIMEFRAMES["M5"]))
    settings = replace(settings, simulator=late, market=market)
    backend = simulator_backend(settings.simulator, clock)
    bridge = Bridge(settings, threading.Event(), backend)
    bridge.connect()
    try:
        for _ in range(12):
            clock.advance(30)
            bridge.prices.sync_all()
    finally:
        bridge.shutdown(drain_seconds=1)
    assert bridge.prices.totals["quarantined"] == 0
    assert bridge.prices.totals["new"] > 0


def test_backfill_from_a_fractional_now_loses_no_bar_at_a_chunk_boundary(rig, fresh_database):
    # Chunks of one hour ending half a second before each full hour: with fractional
    # bounds the bar opening on each boundary used to fall between two chunks.
    now = AFTER_DST - 30.5  # 11:59:59.5 UTC
    bridge, _, clock, real = rig(start=now)
    bridge.prices.backfill("EURUSD", H1, 1, chunk_days=1 / 24)
    expected = terminal_closed_bars(real, "EURUSD", H1, now - 86400, clock.now())
    assert len(expected) >= 10  # the week opened on Sunday evening
    assert bars_on(fresh_database, "H1") == expected


# -- closure decided by the terminal ------------------------------------------------------------


def test_a_host_clock_running_ahead_stores_every_bar_once_and_complete(
    fresh_database, redis_prefix, tmp_path
):
    clock = ManualClock(START)
    settings = settings_for(fresh_database, redis_prefix, tmp_path)
    skewed = replace(settings.simulator, host_clock_skew=40.0)  # the VPS clock is 40 s fast
    settings = replace(settings, simulator=skewed)
    backend = simulator_backend(settings.simulator, clock)
    bridge = Bridge(settings, threading.Event(), backend)
    bridge.connect()
    try:
        for _ in range(36):  # three minutes in 5 s steps
            clock.advance(5)
            bridge.prices.sync("EURUSD", M1)
    finally:
        bridge.shutdown(drain_seconds=1)

    assert bridge.prices.totals["corrected"] == 0  # no bar was stored before it was whole
    stored = bars_on(fresh_database)
    true_now = clock.now()  # the terminal's clock, not the host's
    assert stored == terminal_closed_bars(backend, "EURUSD", M1, stored[0][0], true_now)
    assert stored[-1][0] == int(true_now) // 60 * 60 - 60


def test_the_last_bar_of_the_week_is_stored_once_the_market_is_quiet(
    fresh_database, redis_prefix, tmp_path
):
    friday_close = utc(2026, 3, 27, 21)  # 17:00 New York (US summer time)
    clock = ManualClock(friday_close - 90)
    settings = settings_for(fresh_database, redis_prefix, tmp_path)
    backend = simulator_backend(settings.simulator, clock)
    bridge = Bridge(settings, threading.Event(), backend)
    bridge.connect()
    try:
        bridge.prices.sync("EURUSD", M1)
        clock.set(friday_close + 60)  # no newer bar and no newer tick will come
        bridge.prices.sync("EURUSD", M1)
        before_grace = bridge.prices.watermark("EURUSD", M1)
        clock.set(friday_close + 60 + 180)
        bridge.prices.sync("EURUSD", M1)
        after_grace = bridge.prices.watermark("EURUSD", M1)
    finally:
        bridge.shutdown(drain_seconds=1)

    assert before_grace == friday_close - 120  # the last minute is not called closed yet
    assert after_grace == friday_close - 60  # 16:59 New York: the week's last bar
