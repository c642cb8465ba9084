"""``BridgeSubscriber``: every event of a bridge, once, in order, across restarts and outages.

It reads the streams ``{prefix}:stream:{type}`` only: first from its saved position, then
by blocking ``XREAD`` on the same cursors, so catching up and following live are one loop
with no window between them (pub/sub would lose what is published while it reconnects).
By default it reads every type's stream, to see the whole ``seq`` sequence of each source,
and hands on only the ``types`` and ``symbols`` asked for; a seq that comes again is dropped,
a seq that is in no stream is reported as a ``Gap``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator

import redis

from bridge_v3.client.events import Event, Gap, Invalid
from bridge_v3.client.merge import Entry, Merger, read_entry
from bridge_v3.client.positions import PositionStore, RedisPosition, empty_position
from bridge_v3.client.sequence import SeqTracker
from bridge_v3.client.streams import (
    KNOWN_TYPES,
    checked_symbols,
    checked_types,
    connect,
    discover_types,
    last_id,
    safe_url,
    stream_key,
)

logger = logging.getLogger(__name__)

OUTAGE_ERRORS = (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError)


def log_gap(gap: Gap) -> None:
    logger.warning(
        "Missing messages of %s: seq %d-%d (%d)", gap.source, gap.first, gap.last, gap.size
    )


def log_invalid(invalid: Invalid) -> None:
    who = f"{invalid.source}#{invalid.seq}" if invalid.seq is not None else "unknown sender"
    logger.warning("Skipped %s %s (%s): %s", invalid.stream, invalid.id, who, invalid.reason)


class BridgeSubscriber:
    """Follows one bridge deployment (``prefix``) on Redis.

    ``start`` applies to streams the saved position does not cover: ``"start"`` (everything
    the streams hold), ``"now"`` (only what comes next) or a stream ID such as
    ``"1764000000000-0"``. ``commit="auto"`` counts an event as handled when the loop asks
    for the next one or stops; ``"manual"`` waits for ``commit()``.
    """

    def __init__(
        self,
        redis_url: str,
        prefix: str = "mt5",
        *,
        types: Iterable[str] | str | None = None,
        symbols: Iterable[str] | str | None = None,
        position: PositionStore | None = None,
        start: str = "start",
        detect_gaps: bool = True,
        commit: str = "auto",
        count: int = 500,
        block_ms: int = 1000,
        on_gap: Callable[[Gap], None] = log_gap,
        on_invalid: Callable[[Invalid], None] = log_invalid,
        retry_delays: tuple[float, float] = (0.2, 10.0),
        monotonic: Callable[[], float] = time.monotonic,
        rescan_seconds: float = 60.0,
    ) -> None:
        _check_options(prefix, start, commit, count, block_ms)
        self._url = safe_url(redis_url)
        self._client = connect(redis_url, block_ms=block_ms)
        self.prefix = prefix
        self.types = checked_types(types) or None
        self.symbols = checked_symbols(symbols)
        self._position_store = position
        if isinstance(position, RedisPosition):
            position.bind(self._client)
        self._start, self._detect_gaps, self._commit = start, detect_gaps, commit
        self._count, self._block_ms = count, block_ms
        self._on_gap, self._on_invalid = on_gap, on_invalid
        self._retry_delays = retry_delays
        self._monotonic, self._rescan_seconds = monotonic, rescan_seconds
        self._stop = threading.Event()
        self._running = False
        self._merger = Merger()
        self._ready: deque[Entry] = deque()  # safe to hand on, in order, not handled yet
        self._read_ids: dict[str, str] = {}  # where the next XREAD starts, per type
        self._done_ids: dict[str, str] = {}  # last entry handled, per type (saved)
        self._tracker = SeqTracker()
        self._next_scan = 0.0
        self._loaded = False
        self._outage = False
        self.stats: Counter[str] = Counter()
        self.gaps: list[Gap] = []

    def __repr__(self) -> str:
        return f"BridgeSubscriber({self._url}, prefix={self.prefix!r}, types={self.types})"

    # -- the loop ------------------------------------------------------------------------

    def events(self, *, drain: bool = False) -> Iterator:
        """Every new event, in the order the bridge sent it, until ``close()``; with
        ``drain``, until the streams hold nothing more (one ``block_ms`` without news).
        Calling it again after leaving the loop goes on from the next event."""
        self._running = True
        try:
            yield from self._events(drain)
        finally:
            self._running = False
            if self._stop.is_set():
                self._client.close()

    def _events(self, drain: bool) -> Iterator[Event]:
        self._start_up()
        while not self._stop.is_set():
            if not self._ready:
                self._ready.extend(self._next_entries())
                if drain and not self._ready and not self._merger.held and not self._outage:
                    return
            while self._ready and not self._stop.is_set():
                entry = self._ready[0]
                event = self._accept(entry)
                if event is None:
                    self._handled(self._ready.popleft())
                elif self._commit == "manual":
                    self._handled(self._ready.popleft(), save=False)
                    yield event
                else:
                    try:
                        yield event
                    finally:  # resumed, or the loop stopped: the user has the event
                        self._handled(self._ready.popleft())

    def commit(self) -> None:
        """Save the position after every event handed on so far (``commit="manual"``)."""
        self._save()

    def close(self) -> None:
        """Stop ``events()`` (from any thread: it returns within ``block_ms``) and release
        the connection once no loop uses it."""
        self._stop.set()
        if not self._running:
            self._client.close()

    @property
    def position(self) -> dict:
        """The position as it would be saved now."""
        return {
            "v": 1,
            "streams": dict(self._done_ids),
            "seqs": dict(self._tracker.last),
        }

    # -- reading -------------------------------------------------------------------------

    def _next_entries(self) -> list[Entry]:
        try:
            self._rescan_if_due()
            reply = self._client.xread(
                {stream_key(self.prefix, t): i for t, i in self._read_ids.items()},
                count=self._count,
                block=self._block_ms,
            )
        except OUTAGE_ERRORS as error:
            self._outage = True
            self._wait_for_redis(error)
            return []
        self._outage = False
        return self._merger.add(*self._fetched(reply))

    def _fetched(self, reply) -> tuple[dict[str, list[Entry]], set[str]]:
        head = f"{self.prefix}:stream:"
        fetched: dict[str, list[Entry]] = {}
        truncated: set[str] = set()
        for stream, items in reply.items() if isinstance(reply, dict) else reply or []:
            stream = stream.decode() if isinstance(stream, bytes) else stream
            type_ = stream[len(head) :]
            entries = [read_entry(type_, stream, i, f) for i, f in items]
            if entries:
                fetched[type_] = entries
                self._read_ids[type_] = entries[-1].id
                if len(entries) >= self._count:
                    truncated.add(type_)
        self.stats["read"] += sum(len(e) for e in fetched.values())
        return fetched, truncated

    def _wait_for_redis(self, error: Exception) -> None:
        """Back off until Redis answers again; the cursors stay, so nothing is read twice."""
        first, cap = self._retry_delays
        attempt = 0
        logger.warning(
            "Redis at %s unavailable (%s); resuming from the same position", self._url, error
        )
        while not self._stop.is_set():
            if self._stop.wait(min(cap, first * 2**attempt)):
                return
            attempt += 1
            try:
                self._client.ping()
            except OUTAGE_ERRORS:
                continue
            self.stats["reconnects"] += 1
            logger.info("Redis at %s answers again after %d attempts", self._url, attempt)
            self._save()  # a Redis-kept position may have missed saves during the outage
            return

    def _rescan_if_due(self) -> None:
        """Follow types that started after we did (a newer bridge's new message kinds)."""
        now = self._monotonic()
        if now < self._next_scan:
            return
        self._next_scan = now + self._rescan_seconds
        wanted = set(self._wanted_types())
        if self._detect_gaps or self.types is None:
            wanted |= discover_types(self._client, self.prefix)
        for type_ in sorted(wanted - self._read_ids.keys()):
            self._read_ids[type_] = self._done_ids.get(type_) or self._start_id(type_)

    def _wanted_types(self) -> tuple[str, ...]:
        if self._detect_gaps or self.types is None:
            return tuple(dict.fromkeys(KNOWN_TYPES + (self.types or ())))
        return self.types

    def _start_id(self, type_: str) -> str:
        """Where a stream the saved position does not cover starts. With "now", a stream
        that appears after start-up is read from its beginning: all of it is new."""
        if self._start == "start":
            return "0-0"
        if self._start == "now":
            return "0-0" if self._loaded else last_id(self._client, stream_key(self.prefix, type_))
        return self._start

    def _start_up(self) -> None:
        while not self._loaded and not self._stop.is_set():
            try:
                self._load()
            except OUTAGE_ERRORS as error:
                self._wait_for_redis(error)

    def _load(self) -> None:
        """Resolve the starting cursors once: the saved position, else ``start``."""
        if self._loaded:
            return
        saved = self._position_store.load() if self._position_store else None
        saved = saved or empty_position()
        self._done_ids = dict(saved["streams"])
        self._tracker = SeqTracker(saved["seqs"])
        wanted = set(self._wanted_types()) | set(self._done_ids)
        if self._detect_gaps or self.types is None:
            wanted |= discover_types(self._client, self.prefix)
        for type_ in sorted(wanted):
            self._read_ids[type_] = self._done_ids.get(type_) or self._start_id(type_)
        self._loaded = True
        self._next_scan = self._monotonic() + self._rescan_seconds

    # -- handling ------------------------------------------------------------------------

    def _accept(self, entry: Entry) -> Event | None:
        """The event to hand on, or None: repeats, other types and symbols, invalid ones."""
        if entry.source is not None and entry.seq:
            verdict = self._tracker.see(entry.source, entry.seq)
            if not verdict.new:
                self.stats["repeats"] += 1
                return None
            if verdict.gap is not None and self._detect_gaps:
                self._report_gap(verdict.gap)
        if entry.invalid is not None:
            self.stats["invalid"] += 1
            self._on_invalid(entry.invalid)
            return None
        event = entry.event
        if self.types is not None and event.type not in self.types:
            return None
        if self.symbols and event.symbol is not None and event.symbol not in self.symbols:
            return None
        self.stats["delivered"] += 1
        return event

    def _report_gap(self, gap: Gap) -> None:
        self.stats["gaps"] += 1
        self.stats["missing"] += gap.size
        self.gaps.append(gap)
        self._on_gap(gap)

    def _handled(self, entry: Entry, *, save: bool = True) -> None:
        self._done_ids[entry.type] = entry.id
        if save:
            self._save()

    def _save(self) -> None:
        if self._position_store is not None and self._loaded:
            self._position_store.save(self.position)


def _check_options(prefix: str, start: str, commit: str, count: int, block_ms: int) -> None:
    if not isinstance(prefix, str) or not prefix:
        raise ValueError("prefix: expected the bridge's REDIS_PREFIX, such as 'mt5'")
    if start not in ("start", "now") and not _is_stream_id(start):
        raise ValueError(
            f"start: expected 'start', 'now' or a stream ID like 1764000000000-0, got {start!r}"
        )
    if commit not in ("auto", "manual"):
        raise ValueError(f"commit: expected 'auto' or 'manual', got {commit!r}")
    if not isinstance(count, int) or count < 1:
        raise ValueError(f"count: expected a whole number of at least 1, got {count!r}")
    if not isinstance(block_ms, int) or block_ms < 1:
        raise ValueError(f"block_ms: expected milliseconds, at least 1, got {block_ms!r}")


def _is_stream_id(text: str) -> bool:
    ms, _, n = str(text).partition("-")
    return ms.isdigit() and (n == "" or n.isdigit())
