"""The Publisher across real Redis outages: spool, replay in order, seqs kept, nothing twice."""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from bridge_v3.config.settings import RedisSettings
from bridge_v3.services.outbox import Outbox
from bridge_v3.services.publisher import Publisher
from bridge_v3.services.redis_service import RedisService
from tests.conftest import REDIS_HOST, REDIS_PORT


class TcpProxy:
    """Forwards a local port to the real Redis; ``cut()`` is an outage, ``restore()`` ends it."""

    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._open = True
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, name="test-proxy-accept", daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if not self._open:
                client.close()
                continue
            upstream = socket.create_connection(self._target)
            with self._lock:
                self._sockets += [client, upstream]
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                sock.close()

    def cut(self) -> None:
        self._open = False
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def restore(self) -> None:
        self._open = True

    def close(self) -> None:
        self.cut()
        self._listener.close()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def proxy() -> Iterator[TcpProxy]:
    tcp = TcpProxy(REDIS_HOST, REDIS_PORT)
    yield tcp
    tcp.close()


@pytest.fixture
def subscriber(redis_client: redis.Redis, redis_prefix: str) -> Iterator[redis.client.PubSub]:
    pubsub = redis_client.pubsub(ignore_subscribe_messages=True)
    pubsub.psubscribe(f"{redis_prefix}:*")
    assert pubsub.parse_response(timeout=5)[0] in (b"psubscribe", "psubscribe")
    yield pubsub
    pubsub.close()


def make_publisher(prefix: str, port: int, spool: Path, clock=time.monotonic) -> Publisher:
    settings = RedisSettings(
        host=REDIS_HOST if port == REDIS_PORT else "127.0.0.1", port=port, prefix=prefix
    )
    service = RedisService(settings, source="bridge-a", account=7, socket_timeout=2)
    return Publisher(service, Outbox(spool), clock=clock)


def drain(pubsub: redis.client.PubSub, count: int) -> list[dict]:
    """Everything that arrives until ``count`` messages are in, then anything straggling."""
    messages: list[dict] = []
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        message = pubsub.get_message(timeout=0.2 if len(messages) >= count else 1)
        if message is None and len(messages) >= count:
            break
        if message is not None:
            messages.append(json.loads(message["data"]))
    return messages


def bars(prefix: str, start: int, count: int) -> list[tuple[str, str, dict]]:
    return [(f"{prefix}:bar:EURUSD:M1", "bar", {"n": n}) for n in range(start, start + count)]


def test_spooled_while_down_then_replayed_by_the_next_run(
    tmp_path: Path, redis_prefix: str, redis_client: redis.Redis, subscriber
) -> None:
    spool = tmp_path / "outbox.sqlite3"
    down = make_publisher(redis_prefix, 1, spool)  # nothing listens on port 1
    started = down.start()
    delivered = down.publish_many(bars(redis_prefix, 0, 3)) + down.publish_many(
        bars(redis_prefix, 3, 2)
    )
    pending_while_down = down.pending

    up = make_publisher(redis_prefix, REDIS_PORT, spool)
    up.start()
    up.publish_many(bars(redis_prefix, 5, 2))

    seen = drain(subscriber, 7)
    assert (started, delivered, pending_while_down) == (False, 0, 5)
    assert [(m["seq"], m["data"]["n"]) for m in seen] == [(n + 1, n) for n in range(7)]
    assert up.pending == 0 and len(Outbox(spool)) == 0
    stream = redis_client.xrange(f"{redis_prefix}:stream:bar")
    assert [json.loads(e[b"envelope"])["seq"] for _, e in stream] == list(range(1, 8))


def test_outage_mid_run_keeps_order_and_logs_once(
    tmp_path: Path, redis_prefix: str, proxy: TcpProxy, subscriber, caplog
) -> None:
    clock = FakeClock()
    publisher = make_publisher(redis_prefix, proxy.port, tmp_path / "outbox.sqlite3", clock)
    assert publisher.start()
    publisher.publish_many(bars(redis_prefix, 0, 2))

    proxy.cut()
    with caplog.at_level(logging.WARNING, logger="bridge_v3.services.publisher"):
        spooled = [publisher.publish_many(bars(redis_prefix, n, 1)) for n in range(2, 5)]
    proxy.restore()
    too_early = publisher.flush_if_due()
    clock.now += 60
    replayed = publisher.flush_if_due()
    after = publisher.publish_many(bars(redis_prefix, 5, 2))

    seen = drain(subscriber, 7)
    assert spooled == [0, 0, 0] and (too_early, replayed, after) == (0, 3, 2)
    assert [(m["seq"], m["data"]["n"]) for m in seen] == [(n + 1, n) for n in range(7)]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "spooling" in warnings[0].getMessage()


def test_new_messages_wait_behind_spooled_ones(
    tmp_path: Path, redis_prefix: str, proxy: TcpProxy, subscriber
) -> None:
    clock = FakeClock()
    publisher = make_publisher(redis_prefix, proxy.port, tmp_path / "outbox.sqlite3", clock)
    publisher.start()
    proxy.cut()
    publisher.publish_many(bars(redis_prefix, 0, 2))
    proxy.restore()

    # Redis is back but the back-off is not over: the new message must queue, not overtake.
    early = publisher.publish_many(bars(redis_prefix, 2, 1))
    clock.now += 60
    later = publisher.publish_many(bars(redis_prefix, 3, 1))

    seen = drain(subscriber, 4)
    assert (early, later) == (0, 1)
    assert [m["data"]["n"] for m in seen] == [0, 1, 2, 3]
    assert [m["seq"] for m in seen] == [1, 2, 3, 4]


def test_seq_continues_from_the_spool_when_redis_is_down_at_start(
    tmp_path: Path, redis_prefix: str, subscriber
) -> None:
    spool = tmp_path / "outbox.sqlite3"
    first = make_publisher(redis_prefix, REDIS_PORT, spool)
    first.start()
    first.publish_many(bars(redis_prefix, 0, 3))

    restarted_while_down = make_publisher(redis_prefix, 1, spool)
    restarted_while_down.start()
    restarted_while_down.publish_many(bars(redis_prefix, 3, 1))
    back = make_publisher(redis_prefix, REDIS_PORT, spool)
    back.start()

    assert [m["seq"] for m in drain(subscriber, 4)] == [1, 2, 3, 4]
