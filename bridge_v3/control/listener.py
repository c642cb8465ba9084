"""The bridge's ear on ``{prefix}:control``: a thread that hands each message to the service.

Its own Redis connection (a subscriber connection can do nothing else). When Redis goes
away it reconnects with capped back-off (the Redis tracker of the publisher tells the
operator about the outage; this says only when it listens again). Pub/sub keeps nothing:
a command sent while the bridge is not listening is lost, and its sender gets no reply.
Each message is handled inside a task run named ``control``, so its log lines say so.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry as RedisRetry

from bridge_v3.config.settings import RedisSettings
from bridge_v3.services.log_context import task_run
from bridge_v3.services.retry import Backoff, wait_in_slices

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.5


def redis_client(settings: RedisSettings, *, timeout: float = 5.0) -> redis.Redis:
    """A client for the bridge's Redis (``REDIS_*``), no silent retries inside redis-py."""
    options: dict = {
        "host": settings.host,
        "port": settings.port,
        "db": settings.db,
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
        "retry": RedisRetry(NoBackoff(), 0),
    }
    if settings.password:
        options["password"] = settings.password.reveal()
    if settings.ssl:
        options["ssl"] = True
    return redis.Redis(**options)


class ControlListener:
    def __init__(
        self,
        client: redis.Redis,
        channel: str,
        handle: Callable[[bytes], object],
        *,
        backoff: Backoff | None = None,
    ) -> None:
        self._client = client
        self._channel = channel
        self._handle = handle
        self._backoff = backoff or Backoff(base=1.0, cap=30.0)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.listening = threading.Event()  # set while subscribed
        self.handled = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="control", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                self._listen(again=failures > 0)
                failures = 0
            except redis.RedisError as error:
                self.listening.clear()
                failures += 1
                logger.debug("Remote control: Redis failed (%s); listening again later", error)
                wait_in_slices(self._stop, self._backoff.delay(failures - 1))

    def _listen(self, *, again: bool) -> None:
        pubsub = self._client.pubsub(ignore_subscribe_messages=True)
        try:
            pubsub.subscribe(self._channel)
            self.listening.set()
            logger.info("Remote control listens%s on %s", " again" if again else "", self._channel)
            while not self._stop.is_set():
                message = pubsub.get_message(timeout=POLL_SECONDS)
                if message is not None and message.get("type") == "message":
                    self._one(message["data"])
        finally:
            self.listening.clear()
            with contextlib.suppress(redis.RedisError, OSError):
                pubsub.close()

    def _one(self, data: bytes) -> None:
        with task_run("control"):
            try:
                self._handle(data)
            except Exception:  # the edge of the loop: one bad message never ends listening
                logger.exception("Control message could not be handled; listening goes on")
            self.handled += 1
