"""Redis restarting under a subscriber: it reconnects and resumes, nothing lost or doubled.

The test runs its own redis-server (append-only file, free port) so it can stop and start
it; the shared Redis is never touched.
"""

from __future__ import annotations

import contextlib
import queue
import socket
import subprocess
import threading
import time

import pytest
import redis

from bridge_v3.client import BridgeSubscriber
from tests.client.publishing import publish_accounts, publisher


class OwnRedis:
    def __init__(self, directory) -> None:
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self.directory = directory
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "yes",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port)
        for _ in range(500):  # up to ~5 s for it to accept connections
            try:
                client.ping()
                return
            except redis.ConnectionError:
                time.sleep(0.01)
        raise RuntimeError(f"redis-server on port {self.port} did not start")

    def stop(self) -> None:
        """SHUTDOWN: the append-only file keeps the streams, as a restarted server would."""
        with contextlib.suppress(redis.ConnectionError):
            redis.Redis(port=self.port).shutdown(nosave=False)
        self.process.wait(timeout=10)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


@pytest.fixture
def own_redis(tmp_path):
    server = OwnRedis(tmp_path)
    server.start()
    yield server
    if server.process.poll() is None:
        server.process.kill()
        server.process.wait(timeout=10)


def test_redis_restarting_under_a_subscriber_loses_and_doubles_nothing(own_redis):
    received: queue.Queue = queue.Queue()
    service = publisher("mt5", port=own_redis.port)
    publish_accounts(service, range(5))
    sub = BridgeSubscriber(own_redis.url, "mt5", block_ms=100, retry_delays=(0.02, 0.2))
    reader = threading.Thread(target=lambda: [received.put(e.seq) for e in sub.events()])
    reader.start()
    try:
        first = [received.get(timeout=10) for _ in range(5)]
        own_redis.stop()
        own_redis.start()
        service = publisher("mt5", port=own_redis.port)  # the bridge's seq resumes from Redis
        publish_accounts(service, range(5, 9))
        after = [received.get(timeout=20) for _ in range(4)]
    finally:
        sub.close()
        reader.join(timeout=10)
    assert first + after == list(range(1, 10))
    assert received.empty()
    assert sub.stats["reconnects"] >= 1 and sub.gaps == []
