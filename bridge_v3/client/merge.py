"""Putting entries read from several streams back into the order the bridge sent them.

The bridge appends each message to the stream of its type, in ``seq`` order, one atomic
batch at a time. One ``XREAD`` over several streams is one atomic look at all of them, so a
stream that returned fewer entries than asked holds nothing older than what was returned; a
stream that returned a full ``COUNT`` may hold more. Entries from other streams are safe to
hand on only when their stream-ID millisecond is before the last one fetched from every such
truncated stream (stream IDs follow the Redis server clock, which must not step backwards).
Within what is safe, a merge by (millisecond, seq) keeps each stream's own order and each
source's seq order.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

from bridge_v3.client.events import Event, Invalid, InvalidMessage, decode, envelope_of


@dataclass(frozen=True, slots=True)
class Entry:
    """One stream entry, decoded: ``event`` or ``invalid`` is set."""

    type: str  # the stream's message type
    id: str
    ms: int
    seq: int  # 0 when the envelope gives none
    event: Event | None
    invalid: Invalid | None

    @property
    def source(self) -> str | None:
        return self.event.source if self.event else self.invalid.source

    @property
    def order(self) -> tuple[int, int]:
        return self.ms, self.seq


def read_entry(type_: str, stream: str, entry_id: bytes | str, fields: dict) -> Entry:
    entry_id = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    ms = int(entry_id.split("-", 1)[0])
    try:
        event = decode(stream, entry_id, fields)
    except InvalidMessage as error:
        source, seq = _identity(fields)
        invalid = Invalid(stream, entry_id, str(error), source, seq)
        return Entry(type_, entry_id, ms, seq or 0, None, invalid)
    return Entry(type_, entry_id, ms, event.seq, event, None)


def _identity(fields: dict) -> tuple[str | None, int | None]:
    """Source and seq of an invalid entry, when its envelope still says them."""
    try:
        _, envelope = envelope_of(fields)
    except InvalidMessage:
        return None, None
    source, seq = envelope.get("source"), envelope.get("seq")
    ok = isinstance(source, str) and isinstance(seq, int) and not isinstance(seq, bool)
    return (source, seq) if ok else (None, None)


class Merger:
    """Holds entries fetched but not yet safe to hand on."""

    def __init__(self) -> None:
        self._held: dict[str, list[Entry]] = {}

    @property
    def held(self) -> int:
        return sum(len(entries) for entries in self._held.values())

    def add(self, fetched: dict[str, list[Entry]], truncated: set[str]) -> list[Entry]:
        """Take one read's entries (by type, in stream order) and the types whose read was
        cut at COUNT; return every entry now safe, in sending order."""
        for type_, entries in fetched.items():
            self._held.setdefault(type_, []).extend(entries)
        cutoffs = [fetched[t][-1].ms for t in truncated if fetched.get(t)]
        cutoff = min(cutoffs) if cutoffs else None
        ready: list[list[Entry]] = []
        for type_, entries in self._held.items():
            count = len(entries) if cutoff is None else _count_before(entries, cutoff)
            if count:
                ready.append(entries[:count])
                self._held[type_] = entries[count:]
        return list(heapq.merge(*ready, key=lambda entry: entry.order))

    def clear(self) -> None:
        self._held.clear()


def _count_before(entries: list[Entry], cutoff: int) -> int:
    count = 0
    for entry in entries:
        if entry.ms >= cutoff:
            break
        count += 1
    return count
