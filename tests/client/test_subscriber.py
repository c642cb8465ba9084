"""BridgeSubscriber against real Redis: order, exactly once across restarts, repeats, gaps."""

from __future__ import annotations

import json

from bridge_v3.client import BridgeSubscriber, FilePosition, RedisPosition
from tests.client.conftest import stream_envelopes
from tests.client.publishing import account_data, bar_data, publish_accounts, publisher


def drain(sub: BridgeSubscriber, limit: int | None = None) -> list:
    got = []
    for event in sub.events(drain=True):
        got.append(event)
        if limit is not None and len(got) == limit:
            break
    return got


def test_stopped_and_restarted_receives_every_event_once_in_seq_order(
    sim_bridge, redis_client, redis_prefix, redis_url, tmp_path
):
    sim_bridge.run_once()
    position = FilePosition(tmp_path / "position.json")
    first = BridgeSubscriber(redis_url, redis_prefix, position=position, count=40, block_ms=50)
    before = drain(first, limit=150)
    first.close()

    sim_bridge.run_once(advance=2 * 3600)  # published while the subscriber was away
    second = BridgeSubscriber(redis_url, redis_prefix, position=position, count=40, block_ms=50)
    after = drain(second)
    second.close()

    seqs = [event.seq for event in before + after]
    published = stream_envelopes(redis_client, redis_prefix)
    assert len(before) == 150
    assert seqs == list(range(1, max(e["seq"] for e in published) + 1))
    assert {event.type for event in after} == {"bar", "account", "status"}
    assert second.gaps == [] and second.stats["repeats"] == 0


def test_ticks_and_bars_interleave_in_seq_order_across_streams(
    fresh_database, redis_prefix, redis_url, tmp_path
):
    from tests.client.conftest import SimBridge

    bridge = SimBridge(fresh_database, redis_prefix, tmp_path, tick_symbols=("BTCUSD",))
    bridge.run_once()
    bridge.run_once(advance=600)  # many ticks at once: batched ("ticks")
    bridge.run_once(advance=60)  # a few: one "tick" each
    sub = BridgeSubscriber(redis_url, redis_prefix, count=7, block_ms=50)
    events = drain(sub)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert {"tick", "ticks", "bar"} <= {e.type for e in events}
    assert sub.gaps == []


def test_a_redelivered_seq_is_dropped(redis_prefix, redis_url):
    service = publisher(redis_prefix)
    prepared = service.prepare(
        (service.channel("account"), "account", account_data(n)) for n in range(5)
    )
    service.send(prepared)
    service.send(prepared[2:])  # what the outbox does after a crash before its ack
    publish_accounts(service, [5, 6])

    sub = BridgeSubscriber(redis_url, redis_prefix, block_ms=50)
    events = drain(sub)

    assert [e.seq for e in events] == [1, 2, 3, 4, 5, 6, 7]
    assert [e.data.balance for e in events] == [1000.0 + n for n in range(7)]
    assert sub.stats["repeats"] == 3 and sub.gaps == []


def test_a_gap_made_on_purpose_is_reported_and_the_rest_delivered(redis_prefix, redis_url):
    service = publisher(redis_prefix)
    publish_accounts(service, range(3))
    service.advance_seq(10)  # seqs 4..10 never reach Redis
    publish_accounts(service, range(3, 5))
    reported = []

    sub = BridgeSubscriber(redis_url, redis_prefix, block_ms=50, on_gap=reported.append)
    events = drain(sub)

    assert [e.seq for e in events] == [1, 2, 3, 11, 12]
    assert [(g.source, g.first, g.last, g.size) for g in reported] == [("b1", 4, 10, 7)]
    assert sub.stats["missing"] == 7


def test_gaps_are_per_source(redis_prefix, redis_url):
    one, two = publisher(redis_prefix, "one"), publisher(redis_prefix, "two")
    publish_accounts(one, range(3))
    publish_accounts(two, range(2))
    publish_accounts(one, range(2))
    sub = BridgeSubscriber(redis_url, redis_prefix, block_ms=50)
    events = drain(sub)
    assert [(e.source, e.seq) for e in events if e.source == "one"] == [
        ("one", n) for n in range(1, 6)
    ]
    assert [(e.source, e.seq) for e in events if e.source == "two"] == [("two", 1), ("two", 2)]
    assert sub.gaps == []


