"""Delivery of every message: numbered in the local outbox, then sent to Redis in order.

Two ways in:

- ``stage(conn, messages)``, inside the caller's PostgreSQL transaction, for messages that
  describe the rows being committed (bars, ticks, snapshots, deals). They are inserted into
  ``pending_messages`` in that transaction, so they exist if and only if the rows do. After
  the commit, ``deliver()`` moves them into the local outbox, where they are numbered, and
  sends them. A caller that dies before ``deliver()`` loses nothing: the next ``deliver()``
  (anyone's, the periodic ``outbox`` job's, or the next start's) moves them.
- ``publish_many(messages)`` for messages tied to no row (the heartbeat): numbered in the
  local outbox at once, then sent. They flow while PostgreSQL is down.

The local outbox is the only place a ``seq`` is handed out: in the same SQLite transaction
that stores the envelope and, for a transfer, the ids of the PostgreSQL rows it came from.
So a ``kill -9`` anywhere loses no message and never gives one content two seqs: rows not
yet transferred are transferred at the next start, and an item sent but not yet acked is
sent again with its seq and text (subscribers drop a repeated seq). Sending goes oldest
first; while Redis is down everything waits (told once by the Redis ``Dependency``) and is
retried with capped back-off. Thread-safe; one per bridge.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence

from bridge_v3.exceptions import PublishError, SpoolError, StorageError, UnavailableError
from bridge_v3.services.dependency import Dependency, duration
from bridge_v3.services.outbox import Outbox, OutboxItem
from bridge_v3.services.pending_messages import Message, PendingMessages, decode
from bridge_v3.services.redis_service import Prepared, RedisService, dumps

logger = logging.getLogger(__name__)

MAX_TAIL = 10_000  # messages kept in memory for sending without reading them back


class Publisher:
    """Wraps a RedisService, the local Outbox and (optionally) the PostgreSQL staging table."""

    def __init__(
        self,
        redis: RedisService,
        outbox: Outbox,
        *,
        pending: PendingMessages | None = None,
        redis_state: Dependency | None = None,
        spool_state: Dependency | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        retry_after: float = 1.0,
        max_retry_after: float = 30.0,
        send_batch: int = 2000,
        transfer_rows: int = 200,
    ) -> None:
        self._redis = redis
        self._outbox = outbox
        self._staging = pending
        self._redis_state = redis_state or Dependency("Redis", redis.host_port)
        self._spool_state = spool_state or Dependency("Outbox", str(outbox.path))
        self._clock = clock
        self._wall_clock = wall_clock
        self._retry_after = retry_after
        self._max_retry_after = max_retry_after
        self._send_batch = send_batch
        self._transfer_rows = transfer_rows
        self._lock = threading.RLock()
        self._down = False
        self._delay = retry_after
        self._next_try = 0.0
        self._contacted = False  # Redis's seq high-water mark read since start-up
        self.sent = 0  # messages Redis accepted since start-up
        self._seq_key = f"seq:{redis.prefix}:{redis.source}"
        self._unconfirmed_key = f"seq-unconfirmed:{redis.prefix}:{redis.source}"
        self._seq = self._resume_seq()
        self._pending = len(outbox)
        # The outbox's whole content, when it was numbered in this run and nothing older waits:
        # sent from memory instead of being read back. None otherwise (then it is read back).
        self._tail: tuple[list[Prepared], int] | None = None
        self._sent_listeners: list[Callable[[Sequence[Prepared]], None]] = []

    def __repr__(self) -> str:
        return f"Publisher({self._redis!r}, {self._outbox!r}, pending={self._pending})"

    def _resume_seq(self) -> int:
        """The last seq this outbox handed out. An outbox that never numbered for this bridge
        (new, or a damaged one replaced) marks itself unconfirmed: until Redis says where
        this bridge's seq stands, what it numbers may have to be renumbered (never sent)."""
        stored = self._outbox.get_meta(self._seq_key)
        if stored is None:
            self._outbox.append([], meta={self._seq_key: "0", self._unconfirmed_key: "1"})
            return 0
        return int(stored)

    @property
    def pending(self) -> int:
        """Messages waiting in the local outbox."""
        return self._pending

    @property
    def redis(self) -> RedisService:
        return self._redis

    @property
    def redis_state(self) -> Dependency:
        return self._redis_state

    @property
    def spool_state(self) -> Dependency:
        return self._spool_state

    # -- start and stop ----------------------------------------------------------------------

    def start(self) -> bool:
        """Say what waits, move what PostgreSQL still holds, reach Redis and send everything.
        False if Redis does not answer (messages keep waiting; nothing is lost)."""
        with self._lock:
            self._report_waiting(
                "Outbox {path} holds {count} message(s) from before the start "
                "(oldest queued {age} ago): sending them first"
            )
            try:
                self._first_contact()
            except PublishError as error:
                self._redis_failed(error)
            except SpoolError as error:  # told once; the first contact is tried again
                self._spool_state.failed(error)
            moved = self._transfer()
            if moved:
                logger.info("Moved %d message(s) committed before the start to the outbox", moved)
            if self._pending and self._due():
                self._send_spooled()
            return not self._down

    def report_at_stop(self) -> None:
        """Log what is left for the next start (the last step before closing)."""
        with self._lock:
            self._report_waiting(
                "Stopping with {count} message(s) still in the outbox {path} "
                "(oldest queued {age} ago); they are sent at the next start"
            )

    def _report_waiting(self, template: str) -> None:
        try:
            count, oldest = len(self._outbox), self._outbox.oldest_queued_at()
        except SpoolError as error:
            self._spool_state.failed(error)
            return
        if count:
            age = duration(self._wall_clock() - oldest) if oldest is not None else "an unknown time"
            logger.info(template.format(path=self._outbox.path, count=count, age=age))

    # -- the two ways in ---------------------------------------------------------------------

    def stage(self, conn, messages: Iterable[Message]) -> int:
        """Write ``(channel, type, data)`` messages into the caller's open PostgreSQL
        transaction ``conn``. Call ``deliver()`` after the commit. Returns how many."""
        if self._staging is None:
            raise RuntimeError("this Publisher was built without a PostgreSQL staging table")
        return self._staging.stage(conn, messages)

    def deliver(self) -> int:
        """Move committed staged messages into the outbox, then send what waits if Redis may
        be tried now. Never raises for an unavailable PostgreSQL, Redis or outbox: what
        cannot move now waits and moves later. Returns how many messages were sent."""
        with self._lock:
            try:
                self._transfer()
            except StorageError as error:  # not an outage (a full pool, a refused query)
                logger.warning("Staged messages not moved yet (%s); they move later", error)
            return self._send_spooled() if self._pending and self._due() else 0

    def publish(self, channel: str, type_: str, data: dict) -> bool:
        return self.publish_many([(channel, type_, data)]) == 1

    def publish_many(self, messages: Iterable[Message]) -> int:
        """Number messages tied to no database row and send them behind what waits.

        Returns how many of these messages reached Redis now (0 if they wait).
        """
        encoded = [(channel, type_, dumps(data)) for channel, type_, data in messages]
        if not encoded:
            return 0
        with self._lock:
            try:
                self._number(encoded)
            except SpoolError as error:
                self._spool_state.failed(error)
                return 0
            if self._due():
                self._send_spooled()
            return len(encoded) if self._pending == 0 else 0

    def flush(self) -> int:
        """Send what waits now, oldest first, until empty or Redis fails; return how many."""
        with self._lock:
            return self._send_spooled()

    def flush_if_due(self) -> int:
        """``deliver``, for the periodic job: staged rows left behind and the outbox."""
        return self.deliver()

    def set_last_many(self, items: Iterable[tuple[str, dict]], ttl: int | None = None) -> bool:
        """Best effort: latest values are only a cache, so they do not wait in the outbox."""
        if self._down and not self._due():
            return False
        try:
            self._redis.set_last_many(items, ttl)
        except PublishError as error:
            with self._lock:
                self._redis_failed(error)
            return False
        return True

    # -- numbering and transfer ----------------------------------------------------------------

    def _number(
        self,
        messages: Sequence[tuple[str, str, str]],
        transferred: tuple[str, list[int]] | None = None,
    ) -> None:
        """Envelopes with the next seqs, stored in one outbox transaction (with the ids of
        the PostgreSQL rows they came from); the seq advances only once that committed."""
        ts = self._redis.timestamp()
        first = self._seq + 1
        rows = [
            (channel, type_, self._redis.envelope_text(type_, data, seq, ts), seq)
            for seq, (channel, type_, data) in enumerate(messages, start=first)
        ]
        last = first + len(rows) - 1
        last_id = self._outbox.append(
            rows, meta={self._seq_key: str(last)}, transferred=transferred
        )
        self._seq = last
        self._remember_tail([Prepared(*row) for row in rows], last_id)
        self._pending += len(rows)
        self._spool_state.succeeded()

    def _remember_tail(self, prepared: list[Prepared], last_id: int) -> None:
        if not prepared:
            return
        if self._pending == 0:
            self._tail = (prepared, last_id)
        elif self._tail is not None and len(self._tail[0]) < MAX_TAIL:
            self._tail = (self._tail[0] + prepared, last_id)
        else:
            self._tail = None  # a long outage: read back from the outbox, memory stays flat

    def _transfer(self) -> int:
        """Move committed ``pending_messages`` rows into the outbox, oldest first."""
        if self._staging is None:
            return 0
        moved = 0
        try:
            while rows := self._staging.read(self._transfer_rows):
                moved += self._transfer_rows_once(rows)
                if len(rows) < self._transfer_rows:
                    break
        except UnavailableError:
            pass  # told by the PostgreSQL tracker; the rows wait there
        except SpoolError as error:
            self._spool_state.failed(error)
        return moved

    def _transfer_rows_once(self, rows) -> int:
        source = self._staging.source
        done = self._outbox.transferred(source)
        fresh = [row for row in rows if row.id not in done]
        messages = [message for row in fresh for message in decode(row.messages)]
        if fresh:
            self._number(messages, transferred=(source, [row.id for row in fresh]))
        # Only now may PostgreSQL forget them; a crash before this point finds them in
        # ``transferred`` at the next start, and they are not numbered twice.
        ids = [row.id for row in rows]
        self._staging.delete(ids)
        self._outbox.forget_transferred(source, ids)
        return len(messages)

    # -- sending -------------------------------------------------------------------------------

    def _first_contact(self) -> None:
        """Once per run, before anything is sent: read Redis's seq high-water mark, renumber
        the items of an unconfirmed outbox after it, and number later messages after it."""
        if self._contacted:
            return
        self._redis.start()
        high = self._redis.seq
        if self._outbox.get_meta(self._unconfirmed_key) is not None:
            self._renumber_after(high)
        elif high > self._seq:
            self._outbox.set_meta(self._seq_key, str(high))
            self._seq = high
        self._contacted = True

    def _renumber_after(self, high: int) -> None:
        source = self._redis.source

        def shifted(item: OutboxItem) -> tuple[str, int] | None:
            envelope = json.loads(item.envelope)
            if envelope.get("source") != source:
                return None
            envelope["seq"] += high
            return dumps(envelope), envelope["seq"]

        self._tail = None  # its envelopes carry the old numbers
        # The new numbers and the note that they are final go in one transaction: a crash
        # in between would shift them twice and open a false gap.
        count = self._outbox.rewrite(
            shifted if high else lambda item: None,
            meta={self._seq_key: str(self._seq + high)},
            forget=[self._unconfirmed_key],
        )
        self._seq += high
        if count:
            logger.warning(
                "Outbox %s was new: its %d unsent message(s) are renumbered after seq %d, "
                "where this bridge's messages on Redis end",
                self._outbox.path,
                count,
                high,
            )

    def _send_spooled(self) -> int:
        """Send what waits, oldest first, until empty or a failure; return how many went."""
        sent = 0
        try:
            self._first_contact()
            if self._tail is not None and len(self._tail[0]) == self._pending:
                sent += self._send_and_ack(*self._tail)
            self._tail = None
            while self._pending and (items := self._outbox.peek(self._send_batch)):
                sent += self._send_and_ack([_prepared(item) for item in items], items[-1].id)
            self._pending = 0  # the loop ends only when nothing waits
        except PublishError as error:
            self._redis_failed(error)
            return sent
        except SpoolError as error:
            self._spool_state.failed(error)
            return sent
        self._redis_recovered(sent)
        return sent

    def _send_and_ack(self, prepared: list[Prepared], last_id: int) -> int:
        self._redis.send(prepared)
        self._outbox.ack_through(last_id)
        self._pending = max(0, self._pending - len(prepared))
        self.sent += len(prepared)
        for listener in self._sent_listeners:
            listener(prepared)
        return len(prepared)

    def on_sent(self, listener: Callable[[Sequence[Prepared]], None]) -> None:
        """Tell ``listener`` of every batch Redis accepted (what the metrics count)."""
        self._sent_listeners.append(listener)

    def _due(self) -> bool:
        return not self._down or self._clock() >= self._next_try

    def _redis_failed(self, error: PublishError) -> None:
        self._redis_state.failed(error.__cause__ or error)  # the tracker names host:port
        if self._down:
            self._delay = min(self._delay * 2, self._max_retry_after)
        self._down = True
        self._next_try = self._clock() + self._delay

    def _redis_recovered(self, sent: int) -> None:
        self._redis_state.succeeded(lambda: f"{sent} waiting message(s) sent in order")
        self._down = False
        self._delay = self._retry_after


def _prepared(item: OutboxItem) -> Prepared:
    seq = item.seq if item.seq is not None else json.loads(item.envelope)["seq"]
    return Prepared(item.channel, item.type, item.envelope, seq)
