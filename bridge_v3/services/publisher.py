"""The publishing policy: Redis when it answers, the local outbox when it does not.

Nothing is lost across a Redis outage and order is kept: while anything is spooled, new
messages queue behind it, and ``flush()`` replays the spool oldest first. Envelopes are made
(and take their ``seq``) before the first attempt, so a replayed message keeps its seq.
Retries back off (capped) so a dead Redis does not cost a connect timeout on every call.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable

from bridge_v3.exceptions import PublishError
from bridge_v3.services.outbox import Outbox, OutboxItem
from bridge_v3.services.redis_service import Prepared, RedisService

logger = logging.getLogger(__name__)


class Publisher:
    """Wraps a RedisService and an Outbox. Thread-safe; one per bridge."""

    def __init__(
        self,
        redis: RedisService,
        outbox: Outbox,
        *,
        clock: Callable[[], float] = time.monotonic,
        retry_after: float = 1.0,
        max_retry_after: float = 30.0,
        replay_batch: int = 500,
    ) -> None:
        self._redis = redis
        self._outbox = outbox
        self._clock = clock
        self._retry_after = retry_after
        self._max_retry_after = max_retry_after
        self._replay_batch = replay_batch
        self._lock = threading.RLock()
        self._pending = len(outbox)
        self._down = False
        self._delay = retry_after
        self._next_try = 0.0
        self._seq_key = f"seq:{redis.prefix}:{redis.source}"
        # The spool remembers the last seq, so seq goes on even if Redis is down at start-up.
        redis.advance_seq(int(outbox.get_meta(self._seq_key, "0")))

    def __repr__(self) -> str:
        return f"Publisher({self._redis!r}, {self._outbox!r}, pending={self._pending})"

    @property
    def pending(self) -> int:
        """Messages waiting in the outbox."""
        return self._pending

    @property
    def redis(self) -> RedisService:
        return self._redis

    def start(self) -> bool:
        """Start Redis and replay anything spooled; False (spooling) if Redis is down."""
        with self._lock:
            try:
                self._redis.start()
            except PublishError as error:
                self._failed(error)
                return False
            if self._pending:
                self._replay()
            else:
                self._recovered(0)
            return self._pending == 0

    def publish(self, channel: str, type_: str, data: dict) -> bool:
        return self.publish_many([(channel, type_, data)]) == 1

    def publish_many(self, messages: Iterable[tuple[str, str, dict]]) -> int:
        """Publish now, or spool behind what is already spooled.

        Returns how many of these messages reached Redis now (0 if they were spooled).
        """
        with self._lock:
            prepared = self._redis.prepare(messages)
            if not prepared:
                return 0
            self._outbox.set_meta(self._seq_key, str(prepared[-1].seq))
            if self._pending == 0 and self._due():
                try:
                    self._redis.send(prepared)
                except PublishError as error:
                    self._failed(error)
                else:
                    self._recovered(0)
                    return len(prepared)
            self._spool(prepared)
            if self._due():
                self._replay()
            return len(prepared) if self._pending == 0 else 0

    def flush(self) -> int:
        """Replay the outbox now, oldest first, until empty or Redis fails; return how many."""
        with self._lock:
            return self._replay()

    def flush_if_due(self) -> int:
        """``flush`` unless the retry back-off says Redis was tried too recently."""
        with self._lock:
            return self._replay() if self._pending and self._due() else 0

    def set_last_many(self, items: Iterable[tuple[str, dict]], ttl: int | None = None) -> bool:
        """Best effort: latest values are only a cache, so they are not spooled."""
        if self._down and not self._due():
            return False
        try:
            self._redis.set_last_many(items, ttl)
        except PublishError as error:
            with self._lock:
                self._failed(error)
            return False
        return True

    # -- internals ---------------------------------------------------------------------------

    def _spool(self, prepared: list[Prepared]) -> None:
        self._pending += self._outbox.append((p.channel, p.type, p.envelope) for p in prepared)

    def _replay(self) -> int:
        delivered = 0
        if self._pending == 0:
            return 0
        while items := self._outbox.peek(self._replay_batch):
            try:
                self._redis.send([_prepared(item) for item in items])
            except PublishError as error:
                self._failed(error)
                return delivered
            self._outbox.ack([item.id for item in items])
            self._pending -= len(items)
            delivered += len(items)
        self._pending = 0
        self._recovered(delivered)
        return delivered

    def _due(self) -> bool:
        return not self._down or self._clock() >= self._next_try

    def _failed(self, error: PublishError) -> None:
        if not self._down:  # one line per outage, not one per message
            logger.warning(
                "Redis unavailable (%s); spooling messages to %s until it answers",
                error,
                self._outbox.path,
            )
            self._down = True
        else:
            self._delay = min(self._delay * 2, self._max_retry_after)
        self._next_try = self._clock() + self._delay

    def _recovered(self, replayed: int) -> None:
        if self._down:
            logger.info("Redis answers again; replayed %d spooled messages in order", replayed)
        self._down = False
        self._delay = self._retry_after


def _prepared(item: OutboxItem) -> Prepared:
    return Prepared(item.channel, item.type, item.envelope, json.loads(item.envelope)["seq"])