def test_a_type_filter_hands_on_only_those_types_and_sees_no_false_gap(sim_bridge, redis_url):
    sim_bridge.run_once()
    prefix = sim_bridge.settings.redis.prefix
    sub = BridgeSubscriber(redis_url, prefix, types="bar", symbols=["BTCUSD"], block_ms=50)
    events = drain(sub)
    assert events and {(e.type, e.symbol) for e in events} == {("bar", "BTCUSD")}
    assert [e.seq for e in events] == sorted(e.seq for e in events)
    assert sub.gaps == []


def test_invalid_messages_are_reported_with_the_reason_and_skipped(
    redis_client, redis_prefix, redis_url
):
    service = publisher(redis_prefix)
    stream = f"{redis_prefix}:stream:bar"
    publish_accounts(service, [0])
    redis_client.xadd(stream, {"channel": "x", "envelope": "{not json"})
    bad = service.envelope("bar", dict(bar_data("EURUSD", 1), close="abc"))
    redis_client.xadd(stream, {"channel": "x", "envelope": json.dumps(bad)})
    service.publish(service.channel("bar", "EURUSD", "M1"), "bar", bar_data("EURUSD", 2))
    reported = []

    sub = BridgeSubscriber(redis_url, redis_prefix, block_ms=50, on_invalid=reported.append)
    events = drain(sub)

    assert [e.seq for e in events] == [1, 3]
    assert events[1].data.tick_volume == 2
    assert "not JSON" in reported[0].reason and reported[0].seq is None
    assert "data.close" in reported[1].reason and (reported[1].source, reported[1].seq) == ("b1", 2)
    assert sub.gaps == []  # an invalid message is still a message: no gap


def test_start_now_skips_what_was_there(redis_prefix, redis_url):
    service = publisher(redis_prefix)
    publish_accounts(service, range(3))
    sub = BridgeSubscriber(redis_url, redis_prefix, start="now", block_ms=50)
    assert drain(sub) == []
    publish_accounts(service, range(2))
    assert [e.seq for e in drain(sub)] == [4, 5]


def test_manual_commit_saves_only_when_asked(redis_prefix, redis_url, redis_client):
    service = publisher(redis_prefix)
    publish_accounts(service, range(4))
    position = RedisPosition(f"{redis_prefix}:client:position")
    sub = BridgeSubscriber(redis_url, redis_prefix, position=position, commit="manual", block_ms=50)
    assert [e.seq for e in drain(sub, limit=2)] == [1, 2]
    sub.commit()
    assert [e.seq for e in drain(sub, limit=1)] == [3]  # handed on, never committed
    sub.close()

    again = BridgeSubscriber(redis_url, redis_prefix, position=position, block_ms=50)
    assert [e.seq for e in drain(again)] == [3, 4]
    assert json.loads(redis_client.get(f"{redis_prefix}:client:position"))["seqs"] == {"b1": 4}


def test_a_trimmed_stream_shows_as_a_gap_after_a_restart(
    redis_client, redis_prefix, redis_url, tmp_path
):
    service = publisher(redis_prefix)
    publish_accounts(service, range(2))
    position = FilePosition(tmp_path / "p.json")
    assert (
        len(drain(BridgeSubscriber(redis_url, redis_prefix, position=position, block_ms=50))) == 2
    )
    publish_accounts(service, range(5))
    redis_client.xtrim(
        f"{redis_prefix}:stream:account", maxlen=2, approximate=False
    )  # seqs 3..5 trimmed away
    sub = BridgeSubscriber(redis_url, redis_prefix, position=position, block_ms=50)
    assert [e.seq for e in drain(sub)] == [6, 7]
    assert [(g.first, g.last) for g in sub.gaps] == [(3, 5)]


def test_bad_arguments_are_named_and_the_password_never_shown():
    import pytest

    for argument, options in (
        ("start", {"start": "yesterday"}),
        ("commit", {"commit": "sometimes"}),
        ("count", {"count": 0}),
        ("types", {"types": "bar,Deal!"}),
        ("prefix", {"prefix": ""}),
    ):
        prefix = options.pop("prefix", "mt5")
        with pytest.raises(ValueError, match=argument):
            BridgeSubscriber("redis://127.0.0.1:6379/0", prefix, **options)
    with pytest.raises(ValueError, match="redis_url"):
        BridgeSubscriber("localhost:6379", "mt5")
    subscriber = BridgeSubscriber("redis://:hunter2@127.0.0.1:1/0", "mt5")
    assert "hunter2" not in repr(subscriber) and "***" in repr(subscriber)
