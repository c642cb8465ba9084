"""RedisService against a real Redis: envelope, seq, channels, streams, last keys, errors."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest
import redis

from bridge_v3.config.secret import Secret
from bridge_v3.config.settings import RedisSettings
from bridge_v3.exceptions import PublishError
from bridge_v3.services.redis_service import (
    SEND_BYTES,
    SEND_CHUNK,
    Prepared,
    RedisService,
    send_chunks,
)
from tests.conftest import REDIS_HOST, REDIS_PORT

EPOCH_1700000000 = "2023-11-14T22:13:20"  # 1700000000 s after 1970-01-01T00:00:00Z


def make_service(prefix: str, source: str = "bridge-a", **settings) -> RedisService:
    values = dict(host=REDIS_HOST, port=REDIS_PORT, prefix=prefix)
    values.update(settings)
    service = RedisService(
        RedisSettings(**values), source=source, account=12345678, clock=lambda: 1700000000.12
    )
    return service


@pytest.fixture
def service(redis_prefix: str) -> Iterator[RedisService]:
    svc = make_service(redis_prefix)
    svc.start()
    yield svc
    svc.close()


@pytest.fixture
def subscriber(redis_client: redis.Redis) -> Iterator[redis.client.PubSub]:
    pubsub = redis_client.pubsub(ignore_subscribe_messages=True)
    yield pubsub
    pubsub.close()


def subscribe(pubsub: redis.client.PubSub, channel: str) -> None:
    pubsub.subscribe(channel)
    confirmation = pubsub.parse_response(timeout=5)  # subscribed before anything is published
    assert confirmation[0] in (b"subscribe", "subscribe")


def received(pubsub: redis.client.PubSub, count: int) -> list[dict]:
    messages = []
    deadline = time.monotonic() + 5
    while len(messages) < count and time.monotonic() < deadline:
        message = pubsub.get_message(timeout=0.5)
        if message is not None:
            messages.append(json.loads(message["data"]))
    return messages


def test_envelope_shape(service: RedisService) -> None:
    envelope = service.envelope("bar", {"symbol": "EURUSD"})

    assert envelope == {
        "v": 1, "type": "bar", "source": "bridge-a", "account": 12345678, "seq": 1,
        "ts": EPOCH_1700000000 + ".120Z", "data": {"symbol": "EURUSD"},
    }  # fmt: skip


def test_channel_names(service: RedisService, redis_prefix: str) -> None:
    assert service.channel("bar", "EURUSD", "M15") == f"{redis_prefix}:bar:EURUSD:M15"
    assert service.channel("account") == f"{redis_prefix}:account"


def test_seq_rises_by_one_and_continues_after_restart(redis_prefix: str, subscriber) -> None:
    channel = f"{redis_prefix}:status"
    subscribe(subscriber, channel)
    first = make_service(redis_prefix)
    first.start()
    first.publish_many([(channel, "status", {"n": n}) for n in range(3)])
    first.close()
    second = make_service(redis_prefix)
    second.start()
    second.publish(channel, "status", {"n": 3})
    other_bridge = make_service(redis_prefix, source="bridge-b")
    other_bridge.start()
    other_bridge.publish(channel, "status", {"n": 0})

    seen = [(m["source"], m["seq"], m["data"]["n"]) for m in received(subscriber, 5)]

    assert seen == [
        ("bridge-a", 1, 0), ("bridge-a", 2, 1), ("bridge-a", 3, 2), ("bridge-a", 4, 3),
        ("bridge-b", 1, 0),
    ]  # fmt: skip


def test_publish_many_reaches_channel_and_stream(
    service: RedisService, redis_client: redis.Redis, redis_prefix: str, subscriber
) -> None:
    channel = service.channel("bar", "EURUSD", "M15")
    subscribe(subscriber, channel)
    bars = [{"symbol": "EURUSD", "close": 1.1 + i / 100} for i in range(4)]

    count = service.publish_many([(channel, "bar", bar) for bar in bars])

    on_channel = received(subscriber, 4)
    stream = redis_client.xrange(f"{redis_prefix}:stream:bar")
    assert count == 4
    assert [m["data"] for m in on_channel] == bars
    assert [m["seq"] for m in on_channel] == [1, 2, 3, 4]
    assert [entry[b"channel"].decode() for _, entry in stream] == [channel] * 4
    assert [json.loads(entry[b"envelope"]) for _, entry in stream] == on_channel


def test_stream_is_capped(redis_client: redis.Redis, redis_prefix: str) -> None:
    service = make_service(redis_prefix, stream_maxlen=10)
    service.start()

    for batch in range(10):
        service.publish_many([("c", "tick", {"i": batch * 50 + i}) for i in range(50)])

    length = redis_client.xlen(f"{redis_prefix}:stream:tick")
    newest = redis_client.xrevrange(f"{redis_prefix}:stream:tick", count=1)[0][1]
    # MAXLEN ~ trims whole radix-tree nodes (100 entries by default), never below the cap.
    assert 10 <= length <= 110
    assert json.loads(newest[b"envelope"])["data"] == {"i": 499}


def test_last_keys_carry_data_and_ttl(
    service: RedisService, redis_client: redis.Redis, redis_prefix: str
) -> None:
    service.set_last("bar:EURUSD:M15", {"close": 1.25}, ttl=60)
    service.set_last_many([("account", {"equity": 1000.5}), ("status", {"ok": True})])

    bar = json.loads(redis_client.get(f"{redis_prefix}:last:bar:EURUSD:M15"))
    account = json.loads(redis_client.get(f"{redis_prefix}:last:account"))
    assert bar["data"] == {"close": 1.25} and bar["source"] == "bridge-a"
    assert account["data"] == {"equity": 1000.5}
    assert 0 < redis_client.ttl(f"{redis_prefix}:last:bar:EURUSD:M15") <= 60
    assert 60 < redis_client.ttl(f"{redis_prefix}:last:status") <= 3600  # settings default
    assert service.seq == 0  # latest values are not events: they take no seq


def test_json_is_compact_utc_and_valid(
    service: RedisService, redis_prefix: str, subscriber
) -> None:
    channel = service.channel("deal")
    subscribe(subscriber, channel)
    athens = timezone(timedelta(hours=3))
    data = {
        "time": datetime(2024, 6, 1, 15, 0, tzinfo=athens), "naive": datetime(2024, 6, 1, 12),
        "price": math.nan, "comment": "é €",
    }  # fmt: skip

    service.publish(channel, "deal", data)

    raw = subscriber.get_message(timeout=5)["data"].decode()
    assert ", " not in raw and '": ' not in raw and "é €" in raw
    assert json.loads(raw)["data"] == {
        "time": "2024-06-01T12:00:00Z", "naive": "2024-06-01T12:00:00Z",
        "price": None, "comment": "é €",
    }  # fmt: skip


def test_unreachable_names_address_not_password(redis_prefix: str) -> None:
    secret = "r3dis-Secret-value"
    service = make_service(redis_prefix, port=1, password=Secret(secret))

    with pytest.raises(PublishError) as caught:
        service.start()
    with pytest.raises(PublishError) as on_publish:
        service.publish("c", "status", {})

    assert "127.0.0.1:1" in str(caught.value) or f"{REDIS_HOST}:1" in str(caught.value)
    for text in (str(caught.value), str(on_publish.value), repr(service)):
        assert secret not in text
    assert service.health() is False


def test_large_mixed_batch_keeps_order_per_stream(
    service: RedisService, redis_client: redis.Redis, redis_prefix: str
) -> None:
    messages = [
        ("c:bar" if n % 3 else "c:account", "bar" if n % 3 else "account", {"n": n})
        for n in range(2500)
    ]

    service.publish_many(messages)

    def stream(type_: str) -> list[tuple[int, int]]:
        entries = redis_client.xrange(f"{redis_prefix}:stream:{type_}")
        envelopes = [json.loads(entry[b"envelope"]) for _, entry in entries]
        return [(e["seq"], e["data"]["n"]) for e in envelopes]

    assert stream("bar") == [(n + 1, n) for n in range(2500) if n % 3]
    assert stream("account") == [(n + 1, n) for n in range(2500) if not n % 3]
    assert int(redis_client.get(f"{redis_prefix}:seq:bridge-a")) == 2500


def test_calls_are_cut_by_count_and_by_bytes_in_order() -> None:
    def made(sizes: list[int]) -> list[Prepared]:
        return [Prepared("c", "ticks", "x" * size, n + 1) for n, size in enumerate(sizes)]

    small = made([10] * (2 * SEND_CHUNK + 1))
    assert [len(chunk) for chunk in send_chunks(small)] == [SEND_CHUNK, SEND_CHUNK, 1]
    big = made([SEND_BYTES // 3] * 7 + [SEND_BYTES * 2, 5])  # one larger than a call goes alone
    chunks = list(send_chunks(big))
    assert [len(chunk) for chunk in chunks] == [3, 3, 1, 1, 1]
    assert all(sum(len(m.envelope) for m in c) <= SEND_BYTES for c in chunks if len(c) > 1)
    assert [m.seq for chunk in chunks for m in chunk] == list(range(1, 10))


def test_large_messages_go_in_several_calls_and_all_arrive_in_order(
    service: RedisService, redis_client: redis.Redis, redis_prefix: str
) -> None:
    # About 12 MB in 60 messages: more than one call's worth of bytes.
    blob = "t" * 200_000
    service.publish_many([("c:ticks", "ticks", {"n": n, "blob": blob}) for n in range(60)])

    entries = redis_client.xrange(f"{redis_prefix}:stream:ticks")
    envelopes = [json.loads(entry[b"envelope"]) for _, entry in entries]
    assert [(e["seq"], e["data"]["n"]) for e in envelopes] == [(n + 1, n) for n in range(60)]
    assert all(e["data"]["blob"] == blob for e in envelopes)


def test_the_tick_batches_stream_keeps_about_as_many_ticks_as_the_tick_stream(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    service = make_service(redis_prefix, stream_maxlen=200_000)
    service.start()
    try:
        assert service.stream_maxlen("tick") == 200_000
        assert service.stream_maxlen("ticks") == 200
        # ~ trimming works in whole radix-tree nodes: far more than the cap must go in.
        service.publish_many([("c:ticks", "ticks", {"n": n}) for n in range(3000)])
        service.publish_many([("c:tick", "tick", {"n": n}) for n in range(3000)])
    finally:
        service.close()

    assert redis_client.xlen(f"{redis_prefix}:stream:ticks") < 1000
    assert redis_client.xlen(f"{redis_prefix}:stream:tick") == 3000


def test_tabs_newlines_and_unicode_in_data_arrive_intact(
    service: RedisService, redis_client: redis.Redis, redis_prefix: str, subscriber
) -> None:
    # A batch travels as tab- and newline-separated lines: data holding them must not split it.
    channel = service.channel("status")
    subscribe(subscriber, channel)
    data = [{"text": "a\tb\nc"}, {"text": "δ\r\n€"}, {"text": ""}]

    service.publish_many([(channel, "status", d) for d in data])

    assert [m["data"] for m in received(subscriber, 3)] == data
    stream = redis_client.xrange(f"{redis_prefix}:stream:status")
    assert [json.loads(entry[b"envelope"])["data"] for _, entry in stream] == data


def test_channel_with_a_separator_is_refused(
    service: RedisService, redis_client: redis.Redis, redis_prefix: str
) -> None:
    with pytest.raises(PublishError, match="tab or a newline"):
        service.publish_many([(service.channel("bar", "EUR\tUSD", "M1"), "bar", {})])

    assert redis_client.xlen(f"{redis_prefix}:stream:bar") == 0


def test_last_keys_without_ttl_and_with_newlines_in_data(
    service: RedisService, redis_client: redis.Redis, redis_prefix: str
) -> None:
    # The values of one call travel as one newline-separated argument.
    service.set_last_many([("a", {"text": "x\ny"}), ("b", {"text": "δ\t€"})], ttl=0)

    for key, text in (("a", "x\ny"), ("b", "δ\t€")):
        assert json.loads(redis_client.get(f"{redis_prefix}:last:{key}"))["data"] == {"text": text}
        assert redis_client.ttl(f"{redis_prefix}:last:{key}") == -1  # no expiry
