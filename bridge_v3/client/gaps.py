"""The gap report: which ``seq`` ranges of each source are in none of the streams.

It reads every stream of a prefix over a time window (stream IDs carry the Redis server's
clock, so "the last hour" is measured on that clock) and lists, per source, the numbers
missing between the first and the last seen. A range missing there was lost by the bridge
or trimmed from the streams (``REDIS_STREAM_MAXLEN``) before anyone read it.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass

import redis

from bridge_v3.client.events import Gap
from bridge_v3.client.sequence import missing_ranges
from bridge_v3.client.streams import KNOWN_TYPES, discover_types, stream_key

CHUNK = 2000
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True, slots=True)
class SourceReport:
    source: str
    first: int
    last: int
    messages: int  # distinct seqs seen
    repeats: int  # entries whose seq was seen already
    gaps: tuple[Gap, ...]


def parse_duration(text: str, argument: str = "--since") -> float:
    """``90s``, ``15m``, ``1h``, ``2d`` -> seconds; ValueError naming ``argument`` otherwise."""
    match = _DURATION.match(str(text))
    if not match or float(match.group(1)) <= 0:
        raise ValueError(f"{argument}: expected a duration such as 30m, 1h or 2d, got {text!r}")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def find_gaps(client: redis.Redis, prefix: str, since_seconds: float) -> list[SourceReport]:
    """Per source, what the streams of ``prefix`` hold from ``since_seconds`` ago and what
    is missing in between, on the Redis server's clock."""
    seconds, micros = client.time()
    since_ms = int(seconds * 1000 + micros // 1000 - since_seconds * 1000)
    seqs: dict[str, list[int]] = defaultdict(list)
    for type_ in sorted(set(KNOWN_TYPES) | discover_types(client, prefix)):
        for source, seq in _identities(client, stream_key(prefix, type_), since_ms):
            seqs[source].append(seq)
    return [_report(source, found) for source, found in sorted(seqs.items())]


def _identities(client: redis.Redis, key: str, since_ms: int):
    """(source, seq) of every readable entry of ``key`` from ``since_ms`` on, in chunks."""
    low = f"{since_ms}-0"
    while entries := client.xrange(key, min=low, max="+", count=CHUNK):
        for _, fields in entries:
            identity = _identity(fields)
            if identity is not None:
                yield identity
        last = entries[-1][0]
        low = "(" + (last.decode() if isinstance(last, bytes) else last)


def _identity(fields: dict) -> tuple[str, int] | None:
    try:
        envelope = json.loads(fields.get(b"envelope") or fields.get("envelope") or b"")
        source, seq = envelope["source"], envelope["seq"]
    except (ValueError, KeyError, TypeError):
        return None  # not a message at all: the subscriber reports those
    if isinstance(source, str) and isinstance(seq, int) and not isinstance(seq, bool):
        return source, seq
    return None


def _report(source: str, found: list[int]) -> SourceReport:
    distinct = set(found)
    gaps = tuple(Gap(source, a, b) for a, b in missing_ranges(found))
    return SourceReport(
        source, min(distinct), max(distinct), len(distinct), len(found) - len(distinct), gaps
    )
