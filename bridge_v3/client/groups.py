"""``GroupSubscriber``: several workers share a bridge's events (Redis consumer groups).

Each entry goes to one consumer of the group (``XREADGROUP``) and is acknowledged
(``XACK``) once handled. Entries a consumer took and never acknowledged — it died — are
claimed by the others after ``claim_idle_ms`` (``XAUTOCLAIM``), so nothing is lost. A bridge's
redelivery (a repeated ``seq``) is dropped: handled seqs are remembered per source in a
sorted set of the group, ``{prefix}:group:{group}:seen:{source}`` (the last ``SEEN_WINDOW``).
Order holds within one stream for one consumer only; gaps are for ``find_gaps``.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator

import redis

from bridge_v3.client.events import Invalid
from bridge_v3.client.merge import Entry, read_entry
from bridge_v3.client.streams import (
    KNOWN_TYPES,
    checked_symbols,
    checked_types,
    connect,
    discover_types,
    safe_url,
    stream_key,
)
from bridge_v3.client.subscriber import OUTAGE_ERRORS, log_invalid

logger = logging.getLogger(__name__)

SEEN_WINDOW = 100_000  # seqs remembered per source: far more than one redelivered batch


class GroupSubscriber:
    """One consumer (``consumer``) of the group ``group`` on the streams of ``types``.

    ``start`` ("start" or "now") is where a group created now begins; an existing group
    keeps its own position.
    """

    def __init__(
        self,
        redis_url: str,
        prefix: str,
        group: str,
        consumer: str,
        *,
        types: Iterable[str] | str | None = None,
        symbols: Iterable[str] | str | None = None,
        start: str = "start",
        count: int = 100,
        block_ms: int = 1000,
        claim_idle_ms: int = 60_000,
        on_invalid: Callable[[Invalid], None] = log_invalid,
        retry_delays: tuple[float, float] = (0.2, 10.0),
    ) -> None:
        for name, value in (("prefix", prefix), ("group", group), ("consumer", consumer)):
            if not isinstance(value, str) or not value:
                raise ValueError(f"{name}: expected a non-empty name, got {value!r}")
        if start not in ("start", "now"):
            raise ValueError(f"start: expected 'start' or 'now', got {start!r}")
        if not isinstance(claim_idle_ms, int) or claim_idle_ms < 0:
            raise ValueError(f"claim_idle_ms: expected milliseconds >= 0, got {claim_idle_ms!r}")
        self._url = safe_url(redis_url)
        self._client = connect(redis_url, block_ms=block_ms)
        self.prefix, self.group, self.consumer = prefix, group, consumer
        self.types = checked_types(types) or None
        self.symbols = checked_symbols(symbols)
        self._start, self._count, self._block_ms = start, count, block_ms
        self._claim_idle_ms = claim_idle_ms
        self._on_invalid = on_invalid
        self._retry_delays = retry_delays
        self._stop = threading.Event()
        self._running = False
        self._streams: list[str] = []
        self._own_pending_done = False
        self.stats: Counter[str] = Counter()

    def __repr__(self) -> str:
        return f"GroupSubscriber({self._url}, {self.prefix!r}, group={self.group!r}, consumer={self.consumer!r})"

    def events(self, *, drain: bool = False) -> Iterator:
        """Events for this consumer: its own unacknowledged ones first, then those claimed
        from consumers gone quiet, then new ones. Each is acknowledged when the loop asks for
        the next one or stops."""
        self._running = True
        try:
            yield from self._events(drain)
        finally:
            self._running = False
            if self._stop.is_set():
                self._client.close()

    def _events(self, drain: bool) -> Iterator:
        while not self._stop.is_set():
            entries = self._next_entries()
            if drain and entries is not None and not entries:
                return
            for entry in entries or ():
                event = self._accept(entry)
                if event is None:
                    self._ack(entry)
                    continue
                try:
                    yield event
                finally:
                    self._ack(entry, seen=True)

    def close(self) -> None:
        """Stop ``events()`` (from any thread: it returns within ``block_ms``) and release
        the connection once no loop uses it."""
        self._stop.set()
        if not self._running:
            self._client.close()

    # -- reading ---------------------------------------------------------------------------

    def _next_entries(self) -> list[Entry] | None:
        """None after an outage (try again), else what to handle (empty: nothing new)."""
        try:
            if not self._streams:
                self._join()
            if not self._own_pending_done:
                entries = self._read_group("0")
                self._own_pending_done = not entries
                if entries:
                    return entries
            return self._claim() or self._read_group(">", block=self._block_ms)
        except OUTAGE_ERRORS as error:
            self._wait_for_redis(error)
            return None

    def _join(self) -> None:
        """Create the group on every stream it reads (MKSTREAM: streams may not exist yet)."""
        types = set(self.types or KNOWN_TYPES) | (
            set() if self.types else discover_types(self._client, self.prefix)
        )
        start_id = "0" if self._start == "start" else "$"
        for type_ in sorted(types):
            key = stream_key(self.prefix, type_)
            try:
                self._client.xgroup_create(key, self.group, id=start_id, mkstream=True)
            except redis.ResponseError as error:
                if "BUSYGROUP" not in str(error):
                    raise
            self._streams.append(key)

    def _read_group(self, from_id: str, block: int | None = None) -> list[Entry]:
        reply = self._client.xreadgroup(
            self.group,
            self.consumer,
            {key: from_id for key in self._streams},
            count=self._count,
            block=block,
        )
        return self._entries(reply.items() if isinstance(reply, dict) else reply or [])

    def _claim(self) -> list[Entry]:
        """Take over entries other consumers left unacknowledged for ``claim_idle_ms``."""
        claimed: list[tuple[str, list]] = []
        for key in self._streams:
            reply = self._client.xautoclaim(
                key, self.group, self.consumer, self._claim_idle_ms, "0-0", count=self._count
            )
            items = [item for item in reply[1] if item and item[1] is not None]
            if items:
                claimed.append((key, items))
        entries = self._entries(claimed)
        self.stats["claimed"] += len(entries)
        return entries

    def _entries(self, reply) -> list[Entry]:
        head = f"{self.prefix}:stream:"
        entries = []
        for stream, items in reply:
            stream = stream.decode() if isinstance(stream, bytes) else stream
            entries += [read_entry(stream[len(head) :], stream, i, f) for i, f in items if f]
        return entries

    def _wait_for_redis(self, error: Exception) -> None:
        first, cap = self._retry_delays
        logger.warning(
            "Redis at %s unavailable (%s); the group keeps what is pending", self._url, error
        )
        attempt = 0
        while not self._stop.wait(min(cap, first * 2**attempt)):
            attempt += 1
            try:
                self._client.ping()
            except OUTAGE_ERRORS:
                continue
            self._own_pending_done = False  # read again what we held when it went away
            return

    # -- handling ----------------------------------------------------------------------------

    def _accept(self, entry: Entry):
        if entry.invalid is not None:
            self.stats["invalid"] += 1
            self._on_invalid(entry.invalid)
            return None
        event = entry.event
        if self._client.zscore(self._seen_key(event.source), event.seq) is not None:
            self.stats["repeats"] += 1
            return None
        if self.types is not None and event.type not in self.types:
            return None
        if self.symbols and event.symbol is not None and event.symbol not in self.symbols:
            return None
        self.stats["delivered"] += 1
        return event

    def _ack(self, entry: Entry, *, seen: bool = False) -> None:
        """Acknowledge (and, for a handled event, remember its seq) in one transaction."""
        pipe = self._client.pipeline(transaction=True)
        pipe.xack(stream_key(self.prefix, entry.type), self.group, entry.id)
        if seen and entry.event is not None:
            key = self._seen_key(entry.event.source)
            pipe.zadd(key, {str(entry.event.seq): entry.event.seq})
            pipe.zremrangebyrank(key, 0, -SEEN_WINDOW - 1)
        try:
            pipe.execute()
        except OUTAGE_ERRORS as error:
            # Unacknowledged, it stays pending and comes back: at-least-once, never lost.
            logger.warning(
                "Ack of %s %s failed (%s); it will come again", entry.type, entry.id, error
            )

    def _seen_key(self, source: str) -> str:
        return f"{self.prefix}:group:{self.group}:seen:{source}"
