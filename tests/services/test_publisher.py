"""The Publisher: messages numbered in the local outbox and sent in order, across real Redis
outages; messages staged in a PostgreSQL transaction exist if and only if it commits, and are
numbered once however a transfer is interrupted."""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from bridge_v3.config.settings import RedisSettings
from bridge_v3.exceptions import DatabaseUnavailableError, SpoolError
from bridge_v3.services.outbox import Outbox
from bridge_v3.services.pending_messages import PendingMessages
from bridge_v3.services.publisher import Publisher
from bridge_v3.services.redis_service import RedisService
from tests.conftest import REDIS_HOST, REDIS_PORT
from tests.controllers.tick_support import open_database


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


def make_publisher(
    prefix: str, port: int, spool: Path, clock=time.monotonic, pending=None
) -> Publisher:
    settings = RedisSettings(
        host=REDIS_HOST if port == REDIS_PORT else "127.0.0.1", port=port, prefix=prefix
    )
    service = RedisService(settings, source="bridge-a", account=7, socket_timeout=2)
    return Publisher(service, Outbox(spool), clock=clock, pending=pending)


def close(publisher: Publisher) -> None:
    publisher.redis.close()
    publisher._outbox.close()


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
    close(down)

    up = make_publisher(redis_prefix, REDIS_PORT, spool)
    up.start()
    up.publish_many(bars(redis_prefix, 5, 2))

    seen = drain(subscriber, 7)
    assert (started, delivered, pending_while_down) == (False, 0, 5)
    assert [(m["seq"], m["data"]["n"]) for m in seen] == [(n + 1, n) for n in range(7)]
    close(up)
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
    with caplog.at_level(logging.INFO, logger="bridge_v3"):
        spooled = [publisher.publish_many(bars(redis_prefix, n, 1)) for n in range(2, 5)]
        proxy.restore()
        too_early = publisher.flush_if_due()
        clock.now += 60
        replayed = publisher.flush_if_due()
        after = publisher.publish_many(bars(redis_prefix, 5, 2))

    seen = drain(subscriber, 7)
    assert spooled == [0, 0, 0] and (too_early, replayed, after) == (0, 3, 2)
    assert [(m["seq"], m["data"]["n"]) for m in seen] == [(n + 1, n) for n in range(7)]
    lines = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert len(lines) == 2, lines  # one line when lost, one when back: nothing per message
    assert (
        lines[0][0] == "WARNING"
        and f"Redis at 127.0.0.1:{proxy.port} is unreachable" in lines[0][1]
    )
    assert lines[1][0] == "INFO" and "answers again after" in lines[1][1]
    assert "caught up: 3 waiting message(s) sent in order" in lines[1][1]
    assert publisher.redis_state.snapshot()["outages"] == 1


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
    close(first)

    restarted_while_down = make_publisher(redis_prefix, 1, spool)
    restarted_while_down.start()
    restarted_while_down.publish_many(bars(redis_prefix, 3, 1))
    close(restarted_while_down)
    back = make_publisher(redis_prefix, REDIS_PORT, spool)
    back.start()

    assert [m["seq"] for m in drain(subscriber, 4)] == [1, 2, 3, 4]


def test_a_new_outbox_while_redis_is_down_continues_after_redis_seq_once_it_answers(
    tmp_path: Path, redis_prefix: str, subscriber, caplog
) -> None:
    lost = make_publisher(redis_prefix, REDIS_PORT, tmp_path / "lost.sqlite3")
    lost.start()
    lost.publish_many(bars(redis_prefix, 0, 3))
    close(lost)  # then this outbox file is lost; Redis remembers seq 3

    new = tmp_path / "new.sqlite3"
    while_down = make_publisher(redis_prefix, 1, new)
    while_down.start()
    while_down.publish_many(bars(redis_prefix, 3, 2))  # numbered 1, 2 locally: not sent
    close(while_down)
    with caplog.at_level(logging.WARNING, logger="bridge_v3.services.publisher"):
        back = make_publisher(redis_prefix, REDIS_PORT, new)
        back.start()
        back.publish_many(bars(redis_prefix, 5, 1))

    seen = drain(subscriber, 6)
    assert [(m["seq"], m["data"]["n"]) for m in seen] == [(n + 1, n) for n in range(6)]
    assert "renumbered after seq 3" in caplog.text


def test_a_renumbering_cut_short_is_done_once_at_the_next_contact(
    tmp_path: Path, redis_prefix: str, subscriber, monkeypatch
) -> None:
    lost = make_publisher(redis_prefix, REDIS_PORT, tmp_path / "lost.sqlite3")
    lost.start()
    lost.publish_many(bars(redis_prefix, 0, 3))
    close(lost)  # Redis remembers seq 3

    new = tmp_path / "new.sqlite3"
    while_down = make_publisher(redis_prefix, 1, new)
    while_down.start()
    while_down.publish_many(bars(redis_prefix, 3, 2))
    close(while_down)

    # The first contact fails while writing the renumbering (the disk filled up, say)...
    cut = make_publisher(redis_prefix, REDIS_PORT, new)
    original = Outbox._write_meta

    def failing(db, meta, forget):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(Outbox, "_write_meta", staticmethod(failing))
    cut.start()
    monkeypatch.setattr(Outbox, "_write_meta", staticmethod(original))
    close(cut)
    # ...and the next one numbers them after seq 3 once: no false gap.
    back = make_publisher(redis_prefix, REDIS_PORT, new)
    back.start()
    back.publish_many(bars(redis_prefix, 5, 1))

    seen = drain(subscriber, 6)
    assert [(m["seq"], m["data"]["n"]) for m in seen] == [(n + 1, n) for n in range(6)]


# -- messages staged in PostgreSQL ---------------------------------------------------------------


@pytest.fixture(scope="module")
def database(pg_database: dict):
    db = open_database(pg_database)
    yield db
    db.close()


@pytest.fixture
def pending(database):
    return PendingMessages(database, f"bridge-a-{uuid.uuid4().hex[:8]}")


def staged_rows(database, pending: PendingMessages) -> int:
    rows = database.fetch_all(
        "SELECT count(*) FROM pending_messages WHERE source = %s", (pending.source,)
    )
    return rows[0][0]


def test_staged_messages_exist_only_if_their_transaction_commits(
    tmp_path: Path, redis_prefix: str, subscriber, database, pending
) -> None:
    publisher = make_publisher(
        redis_prefix, REDIS_PORT, tmp_path / "outbox.sqlite3", pending=pending
    )
    publisher.start()

    with database.connection() as conn:
        publisher.stage(conn, bars(redis_prefix, 0, 2))
    with pytest.raises(RuntimeError), database.connection() as conn:
        publisher.stage(conn, bars(redis_prefix, 99, 1))
        raise RuntimeError("the rows of this transaction fail: its messages vanish with them")
    committed_before_delivery = staged_rows(database, pending)
    sent = publisher.deliver()

    seen = drain(subscriber, 2)
    assert committed_before_delivery == 1 and sent == 2
    assert [(m["seq"], m["data"]["n"]) for m in seen] == [(1, 0), (2, 1)]
    assert staged_rows(database, pending) == 0 and publisher.pending == 0


def test_an_interrupted_transfer_is_finished_later_without_numbering_twice(
    tmp_path: Path, redis_prefix: str, subscriber, database, pending, monkeypatch
) -> None:
    spool = tmp_path / "outbox.sqlite3"
    publisher = make_publisher(redis_prefix, REDIS_PORT, spool, pending=pending)
    publisher.start()
    with database.connection() as conn:
        publisher.stage(conn, bars(redis_prefix, 0, 3))

    def lost(ids):  # PostgreSQL goes away after the outbox took the rows, before the delete
        raise DatabaseUnavailableError("PostgreSQL unreachable at test")

    with monkeypatch.context() as patch:
        patch.setattr(pending, "delete", lost)
        publisher.deliver()
    left_in_postgres = staged_rows(database, pending)
    close(publisher)

    restarted = make_publisher(redis_prefix, REDIS_PORT, spool, pending=pending)
    restarted.start()  # finds the row again, knows it was moved, only deletes it
    with database.connection() as conn:
        restarted.stage(conn, bars(redis_prefix, 3, 1))
    restarted.deliver()

    seen = drain(subscriber, 4)
    assert left_in_postgres == 1
    assert [(m["seq"], m["data"]["n"]) for m in seen] == [(n + 1, n) for n in range(4)]
    assert staged_rows(database, pending) == 0
    assert restarted._outbox.transferred(pending.source) == set()


def test_committed_messages_wait_in_postgres_while_the_outbox_fails(
    tmp_path: Path, redis_prefix: str, subscriber, database, pending, monkeypatch, caplog
) -> None:
    publisher = make_publisher(
        redis_prefix, REDIS_PORT, tmp_path / "outbox.sqlite3", pending=pending
    )
    publisher.start()

    def full(*args, **kwargs):
        raise SpoolError("outbox test: database or disk is full")

    with monkeypatch.context() as patch, caplog.at_level(logging.INFO, logger="bridge_v3"):
        patch.setattr(publisher._outbox, "append", full)
        for n in range(3):
            with database.connection() as conn:
                publisher.stage(conn, bars(redis_prefix, n, 1))
            assert publisher.deliver() == 0
        waiting = staged_rows(database, pending)
    publisher.deliver()

    seen = drain(subscriber, 3)
    assert waiting == 3
    assert [(m["seq"], m["data"]["n"]) for m in seen] == [(1, 0), (2, 1), (3, 2)]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "disk is full" in warnings[0]


def test_what_waits_is_told_at_stop_and_at_the_next_start(
    tmp_path: Path, redis_prefix: str, subscriber, caplog
) -> None:
    spool = tmp_path / "outbox.sqlite3"
    wall = FakeClock()
    service = RedisService(RedisSettings(port=1, prefix=redis_prefix), source="bridge-a")
    down = Publisher(service, Outbox(spool, clock=wall), wall_clock=wall)
    down.start()
    down.publish_many(bars(redis_prefix, 0, 3))
    wall.now += 150
    with caplog.at_level(logging.INFO, logger="bridge_v3.services.publisher"):
        down.report_at_stop()
        close(down)
        up = make_publisher(redis_prefix, REDIS_PORT, spool)
        up._wall_clock = wall
        wall.now += 60
        up.start()

    told = [r.getMessage() for r in caplog.records if r.name == "bridge_v3.services.publisher"]
    assert told == [
        f"Stopping with 3 message(s) still in the outbox {spool} (oldest queued 2 min 30 s ago);"
        " they are sent at the next start",
        f"Outbox {spool} holds 3 message(s) from before the start (oldest queued 3 min 30 s ago):"
        " sending them first",
    ]
    assert [m["data"]["n"] for m in drain(subscriber, 3)] == [0, 1, 2]
